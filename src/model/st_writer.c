/* st_writer.c: writing safetensors files the way the Python library does, byte for byte.
 *
 * The Python library (safetensors 0.4 and later) orders tensors by dtype, larger element types first,
 * then by name; the header lists "__metadata__" first and the tensors in that same order, as compact
 * JSON, padded with spaces to a multiple of 8 bytes. Following it keeps every tensor aligned to its
 * element size in a mapped file and lets tests compare our output with Python's byte for byte. The file
 * is written through rt_atomic_*, so a crash leaves the old file in place. */
#include "st_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ST_HEADER_ALIGN_BYTES 8

typedef struct {
    char *name;
    rt_dtype dtype;
    int ndim;
    int64_t shape[RT_ST_MAX_DIMS];
    uint8_t *data;
    size_t nbytes;
} st_entry;

typedef struct {
    char *key;
    char *value;
} st_meta;

struct rt_st_writer {
    st_entry *entries;
    int n, cap;
    st_meta *meta;
    int nmeta;
};

rt_st_writer *rt_st_writer_new(void) {
    rt_st_writer *w = rt_calloc(1, sizeof *w);
    /* PEFT and transformers both write this; some loaders check it. */
    rt_st_writer_set_metadata(w, "format", "pt");
    return w;
}

void rt_st_writer_free(rt_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->entries[i].name);
        free(w->entries[i].data);
    }
    for (int i = 0; i < w->nmeta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->entries);
    free(w->meta);
    free(w);
}

/* Names and metadata must be valid UTF-8 for the header to be valid JSON; jansson checks that. */
static int valid_utf8(const char *s) {
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static rt_status check_new_entry(const rt_st_writer *w, const char *name, rt_dtype dtype, int ndim,
                                 const int64_t *shape, size_t *nbytes) {
    if (!w || !name) return rt_fail(RT_ERR_ARG, "safetensors writer: NULL writer or name");
    char q[RT_ST_QUOTE_BYTES];
    rt_st_quote(name, q);
    if (!*name || strcmp(name, "__metadata__") == 0 || !valid_utf8(name))
        return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': invalid tensor name", q);
    if (rt_dtype_size(dtype) == 0) return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': unknown dtype %d", q, (int)dtype);
    if (ndim < 0 || ndim > RT_ST_MAX_DIMS || (ndim > 0 && !shape))
        return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': ndim %d outside 0..%d", q, ndim, RT_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': negative dimension", q);
        if (shape[i] && numel > (uint64_t)INT64_MAX / 8 / (uint64_t)shape[i])
            return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': shape too large", q);
        numel *= (uint64_t)shape[i];
    }
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': added twice", q);
    *nbytes = (size_t)(numel * rt_dtype_size(dtype));
    return RT_OK;
}

/* Appends an entry with an uninitialised buffer of `nbytes` for the caller to fill. */
static rt_status push_entry(rt_st_writer *w, const char *name, rt_dtype dtype, int ndim, const int64_t *shape,
                            size_t nbytes, st_entry **out) {
    uint8_t *buf = rt_try_alloc(nbytes ? nbytes : 1, name);
    if (!buf) return RT_ERR_NOMEM;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->entries = rt_realloc(w->entries, (size_t)w->cap * sizeof *w->entries);
    }
    st_entry *e = &w->entries[w->n++];
    memset(e, 0, sizeof *e);
    e->name = rt_strdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->data = buf;
    e->nbytes = nbytes;
    *out = e;
    return RT_OK;
}

rt_status rt_st_writer_add_f32(rt_st_writer *w, const char *name, rt_dtype dtype, int ndim, const int64_t *shape,
                               const float *data) {
    size_t nbytes;
    RT_TRY(check_new_entry(w, name, dtype, ndim, shape, &nbytes));
    char q[RT_ST_QUOTE_BYTES];
    rt_st_quote(name, q);
    if (dtype != RT_DTYPE_F32 && dtype != RT_DTYPE_F16 && dtype != RT_DTYPE_BF16)
        return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': float data cannot be stored as %s", q,
                       rt_dtype_name(dtype));
    size_t n = nbytes / rt_dtype_size(dtype);
    if (n && !data) return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': NULL data", q);
    st_entry *e;
    RT_TRY(push_entry(w, name, dtype, ndim, shape, nbytes, &e));
    if (dtype == RT_DTYPE_F32) {
        if (n) memcpy(e->data, data, nbytes);
        return RT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = dtype == RT_DTYPE_BF16 ? rt_f32_to_bf16(data[i]) : rt_f32_to_f16(data[i]);
        memcpy(e->data + 2 * i, &h, 2);
    }
    return RT_OK;
}

