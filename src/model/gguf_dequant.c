/* gguf_dequant.c: ggml's tensor types to float32, block by block, as ggml's reference kernels and
 * the `gguf` Python package (gguf.quants.dequantize) compute them.
 *
 * Bit-for-bit agreement with the reference needs the same float operations in the same order and no
 * fused multiply-adds, so each product is its own statement and contraction is off. Layouts (from
 * ggml-common.h): a block is a few f16 scales followed by packed integers; K-quants group 256 values
 * into 8 or 16 sub-blocks with 6-bit (Q4_K, Q5_K) or 8-bit (Q6_K) sub-block scales. Not covered: Q2_K,
 * Q3_K, the IQ and TQ families, Q8_1 and Q8_K (the last two are activation-only formats). */
#include <string.h>

#include "retrace/gguf.h"
#include "retrace/safetensors.h"

#ifdef __clang__ /* gcc in ISO C mode never contracts; clang needs telling */
#pragma STDC FP_CONTRACT OFF
#endif

/* Below this many blocks a conversion is not worth waking the thread team. */
#define DEQUANT_PARALLEL_MIN_BLOCKS 4096
#define QK 32   /* elements in a Q4_0 .. Q8_0 block */
#define QK_K 256 /* elements in a K-quant super-block */

static float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return rt_f16_to_f32(h);
}

