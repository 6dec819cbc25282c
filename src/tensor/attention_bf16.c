/* attention_bf16.c: causal grouped-query attention with its products in bf16 (AMX through oneDNN), for
 * the bf16 training mode, as PyTorch's bf16 autocast runs attention.
 *
 * The blocks of attention.c (query rows in blocks, only the keys a block can see), but each batch row's
 * q, k, v (and output gradient) are first rounded to bf16 in head-major order, so that every product
 * reads and writes dense matrices: oneDNN runs strided views with a kernel without AMX, measured 2.5-7x
 * slower than the dense ones. Scores, softmax and its backward stay float32; the probabilities and their
 * gradient are rounded per block for the products; every sum is float32. */
#include <string.h>

#include "retrace/tensor.h"
#include "tensor/attn_internal.h"

#define RT_ATTN_BF16_BLOCK 128

static int min_int(int a, int b) { return a < b ? a : b; }

/* Carves the scratch (in floats): bf16 q, k, v, dout of one batch row in head-major order; a float block
 * of scores and one of outputs; two bf16 blocks; float head-major dk and dv. */
typedef struct {
    uint16_t *q16, *k16, *v16, *do16, *p16, *ds16;
    float *sblk, *oblk, *dkh, *dvh;
} attn_scratch;

static size_t carve(const rt_attn_shape *s, float *base, attn_scratch *sc) {
    size_t T = (size_t)s->T, hd = (size_t)s->head_dim, nh = (size_t)s->n_heads, nkv = (size_t)s->n_kv_heads;
    size_t blk = (size_t)min_int(s->T, RT_ATTN_BF16_BLOCK);
    size_t off = 0; /* in floats; bf16 arrays take half as many, rounded up to keep 64-byte alignment */
#define TAKE16(ptr, n)                                                    \
    do {                                                                  \
        if (base) (ptr) = (uint16_t *)(base + off);                       \
        off += (((n) + 1) / 2 + 15) / 16 * 16;                            \
    } while (0)
#define TAKE32(ptr, n)                   \
    do {                                 \
        if (base) (ptr) = base + off;    \
        off += ((n) + 15) / 16 * 16;     \
    } while (0)
    TAKE16(sc->q16, nh * T * hd);
    TAKE16(sc->k16, nkv * T * hd);
    TAKE16(sc->v16, nkv * T * hd);
    TAKE16(sc->do16, nh * T * hd);
    TAKE16(sc->p16, blk * T);
    TAKE16(sc->ds16, blk * T);
    TAKE32(sc->sblk, blk * T);
    TAKE32(sc->oblk, blk * hd);
    TAKE32(sc->dkh, nkv * T * hd);
    TAKE32(sc->dvh, nkv * T * hd);
#undef TAKE16
#undef TAKE32
    return off;
}

size_t rt_attention_bf16_scratch(const rt_attn_shape *s) {
    attn_scratch sc;
    return carve(s, NULL, &sc);
}

/* x (T, heads, hd) of batch row b -> dst (heads, T, hd) in bf16. */
static void gather_heads(uint16_t *dst, const float *x, int T, int heads, int hd) {
#pragma omp parallel for if ((size_t)T * heads * hd > 65536)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < heads; h++)
            rt_bf16_round_row(dst + ((size_t)h * T + t) * hd, x + ((size_t)t * heads + h) * hd, hd);
}

/* Dense (rows, hd) block -> rows r0.. of head h in x (T, heads, hd). */
static void scatter_rows(float *x, const float *blk, int r0, int rows, int h, int heads, int hd) {
    for (int i = 0; i < rows; i++) memcpy(x + ((size_t)(r0 + i) * heads + h) * hd, blk + (size_t)i * hd, sizeof(float) * hd);
}

/* Softmax of query row `row` from its scores S over the block's keys c0..c1-1 (S[j - c0] is key j): the
 * probabilities go to P (same indexing) and, rounded, to P16; keys outside [lo, row] get 0. Only the
 * block's keys are written: the backward pass reads no others, and zeroing whole rows of T cost more than
 * the softmax itself. */
static void softmax_block_row(float *P, uint16_t *P16, const float *S, int row, int c0, int c1, int window) {
    int lo = first_visible(row, window), n = row + 1 - lo;
    const float *sv = S + (lo - c0);
    float mx = -INFINITY, sum = 0.0f;
    for (int j = 0; j < n; j++) mx = sv[j] > mx ? sv[j] : mx;
    float *pv = P + (lo - c0);
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        pv[j] = rt_fast_expf(sv[j] - mx);
        sum += pv[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) pv[j] *= inv;
    for (int j = c0; j < lo; j++) P[j - c0] = 0.0f;
    for (int j = row + 1; j < c1; j++) P[j - c0] = 0.0f;
    rt_bf16_round_row(P16, P, c1 - c0);
}

