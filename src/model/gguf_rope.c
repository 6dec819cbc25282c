/* gguf_rope.c: Llama 3's RoPE scaling from a GGUF file.
 *
 * llama.cpp has no metadata key for llama3 scaling: its converter (and retrace's writer) stores the
 * per-frequency divisors as the tensor `rope_freqs.weight` (llama.cpp rotates by inv_freq_i /
 * rope_freqs[i]). retrace runs llama3 scaling from its parameters, so they are recovered from the
 * divisors, and the divisors those parameters give are checked against every one in the file; a tensor
 * that is not llama3's shape (LongRoPE-style free factors) is refused, naming it.
 *
 * The divisors fix `factor` (the largest) and, for the frequencies between the two plateaus, the
 * line s(w) = (L/w - low)/(high - low) in 1/wavelength. Only the ratios L/low and L/high matter,
 * so low_freq_factor is taken as 1 (as every Llama 3.x has) and L (original_max_position_embeddings)
 * and high_freq_factor are solved from two interpolated frequencies; with one, high is taken as 4
 * (Llama 3's); with none, any L and high that put the plateaus' wavelengths on the right sides
 * reproduce the file, and the geometric middle is taken. */
#include <math.h>
#include <stdlib.h>

#include "model/gguf_rope.h"

#define TWO_PI 6.283185307179586
/* rope_freqs is float32; llama3's formula recomputed from the recovered parameters agrees to ~1e-7. */
#define REL_TOL 1e-5

typedef struct {
    int n;                      /* head_dim / 2 */
    const double *w, *d;        /* wavelength 2*pi/inv_freq and divisor of each frequency */
    double factor;
    double keep_max, div_min;   /* longest kept wavelength, shortest divided one (0 / INFINITY if none) */
    int mid[2], n_mid;          /* first and last interpolated frequency */
} rope_fit;

static int near(double a, double b) { return fabs(a - b) <= REL_TOL * fabs(b); }

/* s in [0, 1] of an interpolated frequency: 1/d = (1 - s)/factor + s. */
static double smooth_of(const rope_fit *f, int i) { return (1.0 / f->d[i] - 1.0 / f->factor) / (1.0 - 1.0 / f->factor); }

static void classify(rope_fit *f) {
    f->factor = 1;
    for (int i = 0; i < f->n; i++) f->factor = f->d[i] > f->factor ? f->d[i] : f->factor;
    f->keep_max = 0;
    f->div_min = INFINITY;
    f->n_mid = 0;
    for (int i = 0; i < f->n; i++) {
        if (near(f->d[i], 1.0)) f->keep_max = fmax(f->keep_max, f->w[i]);
        else if (near(f->d[i], f->factor)) f->div_min = fmin(f->div_min, f->w[i]);
        else {
            if (f->n_mid++ == 0) f->mid[0] = i;
            f->mid[1] = i;
        }
    }
}

/* The recovered values carry float32's rounding (63.99998 for 64); configs hold whole numbers
 * (original_max_position_embeddings is an integer), so a value that close to one is taken as it. The
 * check that follows confirms the divisors either way. */
static double snap(double x) { return fabs(x - nearbyint(x)) <= 1e-4 * fabs(x) ? nearbyint(x) : x; }

/* Fills p (kind, factor, low, high, original_max_pos) from the classified divisors; 0 when no
 * positive solution exists (the check that follows then names the tensor). */
