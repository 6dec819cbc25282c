/* gguf_get.c: GGUF type tables, typed metadata getters, array iteration and tensor lookup.
 *
 * The parser (gguf.c) has checked every length, so these functions only interpret bytes it vouched
 * for. Lookups are linear: a file holds a few dozen keys and a few hundred tensors, looked up once. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "base/gguf_internal.h"

typedef struct {
    const char *name;
    int64_t blck;
    size_t bytes;
} ggml_type_info;

/* ggml's block layouts (ggml-common.h): elements per block and bytes per block. Types retrace cannot
 * dequantize are still listed so that a file holding them opens and the error names the tensor. */
static const ggml_type_info GGML_TYPES[] = {
    [RT_GGML_F32] = {"F32", 1, 4},       [RT_GGML_F16] = {"F16", 1, 2},
    [RT_GGML_Q4_0] = {"Q4_0", 32, 18},   [RT_GGML_Q4_1] = {"Q4_1", 32, 20},
    [RT_GGML_Q5_0] = {"Q5_0", 32, 22},   [RT_GGML_Q5_1] = {"Q5_1", 32, 24},
    [RT_GGML_Q8_0] = {"Q8_0", 32, 34},   [RT_GGML_Q8_1] = {"Q8_1", 32, 36},
    [RT_GGML_Q2_K] = {"Q2_K", 256, 84},  [RT_GGML_Q3_K] = {"Q3_K", 256, 110},
    [RT_GGML_Q4_K] = {"Q4_K", 256, 144}, [RT_GGML_Q5_K] = {"Q5_K", 256, 176},
    [RT_GGML_Q6_K] = {"Q6_K", 256, 210}, [RT_GGML_Q8_K] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},         [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},         [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},           [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},           [23] = {"IQ4_XS", 256, 136},
    [RT_GGML_I8] = {"I8", 1, 1},         [RT_GGML_I16] = {"I16", 1, 2},
    [RT_GGML_I32] = {"I32", 1, 4},       [RT_GGML_I64] = {"I64", 1, 8},
    [RT_GGML_F64] = {"F64", 1, 8},       [29] = {"IQ1_M", 256, 56},
    [RT_GGML_BF16] = {"BF16", 1, 2},     [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},
};
#define N_GGML_TYPES ((int)(sizeof GGML_TYPES / sizeof GGML_TYPES[0]))

static const ggml_type_info *type_info(rt_ggml_type t) {
    return (int)t >= 0 && (int)t < N_GGML_TYPES && GGML_TYPES[t].name ? &GGML_TYPES[t] : NULL;
}

const char *rt_ggml_type_name(rt_ggml_type t) { return type_info(t) ? type_info(t)->name : NULL; }
int64_t rt_ggml_block_elems(rt_ggml_type t) { return type_info(t) ? type_info(t)->blck : 0; }
size_t rt_ggml_block_bytes(rt_ggml_type t) { return type_info(t) ? type_info(t)->bytes : 0; }

const char *rt_gguf_type_name(rt_gguf_type t) {
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

const char *rt_gguf_path(const rt_gguf *g) { return g->path; }
uint32_t rt_gguf_version(const rt_gguf *g) { return g->version; }
size_t rt_gguf_alignment(const rt_gguf *g) { return g->alignment; }
int rt_gguf_kv_count(const rt_gguf *g) { return g->n_kv; }
const rt_gguf_kv *rt_gguf_kv_at(const rt_gguf *g, int i) { return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL; }
int rt_gguf_tensor_count(const rt_gguf *g) { return g->n_tensors; }
const rt_gguf_tensor *rt_gguf_tensor_at(const rt_gguf *g, int i) { return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL; }

const rt_gguf_value *rt_gguf_find(const rt_gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i].value;
    return NULL;
}

