/* optim.c: AdamW as torch.optim.AdamW computes it (single-tensor path), gradient zeroing and global-norm
 * clipping as torch.nn.utils.clip_grad_norm_.
 *
 * The arithmetic follows PyTorch's order of operations element by element: the scalar factors are
 * computed in double (they are Python floats there) and rounded to float where PyTorch's kernels
 * round them, and each element is updated in float32. What it leaves out: amsgrad, maximize, and the
 * foreach/fused variants (which round differently). */
#include "retrace/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many elements a buffer is updated on one thread: waking the OpenMP team costs more than
 * the update of a small norm or bias vector. */
#define ADAMW_PARALLEL_MIN_NUMEL 32768
/* Squared norms are summed in fixed chunks whose partial sums are added in order, so the norm (and
 * therefore every clipped gradient) is the same whatever the thread count: a run resumed on another
 * machine continues bit for bit. */
#define NORM_CHUNK_NUMEL 8192
/* torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing. */
#define CLIP_NORM_EPS 1e-6f

rt_adamw_params rt_adamw_params_default(void) {
    rt_adamw_params p = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    return p;
}

rt_status rt_adamw_params_check(const rt_adamw_params *p) {
    if (!(p->lr >= 0.0f) || !isfinite(p->lr)) return rt_fail(RT_ERR_ARG, "adamw: lr %g must be >= 0", p->lr);
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f))
        return rt_fail(RT_ERR_ARG, "adamw: beta1 %g must be in [0, 1)", p->beta1);
    if (!(p->beta2 >= 0.0f && p->beta2 < 1.0f))
        return rt_fail(RT_ERR_ARG, "adamw: beta2 %g must be in [0, 1)", p->beta2);
    if (!(p->eps >= 0.0f) || !isfinite(p->eps)) return rt_fail(RT_ERR_ARG, "adamw: eps %g must be >= 0", p->eps);
    if (!(p->weight_decay >= 0.0f) || !isfinite(p->weight_decay))
        return rt_fail(RT_ERR_ARG, "adamw: weight_decay %g must be >= 0", p->weight_decay);
    return RT_OK;
}

/* Checkpoints match tensors by name, so every parameter needs a distinct, non-empty one. */
static rt_status check_params(const rt_param *params, int n_params) {
    if (n_params < 0 || (n_params > 0 && !params))
        return rt_fail(RT_ERR_ARG, "adamw: invalid parameter list (%d parameters)", n_params);
    for (int i = 0; i < n_params; i++) {
        const rt_param *q = &params[i];
        if (!q->name || !q->name[0]) return rt_fail(RT_ERR_ARG, "adamw: parameter %d has no name", i);
        if (q->numel > 0 && (!q->data || !q->grad))
            return rt_fail(RT_ERR_ARG, "adamw: parameter '%s' has no %s buffer", q->name, q->data ? "grad" : "data");
        for (int j = 0; j < i; j++)
            if (strcmp(params[j].name, q->name) == 0)
                return rt_fail(RT_ERR_ARG, "adamw: parameter name '%s' is used twice", q->name);
    }
    return RT_OK;
}

rt_status rt_adamw_init(rt_adamw *opt, rt_param *params, int n_params, rt_adamw_params p) {
    memset(opt, 0, sizeof(*opt));
    RT_TRY(rt_adamw_params_check(&p));
    RT_TRY(check_params(params, n_params));
    opt->p = p;
    opt->params = params;
    opt->n_params = n_params;
    opt->m = rt_calloc((size_t)(n_params > 0 ? n_params : 1), sizeof(float *));
    opt->v = rt_calloc((size_t)(n_params > 0 ? n_params : 1), sizeof(float *));
    for (int i = 0; i < n_params; i++) {
        size_t n = params[i].numel;
        opt->m[i] = rt_alloc_floats(n);
        opt->v[i] = rt_alloc_floats(n);
        memset(opt->m[i], 0, n * sizeof(float));
        memset(opt->v[i], 0, n * sizeof(float));
    }
    opt->step = 0;
    return RT_OK;
}

void rt_adamw_free(rt_adamw *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n_params; i++) {
        if (opt->m) rt_free_aligned(opt->m[i]);
        if (opt->v) rt_free_aligned(opt->v[i]);
    }
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof(*opt));
}

/* The per-step scalars, rounded to float exactly where PyTorch hands them to a float32 kernel. */
typedef struct {
    float decay_mul;     /* param.mul_(1 - lr * wd) */
    float m_weight;      /* exp_avg.lerp_(grad, 1 - beta1) */
    float beta2;         /* exp_avg_sq.mul_(beta2) */
    float v_weight;      /* .addcmul_(grad, grad, value=1 - beta2) */
    float bc2_sqrt;      /* exp_avg_sq.sqrt() / sqrt(1 - beta2^t) */
    float eps;           /* .add_(eps) */
    float neg_step_size; /* param.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1^t)) */
} adamw_scalars;

/* The double a user meant by a float hyperparameter: the shortest decimal that reads back as the same
 * float (0.9f -> 0.9). PyTorch holds betas as Python doubles, and 1 - 0.9 rounds to 0.1f where
 * 1 - (double)0.9f does not; the difference grows wherever the moments cancel. */
static double float_as_decimal(float x) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)x);
        if (strtof(buf, NULL) == x) return strtod(buf, NULL);
    }
    return (double)x;
}