static void block_q8_0(const uint8_t *b, float *y) {
    float d = f16(b);
    for (int j = 0; j < QK; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

static void block_q4_0(const uint8_t *b, float *y) {
    float d = f16(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)((qs[j] & 0xF) - 8) * d;
        y[j + QK / 2] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void block_q4_1(const uint8_t *b, float *y) {
    float d = f16(b), m = f16(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        float lo = (float)(qs[j] & 0xF) * d, hi = (float)(qs[j] >> 4) * d;
        y[j] = lo + m;
        y[j + QK / 2] = hi + m;
    }
}

/* Q5: the fifth bit of element j comes from bit j of the 32-bit qh. */
static void block_q5(const uint8_t *b, float *y, int has_min) {
    float d = f16(b), m = has_min ? f16(b + 2) : 0.0f;
    const uint8_t *p = b + (has_min ? 4 : 2);
    uint32_t qh;
    memcpy(&qh, p, 4);
    const uint8_t *qs = p + 4;
    int offset = has_min ? 0 : 16;
    for (int j = 0; j < QK / 2; j++) {
        int x0 = (int)((qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - offset;
        int x1 = (int)((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - offset;
        float lo = (float)x0 * d, hi = (float)x1 * d;
        y[j] = has_min ? lo + m : lo;
        y[j + QK / 2] = has_min ? hi + m : hi;
    }
}

/* The 6-bit scale and min of sub-block j (0..7), packed into 12 bytes. */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K (qh == NULL) and Q5_K: d, dmin, scales[12], [qh[32]], qs[128]. */
static void block_q45_k(const uint8_t *b, float *y, int five) {
    float d = f16(b), dmin = f16(b + 2);
    const uint8_t *scales = b + 4, *qh = five ? b + 16 : NULL, *q = b + (five ? 48 : 16);
    for (int j = 0; j < QK_K / 64; j++) {
        int sc1, m1, sc2, m2;
        scale_min_k4(2 * j, scales, &sc1, &m1);
        scale_min_k4(2 * j + 1, scales, &sc2, &m2);
        float d1 = d * (float)sc1, min1 = dmin * (float)m1;
        float d2 = d * (float)sc2, min2 = dmin * (float)m2;
        for (int l = 0; l < 32; l++) {
            int lo = q[l] & 0xF, hi = q[l] >> 4;
            if (five) {
                lo += (qh[l] >> (2 * j)) & 1 ? 16 : 0;
                hi += (qh[l] >> (2 * j + 1)) & 1 ? 16 : 0;
            }
            float a = d1 * (float)lo, c = d2 * (float)hi;
            y[64 * j + l] = a - min1;
            y[64 * j + 32 + l] = c - min2;
        }
        q += 32;
    }
}

/* Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d. */
static void block_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = f16(b + 208);
    for (int n = 0; n < QK_K / 128; n++) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            float s1 = d * (float)sc[is], s2 = d * (float)sc[is + 2], s3 = d * (float)sc[is + 4], s4 = d * (float)sc[is + 6];
            y[l] = s1 * (float)q1;
            y[l + 32] = s2 * (float)q2;
            y[l + 64] = s3 * (float)q3;
            y[l + 96] = s4 * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

static void block_scalar(rt_ggml_type type, const uint8_t *b, float *y) {
    uint16_t h;
    switch (type) {
    case RT_GGML_F32: memcpy(y, b, 4); break;
    case RT_GGML_F16: memcpy(&h, b, 2); *y = rt_f16_to_f32(h); break;
    default: memcpy(&h, b, 2); *y = rt_bf16_to_f32(h); break;
    }
}

static void dequant_block(rt_ggml_type type, const uint8_t *b, float *y) {
    switch (type) {
    case RT_GGML_Q8_0: block_q8_0(b, y); break;
    case RT_GGML_Q4_0: block_q4_0(b, y); break;
    case RT_GGML_Q4_1: block_q4_1(b, y); break;
    case RT_GGML_Q5_0: block_q5(b, y, 0); break;
    case RT_GGML_Q5_1: block_q5(b, y, 1); break;
    case RT_GGML_Q4_K: block_q45_k(b, y, 0); break;
    case RT_GGML_Q5_K: block_q45_k(b, y, 1); break;
    case RT_GGML_Q6_K: block_q6_k(b, y); break;
    default: block_scalar(type, b, y); break;
    }
}

static int supported(rt_ggml_type t) {
    switch (t) {
    case RT_GGML_F32: case RT_GGML_F16: case RT_GGML_BF16: case RT_GGML_Q8_0: case RT_GGML_Q4_0: case RT_GGML_Q4_1:
    case RT_GGML_Q5_0: case RT_GGML_Q5_1: case RT_GGML_Q4_K: case RT_GGML_Q5_K: case RT_GGML_Q6_K: return 1;
    default: return 0;
    }
}

rt_status rt_gguf_dequantize(rt_ggml_type type, const void *src, float *dst, int64_t n) {
    if (!supported(type)) {
        const char *name = rt_ggml_type_name(type);
        return rt_fail(RT_ERR_UNSUPPORTED, "tensor type %s (%d) cannot be dequantized (supported: F32, F16, BF16, Q8_0, "
                       "Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", name ? name : "unknown", (int)type);
    }
    int64_t blk = rt_ggml_block_elems(type);
    size_t bytes = rt_ggml_block_bytes(type);
    if (n < 0 || n % blk) return rt_fail(RT_ERR_ARG, "dequantize: %lld elements is not a whole number of %s blocks", (long long)n, rt_ggml_type_name(type));
    int64_t nb = n / blk;
    const uint8_t *s = src;
#pragma omp parallel for schedule(static) if (nb >= DEQUANT_PARALLEL_MIN_BLOCKS)
    for (int64_t i = 0; i < nb; i++) dequant_block(type, s + (size_t)i * bytes, dst + i * blk);
    return RT_OK;
}

rt_status rt_gguf_tensor_to_f32(const rt_gguf *g, const rt_gguf_tensor *t, float *dst, int64_t numel) {
    if (t->numel != numel)
        return rt_fail(RT_ERR_SHAPE, "%s: tensor '%s' holds %lld elements, expected %lld", rt_gguf_path(g), t->name,
                       (long long)t->numel, (long long)numel);
    if (rt_gguf_dequantize(t->type, t->data, dst, numel) != RT_OK)
        return rt_fail_context(RT_ERR_UNSUPPORTED, "%s: tensor '%s'", rt_gguf_path(g), t->name);
    return RT_OK;
}