static int solve(const rope_fit *f, rt_rope_params *p) {
    p->kind = RT_ROPE_LLAMA3;
    p->factor = f->factor;
    p->low_freq_factor = 1.0;
    if (f->n_mid >= 2) {
        /* s_k * high - L / w_k = s_k - 1 for the two interpolated frequencies. */
        int a = f->mid[0], b = f->mid[1];
        double sa = smooth_of(f, a), sb = smooth_of(f, b), det = -sa / f->w[b] + sb / f->w[a];
        if (fabs(det) < 1e-30) return 0;
        p->high_freq_factor = ((sa - 1) * (-1.0 / f->w[b]) - (sb - 1) * (-1.0 / f->w[a])) / det;
        p->original_max_pos = (sa * (sb - 1) - sb * (sa - 1)) / det;
    } else if (f->n_mid == 1) {
        int a = f->mid[0];
        p->high_freq_factor = 4.0;
        p->original_max_pos = f->w[a] * (3.0 * smooth_of(f, a) + 1.0);
    } else {
        double hi = f->div_min, lo = f->keep_max > 0 ? f->keep_max : hi / 16;
        p->original_max_pos = hi * cbrt(lo / hi);
        p->high_freq_factor = cbrt(hi / lo);
    }
    p->factor = snap(p->factor);
    p->high_freq_factor = snap(p->high_freq_factor);
    p->original_max_pos = snap(p->original_max_pos);
    return p->original_max_pos > 0 && p->high_freq_factor > 1 && isfinite(p->original_max_pos);
}

/* The divisors p gives, checked against the file's; -1 when all agree, else the first that differs. */
static int check(const rope_fit *f, int head_dim, const rt_rope_params *p, double *got) {
    float *plain = malloc(sizeof(float) * (size_t)f->n * 2), *scaled = plain + f->n;
    rt_rope_params p0 = *p;
    p0.kind = RT_ROPE_DEFAULT;
    rt_rope_inv_freq(plain, head_dim, &p0);
    rt_rope_inv_freq(scaled, head_dim, p);
    int bad = -1;
    for (int i = 0; i < f->n && bad < 0; i++) {
        *got = (double)plain[i] / scaled[i];
        if (!near(*got, f->d[i])) bad = i;
    }
    free(plain);
    return bad;
}

static rt_status fit(const char *path, int head_dim, double theta, const float *div, rt_rope_params *rope) {
    int n = head_dim / 2;
    double *w = malloc(sizeof(double) * (size_t)n * 2), *d = w + n;
    for (int i = 0; i < n; i++) {
        w[i] = TWO_PI * pow(theta, (double)(2 * i) / head_dim);
        d[i] = div[i];
    }
    rope_fit f = {.n = n, .w = w, .d = d};
    classify(&f);
    rt_status s = RT_OK;
    rt_rope_params p = *rope;
    double got = 0;
    int bad = -2;
    if (f.factor > 1 && solve(&f, &p)) bad = check(&f, head_dim, &p, &got);
    if (f.factor <= 1) {
        /* All ones: no scaling. */
    } else if (bad == -1) {
        *rope = p;
    } else if (bad == -2) {
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' is not Llama 3's rope scaling (no llama3 parameters give its factors)", path);
    } else {
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' is not Llama 3's rope scaling: factor %d is %.7g, llama3 scaling "
                    "(factor %g) gives %.7g", path, bad, d[bad], f.factor, got);
    }
    free(w);
    return s;
}

rt_status rt_gguf_read_rope_freqs(const rt_gguf *g, int head_dim, rt_rope_params *rope) {
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, "rope_freqs.weight");
    if (!t) return RT_OK;
    if (rope->kind != RT_ROPE_DEFAULT)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' together with rope scaling keys is not supported", rt_gguf_path(g));
    int n = head_dim / 2;
    if (t->n_dims != 1 || t->ne[0] != n)
        return rt_fail(RT_ERR_SHAPE, "%s: tensor 'rope_freqs.weight' has %lld elements in %d dimensions, expected [%d] (head dim / 2)",
                       rt_gguf_path(g), (long long)t->ne[0], t->n_dims, n);
    float *div = malloc(sizeof(float) * (size_t)n);
    rt_status s = rt_gguf_tensor_to_f32(g, t, div, n);
    for (int i = 0; s == RT_OK && i < n; i++)
        if (!(div[i] >= 1.0f && div[i] < 1e6f))
            s = rt_fail(RT_ERR_FORMAT, "%s: tensor 'rope_freqs.weight': factor %d is %g, outside [1, 1e6)", rt_gguf_path(g), i, div[i]);
    if (s == RT_OK) s = fit(rt_gguf_path(g), head_dim, rope->theta, div, rope);
    free(div);
    return s;
}
