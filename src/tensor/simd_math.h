/* simd_math.h: element functions written so compilers vectorise them, for the bf16 training mode.
 *
 * rt_fast_expf: an exp (libm's expf is a call per element) for the loss and activations. Within 2 ulp of expf on [-87, 88]; arguments below -87 give
 * exp(-87) (1.6e-38, nothing next to the 1 a softmax row or sigmoid adds it to), above 88 give exp(88);
 * NaN stays NaN. Only bit operations on integers, so no float-to-int conversion of NaN. */
#ifndef RT_SIMD_MATH_H
#define RT_SIMD_MATH_H

#include <stdint.h>
#include <string.h>

static inline float rt_fast_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2) lands in the low mantissa bits of t (1.5 * 2^23 shifts it there). */
    const float shifter = 12582912.0f;
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    /* r = x - n ln2 in two steps (ln2 split hi + lo), |r| <= ln2/2. */
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    /* e^r by its Taylor series to degree 7: the remainder is below 2e-8 relative on |r| <= ln2/2. */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n built in the exponent field: n is in [-126, 127], so the scale is a normal float. */
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t sb = 0x3F800000u + ((tb - 0x4B400000u) << 23);
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    return p * scale;
}

/* float32 -> bfloat16, round to nearest even, NaN stays NaN (quiet): the same bits as the scalar
 * rt_f32_to_bf16 of the safetensors module, without a call. */
static inline uint16_t rt_bf16_round1(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)rounded;
}

/* A short run of values (a row of a block): no OpenMP region, which costs more than the rounding. */
static inline void rt_bf16_round_row(uint16_t *dst, const float *src, int n) {
    for (int i = 0; i < n; i++) dst[i] = rt_bf16_round1(src[i]);
}

#endif
