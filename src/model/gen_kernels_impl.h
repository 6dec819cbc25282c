/* gen_kernels_impl.h: the inference kernels' bodies, compiled twice (gen_kernels_avx2.c with AVX2+FMA,
 * gen_kernels_generic.c for any x86-64) and chosen at run time by gen_kernels.c. GEN_KFN names each
 * exported kernel for its variant. The kernels: the linear layer (float32 or bfloat16 weights, float32
 * activations and sums) and one query row's attention over a KV cache.
 *
 * Both compute each output as a dot product in one fixed order (8 lanes across the inner dimension, the
 * lanes summed in a fixed tree, then the tail), whatever the number of rows, the tile an element falls
 * in or the thread that runs it, so batched, chunked and one-at-a-time decoding agree bit for bit.
 * BLAS gives no such promise (its M = 1 path is a gemv with another order). The linear layer is
 * register-tiled (3 rows x 4 outputs) so a weight row is read once per tile of rows: decoding B
 * sequences together reads the weights once per token for all of them. */
#include <math.h>
#include <string.h>

#include "model/gen_internal.h"
#include "tensor/simd_math.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 v8;
static inline v8 v8_zero(void) { return _mm256_setzero_ps(); }
static inline v8 v8_set1(float a) { return _mm256_set1_ps(a); }
static inline v8 v8_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void v8_store(float *p, v8 a) { _mm256_storeu_ps(p, a); }
static inline v8 v8_load_bf16(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
static inline v8 v8_fma(v8 a, v8 b, v8 c) { return _mm256_fmadd_ps(a, b, c); }
static inline v8 v8_add(v8 a, v8 b) { return _mm256_add_ps(a, b); }
static inline v8 v8_sub(v8 a, v8 b) { return _mm256_sub_ps(a, b); }
static inline v8 v8_mul(v8 a, v8 b) { return _mm256_mul_ps(a, b); }
static inline v8 v8_max(v8 a, v8 b) { return _mm256_max_ps(a, b); }
static inline float v8_hmax(v8 a) {
    float t[8];
    _mm256_storeu_ps(t, a);
    float m = t[0];
    for (int i = 1; i < 8; i++) m = t[i] > m ? t[i] : m;
    return m;
}
/* rt_fast_expf on 8 lanes, the same operations in the same order (so the same bits). */
static inline v8 v8_exp(v8 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), shifter);
    __m256 n = _mm256_sub_ps(t, shifter);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693145751953125f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(1.428606765330187e-06f)));
    static const float c[7] = {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    for (int i = 0; i < 7; i++) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(c[i]));
    __m256i sb = _mm256_add_epi32(_mm256_set1_epi32(0x3F800000),
                                  _mm256_slli_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000)), 23));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(sb));
}
static inline float v8_sum(v8 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#else
/* Portable lanes: the same structure, so the same determinism, without intrinsics. */
typedef struct {
    float f[8];
} v8;
static inline v8 v8_zero(void) { return (v8){{0}}; }
static inline v8 v8_set1(float a) { return (v8){{a, a, a, a, a, a, a, a}}; }
static inline v8 v8_load(const float *p) {
    v8 r;
    memcpy(r.f, p, sizeof r.f);
    return r;
}
static inline void v8_store(float *p, v8 a) { memcpy(p, a.f, sizeof a.f); }
static inline v8 v8_load_bf16(const uint16_t *p) {
    v8 r;
    for (int i = 0; i < 8; i++) {
        uint32_t u = (uint32_t)p[i] << 16;
        memcpy(&r.f[i], &u, sizeof u);
    }
    return r;
}
static inline v8 v8_fma(v8 a, v8 b, v8 c) {
    for (int i = 0; i < 8; i++) c.f[i] = fmaf(a.f[i], b.f[i], c.f[i]);
    return c;
}
static inline v8 v8_add(v8 a, v8 b) {
    for (int i = 0; i < 8; i++) a.f[i] += b.f[i];
    return a;
}
static inline v8 v8_max(v8 a, v8 b) {
    for (int i = 0; i < 8; i++) a.f[i] = b.f[i] > a.f[i] ? b.f[i] : a.f[i];
    return a;
}
static inline float v8_hmax(v8 a) {
    float m = a.f[0];
    for (int i = 1; i < 8; i++) m = a.f[i] > m ? a.f[i] : m;
    return m;
}
static inline v8 v8_exp(v8 x) {
    for (int i = 0; i < 8; i++) x.f[i] = rt_fast_expf(x.f[i]);
    return x;
}
static inline v8 v8_sub(v8 a, v8 b) {
    for (int i = 0; i < 8; i++) a.f[i] -= b.f[i];
    return a;
}
static inline v8 v8_mul(v8 a, v8 b) {
    for (int i = 0; i < 8; i++) a.f[i] *= b.f[i];
    return a;
}
static inline float v8_sum(v8 a) {
    float s[4];
    for (int i = 0; i < 4; i++) s[i] = a.f[i] + a.f[i + 4];
    float lo = s[0] + s[2], hi = s[1] + s[3];
    return lo + hi;
}
#endif

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define MR 3          /* rows per register tile */
#define NR 4          /* outputs per register tile */
#define COL_CHUNK 16  /* outputs per parallel work item */
#define ROW_BLOCK 48  /* rows whose inputs stay in L2 while a chunk's weights sweep them */

/* res (mr x NR) = x rows . w rows over K, for mr <= MR rows and nr <= NR outputs. Inlined with constant
 * mr, nr for full tiles so the 12 accumulators live in registers. */
#define DEF_TILE(NAME, WT, LOADW, WCONV)                                                                      \
    static inline __attribute__((always_inline)) void NAME(const float *x, int ldx, const WT *w, int ldw,  \
                                                          int K, int mr, int nr, float *res) {            \
        v8 acc[MR][NR];                                                                                    \
        for (int i = 0; i < MR; i++)                                                                       \
            for (int j = 0; j < NR; j++) acc[i][j] = v8_zero();                                            \
        int K8 = K & ~7;                                                                                   \
        for (int k = 0; k < K8; k += 8) {                                                                  \
            v8 xv[MR];                                                                                     \
            for (int i = 0; i < mr; i++) xv[i] = v8_load(x + (size_t)i * ldx + k);                         \
            for (int j = 0; j < nr; j++) {                                                                 \
                v8 wv = LOADW(w + (size_t)j * ldw + k);                                                    \
                for (int i = 0; i < mr; i++) acc[i][j] = v8_fma(xv[i], wv, acc[i][j]);                     \
            }                                                                                              \
        }                                                                                                  \
        for (int i = 0; i < mr; i++)                                                                       \
            for (int j = 0; j < nr; j++) {                                                                 \
                float s = v8_sum(acc[i][j]);                                                               \
                for (int k = K8; k < K; k++) s += x[(size_t)i * ldx + k] * WCONV(w[(size_t)j * ldw + k]);  \
                res[i * NR + j] = s;                                                                       \
            }                                                                                              \
    }

#define F32_ID(a) (a)
DEF_TILE(tile_f32, float, v8_load, F32_ID)
DEF_TILE(tile_bf16, uint16_t, v8_load_bf16, bf16_to_f32)

/* One tile through a specialisation with constant sizes for every row count of a full-width tile (a
 * batch's last tile has 1 or 2 rows). */
static void tile_any(const float *x, int K, const float *w, const uint16_t *wb, int mr, int nr, float *res) {
    if (wb) {
        if (mr == MR && nr == NR) tile_bf16(x, K, wb, K, K, MR, NR, res);
        else if (mr == 1 && nr == NR) tile_bf16(x, K, wb, K, K, 1, NR, res);
        else if (mr == 2 && nr == NR) tile_bf16(x, K, wb, K, K, 2, NR, res);
        else tile_bf16(x, K, wb, K, K, mr, nr, res);
    } else {
        if (mr == MR && nr == NR) tile_f32(x, K, w, K, K, MR, NR, res);
        else if (mr == 1 && nr == NR) tile_f32(x, K, w, K, K, 1, NR, res);
        else if (mr == 2 && nr == NR) tile_f32(x, K, w, K, K, 2, NR, res);
        else tile_f32(x, K, w, K, K, mr, nr, res);
    }
}

void GEN_KFN(rt_gen_linear)(float *out, int ldo, const float *x, int N, int K, const float *w, const uint16_t *wb,
                   const float *bias, int O, int accumulate) {
    int n_chunks = (O + COL_CHUNK - 1) / COL_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)N * K * O > 200000)
    for (int c = 0; c < n_chunks; c++) {
        int j0 = c * COL_CHUNK, j1 = j0 + COL_CHUNK < O ? j0 + COL_CHUNK : O;
        float res[MR * NR];
        for (int r0 = 0; r0 < N; r0 += ROW_BLOCK) {
            int r1 = r0 + ROW_BLOCK < N ? r0 + ROW_BLOCK : N;
            for (int j = j0; j < j1; j += NR) {
                int nr = j1 - j < NR ? j1 - j : NR;
                const float *wj = w ? w + (size_t)j * K : NULL;
                const uint16_t *wbj = wb ? wb + (size_t)j * K : NULL;
                for (int i = r0; i < r1; i += MR) {
                    int mr = r1 - i < MR ? r1 - i : MR;
                    tile_any(x + (size_t)i * K, K, wj, wbj, mr, nr, res);
                    for (int a = 0; a < mr; a++)
                        for (int b = 0; b < nr; b++) {
                            float s = res[a * NR + b] + (bias ? bias[j + b] : 0.0f);
                            float *o = out + (size_t)(i + a) * ldo + j + b;
                            *o = accumulate ? *o + s : s;
                        }
                }
            }
        }
    }
}