const rt_gguf_tensor *rt_gguf_find_tensor(const rt_gguf *g, const char *name) {
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

rt_status rt_gguf_value_int(const rt_gguf_value *v, int64_t *out) {
    const uint8_t *p = v->data;
    uint64_t u;
    switch (v->type) {
    case RT_GGUF_U8: *out = p[0]; return RT_OK;
    case RT_GGUF_I8: *out = (int8_t)p[0]; return RT_OK;
    case RT_GGUF_BOOL: *out = p[0] != 0; return RT_OK;
    case RT_GGUF_U16: { uint16_t x; memcpy(&x, p, 2); *out = x; return RT_OK; }
    case RT_GGUF_I16: { int16_t x; memcpy(&x, p, 2); *out = x; return RT_OK; }
    case RT_GGUF_U32: { uint32_t x; memcpy(&x, p, 4); *out = x; return RT_OK; }
    case RT_GGUF_I32: { int32_t x; memcpy(&x, p, 4); *out = x; return RT_OK; }
    case RT_GGUF_I64: memcpy(out, p, 8); return RT_OK;
    case RT_GGUF_U64:
        memcpy(&u, p, 8);
        if (u > INT64_MAX) return rt_fail(RT_ERR_FORMAT, "u64 value %" PRIu64 " does not fit in int64", u);
        *out = (int64_t)u;
        return RT_OK;
    default: return rt_fail(RT_ERR_FORMAT, "expected an integer, found %s", rt_gguf_type_name(v->type));
    }
}

rt_status rt_gguf_value_float(const rt_gguf_value *v, double *out) {
    if (v->type == RT_GGUF_F32) {
        float f;
        memcpy(&f, v->data, 4);
        *out = f;
    } else if (v->type == RT_GGUF_F64) {
        memcpy(out, v->data, 8);
    } else {
        return rt_fail(RT_ERR_FORMAT, "expected a float, found %s", rt_gguf_type_name(v->type));
    }
    return RT_OK;
}

static rt_status find(const rt_gguf *g, const char *key, const rt_gguf_value **v) {
    *v = rt_gguf_find(g, key);
    return *v ? RT_OK : rt_fail(RT_ERR_NOT_FOUND, "%s: missing key '%s'", g->path, key);
}

rt_status rt_gguf_get_int(const rt_gguf *g, const char *key, int64_t *out) {
    const rt_gguf_value *v;
    RT_TRY(find(g, key, &v));
    if (v->type == RT_GGUF_BOOL || rt_gguf_value_int(v, out) != RT_OK)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be an integer (found %s)", g->path, key, rt_gguf_type_name(v->type));
    return RT_OK;
}

rt_status rt_gguf_get_float(const rt_gguf *g, const char *key, double *out) {
    const rt_gguf_value *v;
    RT_TRY(find(g, key, &v));
    if (rt_gguf_value_float(v, out) != RT_OK)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a float (found %s)", g->path, key, rt_gguf_type_name(v->type));
    if (!isfinite(*out)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' is not finite", g->path, key);
    return RT_OK;
}

rt_status rt_gguf_get_bool(const rt_gguf *g, const char *key, int *out) {
    const rt_gguf_value *v;
    RT_TRY(find(g, key, &v));
    if (v->type != RT_GGUF_BOOL)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a bool (found %s)", g->path, key, rt_gguf_type_name(v->type));
    *out = v->data[0] != 0;
    return RT_OK;
}

rt_status rt_gguf_get_str(const rt_gguf *g, const char *key, const char **s, size_t *len) {
    const rt_gguf_value *v;
    RT_TRY(find(g, key, &v));
    if (v->type != RT_GGUF_STRING)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a string (found %s)", g->path, key, rt_gguf_type_name(v->type));
    *s = (const char *)v->data;
    *len = (size_t)v->n;
    return RT_OK;
}

rt_status rt_gguf_get_name(const rt_gguf *g, const char *key, char *buf, size_t cap) {
    const char *s;
    size_t len;
    RT_TRY(rt_gguf_get_str(g, key, &s, &len));
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) buf[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
    buf[n] = '\0';
    return RT_OK;
}

rt_status rt_gguf_get_array(const rt_gguf *g, const char *key, int elem, rt_gguf_value *out) {
    const rt_gguf_value *v;
    RT_TRY(find(g, key, &v));
    if (v->type != RT_GGUF_ARRAY)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be an array (found %s)", g->path, key, rt_gguf_type_name(v->type));
    if (elem >= 0 && v->elem != (rt_gguf_type)elem)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be an array of %s (found %s)", g->path, key,
                       rt_gguf_type_name((rt_gguf_type)elem), rt_gguf_type_name(v->elem));
    *out = *v;
    return RT_OK;
}

rt_status rt_gguf_get_int_or(const rt_gguf *g, const char *key, int64_t dflt, int64_t *out) {
    if (!rt_gguf_find(g, key)) {
        *out = dflt;
        return RT_OK;
    }
    return rt_gguf_get_int(g, key, out);
}

rt_status rt_gguf_get_float_or(const rt_gguf *g, const char *key, double dflt, double *out) {
    if (!rt_gguf_find(g, key)) {
        *out = dflt;
        return RT_OK;
    }
    return rt_gguf_get_float(g, key, out);
}

void rt_gguf_iter_init(rt_gguf_iter *it, const rt_gguf_value *array) {
    it->p = array->data;
    it->elem = array->elem;
    it->left = array->type == RT_GGUF_ARRAY ? array->n : 0;
}

/* Re-reads one element the parser already validated: its size follows from its own length fields. */
static size_t element(const uint8_t *p, rt_gguf_type t, rt_gguf_value *v);

static size_t array_body(const uint8_t *p, rt_gguf_value *v) {
    uint32_t elem;
    memcpy(&elem, p, 4);
    memcpy(&v->n, p + 4, 8);
    v->elem = (rt_gguf_type)elem;
    v->data = p + 12;
    size_t off = 12;
    rt_gguf_value e;
    for (uint64_t i = 0; i < v->n; i++) off += element(p + off, v->elem, &e);
    return off;
}

static size_t element(const uint8_t *p, rt_gguf_type t, rt_gguf_value *v) {
    memset(v, 0, sizeof *v);
    v->type = t;
    if (t == RT_GGUF_STRING) {
        memcpy(&v->n, p, 8);
        v->data = p + 8;
        v->size = 8 + (size_t)v->n;
    } else if (t == RT_GGUF_ARRAY) {
        v->size = array_body(p, v);
    } else {
        static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        v->data = p;
        v->n = 1;
        v->size = sizes[t];
    }
    return v->size;
}

int rt_gguf_iter_next(rt_gguf_iter *it, rt_gguf_value *v) {
    if (it->left == 0) return 0;
    it->p += element(it->p, it->elem, v);
    it->left--;
    return 1;
}
