/* st_convert.c: safetensors dtypes, exact half-precision conversions, and reading a tensor as
 * float32 or int32 with a shape check.
 *
 * Tensor bytes are little-endian (the format says so) and may be unaligned (old files pad nothing), so
 * every element is loaded with memcpy, which compilers turn into a plain load. Large tensors are
 * converted in parallel with OpenMP. */
#include "st_internal.h"

#include <inttypes.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "retrace reads safetensors data in place and assumes a little-endian host"
#endif

/* Below this many elements a conversion is not worth waking the thread team. */
#define ST_PARALLEL_MIN_ELEMS (1 << 18)

static const struct {
    const char *name;
    size_t size;
    int rank; /* the Python library's dtype order; it writes larger ranks first */
} g_dtypes[] = {
    [RT_DTYPE_F32] = {"F32", 4, 7}, [RT_DTYPE_F16] = {"F16", 2, 4}, [RT_DTYPE_BF16] = {"BF16", 2, 5},
    [RT_DTYPE_F64] = {"F64", 8, 8}, [RT_DTYPE_I64] = {"I64", 8, 9}, [RT_DTYPE_I32] = {"I32", 4, 6},
    [RT_DTYPE_I16] = {"I16", 2, 3}, [RT_DTYPE_I8] = {"I8", 1, 2},   [RT_DTYPE_U8] = {"U8", 1, 1},
    [RT_DTYPE_BOOL] = {"BOOL", 1, 0},
};
#define ST_NDTYPES ((int)(sizeof g_dtypes / sizeof g_dtypes[0]))

const char *rt_dtype_name(rt_dtype d) { return (int)d >= 0 && (int)d < ST_NDTYPES ? g_dtypes[d].name : "?"; }
size_t rt_dtype_size(rt_dtype d) { return (int)d >= 0 && (int)d < ST_NDTYPES ? g_dtypes[d].size : 0; }
int rt_st_dtype_rank(rt_dtype d) { return (int)d >= 0 && (int)d < ST_NDTYPES ? g_dtypes[d].rank : -1; }

int rt_st_dtype_parse(const char *s, rt_dtype *out) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(s, g_dtypes[i].name) == 0) {
            *out = (rt_dtype)i;
            return 1;
        }
    return 0;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* bfloat16 is the top half of a float32, so widening is a shift. */
float rt_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t rt_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    /* A NaN could round to infinity if its payload sits only in the low bits; force a quiet bit. */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    /* Round to nearest even: add just under half an ulp, plus one when the kept part is odd. */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float rt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1fu) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf, or NaN with its payload */
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in float32. */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    /* Rebias the exponent from 15 to 127. */
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t rt_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u >= 0x7f800000u) return sign | (u > 0x7f800000u ? 0x7e00u : 0x7c00u); /* NaN stays NaN, inf stays inf */
    /* 65520 is halfway between the largest half (65504) and 2^16; ties go to even, which is infinity. */
    if (u >= 0x477ff000u) return sign | 0x7c00u;
    if (u < 0x38800000u) {
        /* Below 2^-14 the result is subnormal: adding 0.5 lines the half's ulp (2^-24) up with the float's
         * last mantissa bit, so the FPU's own round-to-nearest-even does the rounding. */
        float r = bits_f32(u) + 0.5f;
        return sign | (uint16_t)(f32_bits(r) - 0x3f000000u);
    }
    /* Normal: rebias the exponent, then round away the low 13 mantissa bits to nearest even. A carry out
     * of the mantissa correctly bumps the exponent. */
    uint32_t odd = (u >> 13) & 1u;
    u += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
    return sign | (uint16_t)(u >> 13);
}

/* ---- bulk conversion ---- */

/* Loads element i of type T from possibly unaligned `src` into v and stores EXPR into dst[i]. */
#define ST_WIDEN(T, EXPR)                                          \
    for (int64_t i = 0; i < n; i++) {                              \
        T v;                                                       \
        memcpy(&v, src + (size_t)i * sizeof v, sizeof v);          \
        dst[i] = (EXPR);                                           \
    }
#define ST_WIDEN_PARALLEL(T, EXPR)                                 \
    _Pragma("omp parallel for if (n >= ST_PARALLEL_MIN_ELEMS) schedule(static)") \
    ST_WIDEN(T, EXPR)