/* Dot products of q with 4 keys at once (4 independent chains hide the FMA latency); each key's sum is
 * the same as dot1's. */
static inline float dot1(const float *a, const float *b, int n) {
    int n8 = n & ~7;
    v8 acc = v8_zero();
    for (int c = 0; c < n8; c += 8) acc = v8_fma(v8_load(a + c), v8_load(b + c), acc);
    float s = v8_sum(acc);
    for (int c = n8; c < n; c++) s += a[c] * b[c];
    return s;
}

static void dot4(const float *q, const float *k, int stride, int n, float *s) {
    int n8 = n & ~7;
    v8 a0 = v8_zero(), a1 = v8_zero(), a2 = v8_zero(), a3 = v8_zero();
    for (int c = 0; c < n8; c += 8) {
        v8 qv = v8_load(q + c);
        a0 = v8_fma(qv, v8_load(k + c), a0);
        a1 = v8_fma(qv, v8_load(k + stride + c), a1);
        a2 = v8_fma(qv, v8_load(k + 2 * (size_t)stride + c), a2);
        a3 = v8_fma(qv, v8_load(k + 3 * (size_t)stride + c), a3);
    }
    v8 acc[4] = {a0, a1, a2, a3};
    for (int j = 0; j < 4; j++) {
        const float *kj = k + (size_t)j * stride;
        float t = v8_sum(acc[j]);
        for (int c = n8; c < n; c++) t += q[c] * kj[c];
        s[j] = t;
    }
}