rt_status rt_st_writer_add_raw(rt_st_writer *w, const char *name, rt_dtype dtype, int ndim, const int64_t *shape,
                               const void *data) {
    size_t nbytes;
    RT_TRY(check_new_entry(w, name, dtype, ndim, shape, &nbytes));
    char q[RT_ST_QUOTE_BYTES];
    if (nbytes && !data)
        return rt_fail(RT_ERR_ARG, "safetensors writer: tensor '%s': NULL data", rt_st_quote(name, q));
    st_entry *e;
    RT_TRY(push_entry(w, name, dtype, ndim, shape, nbytes, &e));
    if (nbytes) memcpy(e->data, data, nbytes);
    return RT_OK;
}

rt_status rt_st_writer_set_metadata(rt_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return rt_fail(RT_ERR_ARG, "safetensors writer: NULL metadata key or value");
    if (!valid_utf8(key) || !valid_utf8(value))
        return rt_fail(RT_ERR_ARG, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            free(w->meta[i].value);
            w->meta[i].value = rt_strdup(value);
            return RT_OK;
        }
    w->meta = rt_realloc(w->meta, (size_t)(w->nmeta + 1) * sizeof *w->meta);
    w->meta[w->nmeta].key = rt_strdup(key);
    w->meta[w->nmeta].value = rt_strdup(value);
    w->nmeta++;
    return RT_OK;
}

/* ---- header text ---- */

typedef struct {
    char *p;
    size_t n, cap;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
        b->p = rt_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void buf_str(st_buf *b, const char *s) { buf_put(b, s, strlen(s)); }
static void buf_u64(st_buf *b, uint64_t v) {
    char tmp[24];
    buf_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%" PRIu64, v));
}

/* A JSON string escaped as serde_json (the Python library's serialiser) does: the short escapes, other
 * control characters as lowercase \u00xx, everything else (UTF-8 included) as is. */
static void buf_json_string(st_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    buf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (*c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (*c >= 0x20) {
                buf_put(b, (const char *)c, 1);
                continue;
            }
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[*c >> 4];
            esc[5] = hex[*c & 15];
            n = 6;
        }
        buf_put(b, esc, n);
    }
    buf_put(b, "\"", 1);
}

static int cmp_meta(const void *a, const void *b) {
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

/* The Python library's data order: larger dtype rank first, then name. */
static int cmp_entry(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    int rx = rt_st_dtype_rank(x->dtype), ry = rt_st_dtype_rank(y->dtype);
    if (rx != ry) return ry - rx;
    return strcmp(x->name, y->name);
}

static void build_header(rt_st_writer *w, st_entry **order, st_buf *b) {
    buf_str(b, "{");
    if (w->nmeta) {
        /* Sorted so that the same metadata always gives the same bytes. */
        qsort(w->meta, (size_t)w->nmeta, sizeof *w->meta, cmp_meta);
        buf_str(b, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i) buf_str(b, ",");
            buf_json_string(b, w->meta[i].key);
            buf_str(b, ":");
            buf_json_string(b, w->meta[i].value);
        }
        buf_str(b, w->n ? "}," : "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < w->n; i++) {
        const st_entry *e = order[i];
        if (i) buf_str(b, ",");
        buf_json_string(b, e->name);
        buf_str(b, ":{\"dtype\":\"");
        buf_str(b, rt_dtype_name(e->dtype));
        buf_str(b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            if (d) buf_str(b, ",");
            buf_u64(b, (uint64_t)e->shape[d]);
        }
        buf_str(b, "],\"data_offsets\":[");
        buf_u64(b, offset);
        buf_str(b, ",");
        offset += e->nbytes;
        buf_u64(b, offset);
        buf_str(b, "]}");
    }
    buf_str(b, "}");
    while (b->n % ST_HEADER_ALIGN_BYTES) buf_str(b, " ");
}

rt_status rt_st_writer_save(rt_st_writer *w, const char *path) {
    if (!w || !path) return rt_fail(RT_ERR_ARG, "safetensors writer: NULL writer or path");
    st_entry **order = rt_malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
    for (int i = 0; i < w->n; i++) order[i] = &w->entries[i];
    qsort(order, (size_t)w->n, sizeof *order, cmp_entry);
    st_buf hdr = {0};
    build_header(w, order, &hdr);
    rt_status s = RT_OK;
    if (hdr.n >= RT_ST_MAX_HEADER_BYTES)
        s = rt_fail(RT_ERR_ARG, "%s: header of %zu bytes exceeds the 100 MB limit", path, hdr.n);
    rt_atomic_file af;
    if (s == RT_OK) s = rt_atomic_open(&af, path);
    if (s == RT_OK) {
        uint8_t len[RT_ST_LEN_BYTES];
        for (int i = 0; i < RT_ST_LEN_BYTES; i++) len[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
        s = rt_atomic_write(&af, len, sizeof len);
        if (s == RT_OK) s = rt_atomic_write(&af, hdr.p, hdr.n);
        for (int i = 0; i < w->n && s == RT_OK; i++) s = rt_atomic_write(&af, order[i]->data, order[i]->nbytes);
        if (s == RT_OK) s = rt_atomic_commit(&af);
        else rt_atomic_abort(&af);
    }
    free(hdr.p);
    free(order);
    return s;
}