rt_status rt_attention_forward_bf16(float *out, float *probs, const float *q, const float *k, const float *v,
                                    const rt_attn_shape *s, float *scratch) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    attn_scratch sc;
    carve(s, scratch, &sc);
    for (int b = 0; b < s->B; b++) {
        size_t qrow = (size_t)b * T * nh * hd, krow = (size_t)b * T * nkv * hd;
        gather_heads(sc.q16, q + qrow, T, nh, hd);
        gather_heads(sc.k16, k + krow, T, nkv, hd);
        gather_heads(sc.v16, v + krow, T, nkv, hd);
        for (int h = 0; h < nh; h++) {
            const uint16_t *qh = sc.q16 + (size_t)h * T * hd;
            const uint16_t *kh = sc.k16 + (size_t)(h / group) * T * hd, *vh = sc.v16 + (size_t)(h / group) * T * hd;
            float *P = probs + ((size_t)b * nh + h) * T * T;
            for (int r0 = 0; r0 < T; r0 += RT_ATTN_BF16_BLOCK) {
                int rows = min_int(T - r0, RT_ATTN_BF16_BLOCK);
                int c0 = first_visible(r0, s->window), c1 = r0 + rows, nc = c1 - c0;
                /* S = scale q k^T over the visible keys, dense (rows, nc) */
                RT_TRY(rt_gemm_bf16_ex(0, 1, rows, nc, hd, scale, qh + (size_t)r0 * hd, hd, kh + (size_t)c0 * hd, hd, 0.0f,
                                       sc.sblk, nc));
#pragma omp parallel for if ((size_t)rows * T > 16384)
                for (int i = 0; i < rows; i++)
                    softmax_block_row(P + (size_t)(r0 + i) * T + c0, sc.p16 + (size_t)i * nc, sc.sblk + (size_t)i * nc,
                                      r0 + i, c0, c1, s->window);
                RT_TRY(rt_gemm_bf16_ex(0, 0, rows, hd, nc, 1.0f, sc.p16, nc, vh + (size_t)c0 * hd, hd, 0.0f, sc.oblk, hd));
                scatter_rows(out + qrow, sc.oblk, r0, rows, h, nh, hd);
            }
        }
    }
    return RT_OK;
}

rt_status rt_attention_backward_bf16(float *dq, float *dk, float *dv, const float *dout, const float *probs,
                                     const float *q, const float *k, const float *v, const rt_attn_shape *s,
                                     float *scratch) {
    int T = s->T, hd = s->head_dim, nh = s->n_heads, nkv = s->n_kv_heads, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    attn_scratch sc;
    carve(s, scratch, &sc);
    for (int b = 0; b < s->B; b++) {
        size_t qrow = (size_t)b * T * nh * hd, krow = (size_t)b * T * nkv * hd;
        gather_heads(sc.q16, q + qrow, T, nh, hd);
        gather_heads(sc.k16, k + krow, T, nkv, hd);
        gather_heads(sc.v16, v + krow, T, nkv, hd);
        gather_heads(sc.do16, dout + qrow, T, nh, hd);
        memset(sc.dkh, 0, sizeof(float) * (size_t)nkv * T * hd);
        memset(sc.dvh, 0, sizeof(float) * (size_t)nkv * T * hd);
        for (int h = 0; h < nh; h++) {
            int g = h / group;
            const uint16_t *qh = sc.q16 + (size_t)h * T * hd, *doh = sc.do16 + (size_t)h * T * hd;
            const uint16_t *kh = sc.k16 + (size_t)g * T * hd, *vh = sc.v16 + (size_t)g * T * hd;
            float *dkg = sc.dkh + (size_t)g * T * hd, *dvg = sc.dvh + (size_t)g * T * hd;
            const float *P = probs + ((size_t)b * nh + h) * T * T;
            for (int r0 = 0; r0 < T; r0 += RT_ATTN_BF16_BLOCK) {
                int rows = min_int(T - r0, RT_ATTN_BF16_BLOCK);
                int c0 = first_visible(r0, s->window), c1 = r0 + rows, nc = c1 - c0;
                /* dP = dO V^T (dense rows x nc); dV += P^T dO */
                RT_TRY(rt_gemm_bf16_ex(0, 1, rows, nc, hd, 1.0f, doh + (size_t)r0 * hd, hd, vh + (size_t)c0 * hd, hd, 0.0f,
                                       sc.sblk, nc));
#pragma omp parallel for if ((size_t)rows * T > 16384)
                for (int i = 0; i < rows; i++)
                    rt_bf16_round_row(sc.p16 + (size_t)i * nc, P + (size_t)(r0 + i) * T + c0, nc);
                RT_TRY(rt_gemm_bf16_ex(1, 0, nc, hd, rows, 1.0f, sc.p16, nc, doh + (size_t)r0 * hd, hd, 1.0f,
                                       dvg + (size_t)c0 * hd, hd));
                /* dS = P * (dP - rowsum(P dP)), rounded for the products */
#pragma omp parallel for if ((size_t)rows * T > 16384)
                for (int i = 0; i < rows; i++) {
                    float *d = sc.sblk + (size_t)i * nc;
                    softmax_backward_row(d, P + (size_t)(r0 + i) * T, r0 + i, c0, c1, s->window);
                    rt_bf16_round_row(sc.ds16 + (size_t)i * nc, d, nc);
                }
                /* dQ = scale dS K; dK += scale dS^T Q */
                RT_TRY(rt_gemm_bf16_ex(0, 0, rows, hd, nc, scale, sc.ds16, nc, kh + (size_t)c0 * hd, hd, 0.0f, sc.oblk, hd));
                scatter_rows(dq + qrow, sc.oblk, r0, rows, h, nh, hd);
                RT_TRY(rt_gemm_bf16_ex(1, 0, nc, hd, rows, scale, sc.ds16, nc, qh + (size_t)r0 * hd, hd, 1.0f,
                                       dkg + (size_t)c0 * hd, hd));
            }
        }
        for (int g = 0; g < nkv; g++)
            for (int t = 0; t < T; t++) {
                size_t dst = krow + ((size_t)t * nkv + g) * hd, src = ((size_t)g * T + t) * hd;
                memcpy(dk + dst, sc.dkh + src, sizeof(float) * hd);
                memcpy(dv + dst, sc.dvh + src, sizeof(float) * hd);
            }
    }
    return RT_OK;
}