/* Softmax in place over n scores scaled by `scale`: max, exp and sum on 8 lanes (scalar loops would be
 * one long dependent chain), the tail the same way per element. */
static void softmax_scaled(float *sc, int n, float scale) {
    int n8 = n & ~7, j;
    v8 vm = v8_set1(-INFINITY);
    for (j = 0; j < n8; j += 8) vm = v8_max(vm, v8_load(sc + j));
    float mx = v8_hmax(vm);
    for (j = n8; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
    float smx = mx * scale;
    v8 vs = v8_zero(), vscale = v8_set1(scale), vsmx = v8_set1(smx);
    for (j = 0; j < n8; j += 8) {
        v8 e = v8_exp(v8_sub(v8_mul(v8_load(sc + j), vscale), vsmx));
        v8_store(sc + j, e);
        vs = v8_add(vs, e);
    }
    float sum = v8_sum(vs);
    for (j = n8; j < n; j++) sum += (sc[j] = rt_fast_expf(sc[j] * scale - smx));
    float inv = 1.0f / sum;
    v8 vinv = v8_set1(inv);
    for (j = 0; j < n8; j += 8) v8_store(sc + j, v8_mul(v8_load(sc + j), vinv));
    for (j = n8; j < n; j++) sc[j] *= inv;
}

#define PV_HEADS 3 /* query heads whose outputs share one pass over V */
#define PV_VECS 4  /* 8-float columns per pass: 3 x 4 accumulators stay in registers */

/* o_g[c0 .. c0 + 8 nv) = sum_j p_g[j] v_j over those columns, for ng <= PV_HEADS heads at once: each
 * v row is loaded once for all of them. */
static inline __attribute__((always_inline)) void pv_pass(float *const *o, const float *const *p, const float *v,
                                                        int stride, int lo, int hi, int ng, int nv) {
    v8 acc[PV_HEADS][PV_VECS];
    for (int g = 0; g < ng; g++)
        for (int u = 0; u < nv; u++) acc[g][u] = v8_zero();
    for (int j = lo; j <= hi; j++) {
        const float *vj = v + (size_t)j * stride;
        for (int u = 0; u < nv; u++) {
            v8 vv = v8_load(vj + 8 * u);
            for (int g = 0; g < ng; g++) acc[g][u] = v8_fma(v8_set1(p[g][j]), vv, acc[g][u]);
        }
    }
    for (int g = 0; g < ng; g++)
        for (int u = 0; u < nv; u++) v8_store(o[g] + 8 * u, acc[g][u]);
}

void GEN_KFN(rt_gen_attend_group)(float *o, const float *q, int G, const float *k, const float *v, int kv_stride, int lo,
                         int pos, int hd, float *scores) {
    float scale = 1.0f / sqrtf((float)hd);
    int n = pos - lo + 1, j = lo;
    /* scores of the G heads, key block by key block so each block of keys is read from memory once */
    for (; j + 3 <= pos; j += 4)
        for (int g = 0; g < G; g++)
            dot4(q + (size_t)g * hd, k + (size_t)j * kv_stride, kv_stride, hd, scores + (size_t)g * n + (j - lo));
    for (; j <= pos; j++)
        for (int g = 0; g < G; g++) scores[(size_t)g * n + (j - lo)] = dot1(q + (size_t)g * hd, k + (size_t)j * kv_stride, hd);
    for (int g = 0; g < G; g++) softmax_scaled(scores + (size_t)g * n, n, scale);
    int hd8 = hd & ~7;
    for (int g0 = 0; g0 < G; g0 += PV_HEADS) {
        int ng = G - g0 < PV_HEADS ? G - g0 : PV_HEADS;
        float *os[PV_HEADS];
        const float *ps[PV_HEADS];
        for (int g = 0; g < ng; g++) os[g] = o + (size_t)(g0 + g) * hd, ps[g] = scores + (size_t)(g0 + g) * n - lo;
        for (int c0 = 0; c0 < hd8; c0 += 8 * PV_VECS) {
            int nv = (hd8 - c0) / 8 < PV_VECS ? (hd8 - c0) / 8 : PV_VECS;
            float *oc[PV_HEADS];
            for (int g = 0; g < ng; g++) oc[g] = os[g] + c0;
            if (ng == PV_HEADS && nv == PV_VECS) pv_pass(oc, ps, v + c0, kv_stride, lo, pos, PV_HEADS, PV_VECS);
            else pv_pass(oc, ps, v + c0, kv_stride, lo, pos, ng, nv);
        }
        for (int c = hd8; c < hd; c++)
            for (int g = 0; g < ng; g++) {
                float s = 0.0f;
                for (j = lo; j <= pos; j++) s += ps[g][j] * v[(size_t)j * kv_stride + c];
                os[g][c] = s;
            }
    }
}