static adamw_scalars adamw_scalars_at(const rt_adamw_params *p, double lr, int64_t step) {
    double b1 = float_as_decimal(p->beta1), b2 = float_as_decimal(p->beta2);
    double bc1 = 1.0 - pow(b1, (double)step);
    double bc2 = 1.0 - pow(b2, (double)step);
    adamw_scalars s;
    s.decay_mul = (float)(1.0 - lr * float_as_decimal(p->weight_decay));
    s.m_weight = (float)(1.0 - b1);
    s.beta2 = p->beta2;
    s.v_weight = (float)(1.0 - b2);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.eps = p->eps;
    s.neg_step_size = (float)(-(lr / bc1));
    return s;
}

/* One element, in PyTorch's order of operations and roundings:
 *   param.mul_(1 - lr*wd); exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
 *   param.addcdiv_(exp_avg, exp_avg_sq.sqrt() / bc2_sqrt + eps, value=-step_size).
 * Its vectorised CPU kernels compute lerp as fma(w, end - self, self) (for |w| < 0.5, else
 * fma(w - 1, end - self, end)), and the compiler fuses addcmul's multiply-add; with both fused here the
 * moments agree with PyTorch bit for bit. A multiply by decay_mul == 1 is exact, so parameters without
 * decay take the same path. (The loop stays scalar: sqrtf's errno path blocks vectorisation, and the
 * update costs about 1% of a LoRA training step.) */
static void adamw_update(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                         size_t n, adamw_scalars s, int decay) {
    const float decay_mul = decay ? s.decay_mul : 1.0f;
    const int lerp_small = fabsf(s.m_weight) < 0.5f;
    const float lerp_coef = lerp_small ? s.m_weight : s.m_weight - 1.0f;
#pragma omp parallel for schedule(static) num_threads(rt_threads()) if (n >= ADAMW_PARALLEL_MIN_NUMEL)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i], mi = m[i];
        mi = fmaf(lerp_coef, gi - mi, lerp_small ? mi : gi);
        float vi = fmaf(s.v_weight * gi, gi, v[i] * s.beta2);
        float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
        m[i] = mi;
        v[i] = vi;
        /* Separate statements: a compiler that contracts within an expression must not fuse these. */
        float pi = p[i] * decay_mul;
        p[i] = pi + s.neg_step_size * mi / denom;
    }
}

void rt_adamw_step(rt_adamw *opt, float lr) {
    opt->step++;
    adamw_scalars s = adamw_scalars_at(&opt->p, (double)lr, opt->step);
    for (int i = 0; i < opt->n_params; i++) {
        rt_param *q = &opt->params[i];
        adamw_update(q->data, q->grad, opt->m[i], opt->v[i], q->numel, s, q->decay && opt->p.weight_decay != 0.0f);
    }
}

void rt_params_zero_grad(rt_param *params, int n_params) {
    for (int i = 0; i < n_params; i++)
        if (params[i].numel > 0) memset(params[i].grad, 0, params[i].numel * sizeof(float));
}

/* Sum of squares of one chunk with SUM_LANES independent accumulators (combined in a fixed order), so
 * the compiler can vectorise it without reassociating anything. */
#define SUM_LANES 8
static double chunk_sum_squares(const float *g, size_t n) {
    double lane[SUM_LANES] = {0};
    size_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) lane[j] += (double)g[i + j] * (double)g[i + j];
    for (; i < n; i++) lane[0] += (double)g[i] * (double)g[i];
    double acc = 0.0;
    for (int j = 0; j < SUM_LANES; j++) acc += lane[j];
    return acc;
}

static double sum_squares(const float *g, size_t n) {
    size_t n_chunks = (n + NORM_CHUNK_NUMEL - 1) / NORM_CHUNK_NUMEL;
    if (n_chunks <= 1) return chunk_sum_squares(g, n);
    double *partial = rt_malloc(n_chunks * sizeof(double));
#pragma omp parallel for schedule(static) num_threads(rt_threads()) if (n >= ADAMW_PARALLEL_MIN_NUMEL)
    for (size_t c = 0; c < n_chunks; c++) {
        size_t lo = c * NORM_CHUNK_NUMEL, hi = lo + NORM_CHUNK_NUMEL < n ? lo + NORM_CHUNK_NUMEL : n;
        partial[c] = chunk_sum_squares(g + lo, hi - lo);
    }
    double total = 0.0;
    for (size_t c = 0; c < n_chunks; c++) total += partial[c];
    free(partial);
    return total;
}

static void scale(float *g, size_t n, float coef) {
#pragma omp parallel for schedule(static) num_threads(rt_threads()) if (n >= ADAMW_PARALLEL_MIN_NUMEL)
    for (size_t i = 0; i < n; i++) g[i] *= coef;
}

float rt_params_clip_grad_norm(rt_param *params, int n_params, float max_norm) {
    double sq = 0.0;
    for (int i = 0; i < n_params; i++) sq += sum_squares(params[i].grad, params[i].numel);
    float total = (float)sqrt(sq);
    if (max_norm > 0.0f) {
        /* As torch: coef = max_norm / (norm + 1e-6) in float32, applied only when it shrinks. */
        float coef = max_norm / (total + CLIP_NORM_EPS);
        if (coef < 1.0f)
            for (int i = 0; i < n_params; i++) scale(params[i].grad, params[i].numel, coef);
    }
    return total;
}