static void to_f32(const rt_st_tensor *t, float *dst) {
    const uint8_t *src = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case RT_DTYPE_F32: if (n) memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case RT_DTYPE_BF16: ST_WIDEN_PARALLEL(uint16_t, rt_bf16_to_f32(v)) break;
    case RT_DTYPE_F16: ST_WIDEN_PARALLEL(uint16_t, rt_f16_to_f32(v)) break;
    case RT_DTYPE_F64: ST_WIDEN_PARALLEL(double, (float)v) break;
    case RT_DTYPE_I64: ST_WIDEN(int64_t, (float)v) break;
    case RT_DTYPE_I32: ST_WIDEN(int32_t, (float)v) break;
    case RT_DTYPE_I16: ST_WIDEN(int16_t, (float)v) break;
    case RT_DTYPE_I8: ST_WIDEN(int8_t, (float)v) break;
    case RT_DTYPE_U8: ST_WIDEN(uint8_t, (float)v) break;
    case RT_DTYPE_BOOL: ST_WIDEN(uint8_t, v ? 1.0f : 0.0f) break;
    }
}

/* Integer tensors into int32; I64 values must fit. Floating dtypes are refused rather than truncated. */
static rt_status to_i32(const rt_st_tensor *t, const char *qname, int32_t *dst) {
    const uint8_t *src = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case RT_DTYPE_I64:
        for (int64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, src + (size_t)i * sizeof v, sizeof v);
            if (v < INT32_MIN || v > INT32_MAX)
                return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': element %" PRId64 " = %" PRId64 " does not fit in int32",
                               t->file, qname, i, v);
            dst[i] = (int32_t)v;
        }
        return RT_OK;
    case RT_DTYPE_I32: if (n) memcpy(dst, src, (size_t)n * sizeof(int32_t)); return RT_OK;
    case RT_DTYPE_I16: ST_WIDEN(int16_t, (int32_t)v) return RT_OK;
    case RT_DTYPE_I8: ST_WIDEN(int8_t, (int32_t)v) return RT_OK;
    case RT_DTYPE_U8: ST_WIDEN(uint8_t, (int32_t)v) return RT_OK;
    case RT_DTYPE_BOOL: ST_WIDEN(uint8_t, v ? 1 : 0) return RT_OK;
    default:
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not an integer type", t->file, qname,
                       rt_dtype_name(t->dtype));
    }
}

/* Finds `name` and checks its shape against the caller's expectation. */
static rt_status lookup(const rt_st_file *f, const char *name, int ndim, const int64_t *shape, const void *dst,
                        const rt_st_tensor **out, char qname[RT_ST_QUOTE_BYTES]) {
    if (!f || !name || (!shape && ndim > 0) || ndim < 0 || !dst)
        return rt_fail(RT_ERR_ARG, "%s: reading tensor: invalid arguments", f ? f->path : "safetensors");
    rt_st_quote(name, qname);
    const rt_st_tensor *t = rt_st_find(f, name);
    if (!t) return rt_fail(RT_ERR_NOT_FOUND, "%s: tensor '%s': not found", f->path, qname);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[200], got[200];
        /* An expected shape deeper than the format allows is printed only as far as we can. */
        int wn = ndim > RT_ST_MAX_DIMS ? RT_ST_MAX_DIMS : ndim;
        return rt_fail(RT_ERR_SHAPE, "%s: tensor '%s': expected shape %s, file has %s", t->file, qname,
                       rt_st_shape_str(wn, shape, want, sizeof want), rt_st_shape_str(t->ndim, t->shape, got, sizeof got));
    }
    *out = t;
    return RT_OK;
}

rt_status rt_st_read_f32(const rt_st_file *f, const char *name, float *dst, int ndim, const int64_t *shape) {
    const rt_st_tensor *t;
    char qname[RT_ST_QUOTE_BYTES];
    RT_TRY(lookup(f, name, ndim, shape, dst, &t, qname));
    to_f32(t, dst);
    return RT_OK;
}

rt_status rt_st_read_i32(const rt_st_file *f, const char *name, int32_t *dst, int ndim, const int64_t *shape) {
    const rt_st_tensor *t;
    char qname[RT_ST_QUOTE_BYTES];
    RT_TRY(lookup(f, name, ndim, shape, dst, &t, qname));
    return to_i32(t, qname, dst);
}
