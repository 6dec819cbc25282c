/* gguf_write.c: the GGUF container writer (version 3, little-endian) and Q8_0 quantization.
 *
 * Metadata is serialised into one buffer as it is set (key, type, value, exactly as the file holds it),
 * tensors are converted to their stored bytes when added, and rt_gguf_writer_save lays out the offsets:
 * each tensor's data starts at a multiple of the alignment from the start of the data section, which
 * itself starts at the next multiple after the tensor table, as ggml and the `gguf` package require. */
#include "retrace/gguf_write.h"
#include "retrace/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3u
#define GGUF_ALIGNMENT_BYTES ((unsigned)RT_GGUF_DEFAULT_ALIGNMENT)
#define Q8_0_BLOCK_BYTES (2 + RT_GGUF_Q8_0_BLOCK)

typedef struct {
    char *name;
    int n_dims;
    int64_t ne[RT_GGUF_MAX_DIMS];
    rt_ggml_type type;
    uint8_t *data;
    size_t nbytes;
} gw_tensor;

/* A growing byte buffer. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} gw_buf;

struct rt_gguf_writer {
    gw_buf kv;     /* serialised key/value pairs */
    uint64_t n_kv;
    char **keys;      /* for the duplicate check */
    gw_tensor *tensors;
    int n_tensors, cap_tensors;
};

rt_status rt_gguf_store_parse(const char *name, rt_ggml_type *out) {
    static const rt_ggml_type all[] = {RT_GGML_F32, RT_GGML_F16, RT_GGML_BF16, RT_GGML_Q8_0};
    for (size_t i = 0; name && i < sizeof all / sizeof *all; i++)
        if (strcasecmp(name, rt_ggml_type_name(all[i])) == 0) return *out = all[i], RT_OK;
    return rt_fail(RT_ERR_ARG, "unknown GGUF tensor type '%s' (f32, f16, bf16 or q8_0)", name ? name : "(null)");
}

/* Rounds halves away from zero, as C's roundf and the `gguf` package's np_roundf do. */
void rt_gguf_quantize_q8_0(const float *x, int64_t n, uint8_t *out) {
    for (int64_t b = 0; b < n / RT_GGUF_Q8_0_BLOCK; b++, x += RT_GGUF_Q8_0_BLOCK, out += Q8_0_BLOCK_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < RT_GGUF_Q8_0_BLOCK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        uint16_t dh = rt_f32_to_f16(d);
        memcpy(out, &dh, 2);
        for (int j = 0; j < RT_GGUF_Q8_0_BLOCK; j++) out[2 + j] = (uint8_t)(int8_t)(d == 0.0f ? 0.0f : roundf(x[j] / d));
    }
}

rt_gguf_writer *rt_gguf_writer_new(void) { return rt_calloc(1, sizeof(rt_gguf_writer)); }

void rt_gguf_writer_free(rt_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name), free(w->tensors[i].data);
    free(w->keys), free(w->tensors), free(w->kv.data);
    free(w);
}

static void put(gw_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
        b->data = rt_realloc(b->data, b->cap);
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}
static void put_u32(gw_buf *b, uint32_t v) {
    uint8_t le[4];
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, 4);
}
static void put_u64(gw_buf *b, uint64_t v) {
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, 8);
}
static void put_str(gw_buf *b, const char *s) {
    size_t n = strlen(s);
    put_u64(b, n);
    put(b, s, n);
}

/* Checks the key and writes it with its type; the caller writes the value. */
static rt_status begin_kv(rt_gguf_writer *w, const char *key, rt_gguf_type type) {
    if (!w || !key || !*key) return rt_fail(RT_ERR_ARG, "GGUF writer: NULL writer or empty key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return rt_fail(RT_ERR_ARG, "GGUF writer: key '%s' set twice", key);
    w->keys = rt_realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *w->keys);
    w->keys[w->n_kv++] = rt_strdup(key);
    put_str(&w->kv, key);
    put_u32(&w->kv, (uint32_t)type);
    return RT_OK;
}

rt_status rt_gguf_writer_set_u32(rt_gguf_writer *w, const char *key, uint32_t v) {
    /* Readers align the data to general.alignment; this writer lays it out at 32 bytes only. */
    if (key && strcmp(key, "general.alignment") == 0 && v != GGUF_ALIGNMENT_BYTES)
        return rt_fail(RT_ERR_UNSUPPORTED, "GGUF writer: general.alignment %u (only %u is written)", v, GGUF_ALIGNMENT_BYTES);
    RT_TRY(begin_kv(w, key, RT_GGUF_U32));
    put_u32(&w->kv, v);
    return RT_OK;
}
rt_status rt_gguf_writer_set_i32(rt_gguf_writer *w, const char *key, int32_t v) {
    RT_TRY(begin_kv(w, key, RT_GGUF_I32));
    put_u32(&w->kv, (uint32_t)v);
    return RT_OK;
}
rt_status rt_gguf_writer_set_u64(rt_gguf_writer *w, const char *key, uint64_t v) {
    RT_TRY(begin_kv(w, key, RT_GGUF_U64));
    put_u64(&w->kv, v);
    return RT_OK;
}
rt_status rt_gguf_writer_set_f32(rt_gguf_writer *w, const char *key, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    RT_TRY(begin_kv(w, key, RT_GGUF_F32));
    put_u32(&w->kv, bits);
    return RT_OK;
}
rt_status rt_gguf_writer_set_bool(rt_gguf_writer *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    RT_TRY(begin_kv(w, key, RT_GGUF_BOOL));
    put(&w->kv, &b, 1);
    return RT_OK;
}
rt_status rt_gguf_writer_set_str(rt_gguf_writer *w, const char *key, const char *v) {
    if (!v) return rt_fail(RT_ERR_ARG, "GGUF writer: key '%s': NULL string", key ? key : "");
    RT_TRY(begin_kv(w, key, RT_GGUF_STRING));
    put_str(&w->kv, v);
    return RT_OK;
}
rt_status rt_gguf_writer_set_raw(rt_gguf_writer *w, const char *key, rt_gguf_type type, const void *bytes, size_t size) {
    if (!bytes && size) return rt_fail(RT_ERR_ARG, "GGUF writer: key '%s': NULL value", key ? key : "");
    RT_TRY(begin_kv(w, key, type));
    put(&w->kv, bytes, size);
    return RT_OK;
}
rt_status rt_gguf_writer_set_str_array(rt_gguf_writer *w, const char *key, const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!v[i]) return rt_fail(RT_ERR_ARG, "GGUF writer: key '%s': NULL string at %zu", key ? key : "", i);
    RT_TRY(begin_kv(w, key, RT_GGUF_ARRAY));
    put_u32(&w->kv, (uint32_t)RT_GGUF_STRING);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) put_str(&w->kv, v[i]);
    return RT_OK;
}
/* int32 and float32 elements are both 4 little-endian bytes. */
static rt_status set_array4(rt_gguf_writer *w, const char *key, rt_gguf_type elem, const void *v, size_t n) {
    RT_TRY(begin_kv(w, key, RT_GGUF_ARRAY));
    put_u32(&w->kv, (uint32_t)elem);
    put_u64(&w->kv, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        memcpy(&x, (const uint8_t *)v + 4 * i, 4);
        put_u32(&w->kv, x);
    }
    return RT_OK;
}
rt_status rt_gguf_writer_set_i32_array(rt_gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    return set_array4(w, key, RT_GGUF_I32, v, n);
}
rt_status rt_gguf_writer_set_f32_array(rt_gguf_writer *w, const char *key, const float *v, size_t n) {
    return set_array4(w, key, RT_GGUF_F32, v, n);
}

static size_t stored_bytes(rt_ggml_type type, int64_t numel) {
    return (size_t)(numel / rt_ggml_block_elems(type)) * rt_ggml_block_bytes(type);
}

static int storable(rt_ggml_type t) {
    return t == RT_GGML_F32 || t == RT_GGML_F16 || t == RT_GGML_BF16 || t == RT_GGML_Q8_0;
}

static rt_status check_tensor(const rt_gguf_writer *w, const char *name, int n_dims, const int64_t *ne,
                              rt_ggml_type type, int64_t *numel) {
    if (!w || !name || !*name) return rt_fail(RT_ERR_ARG, "GGUF writer: NULL writer or empty tensor name");
    if (!storable(type)) return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s': type %d is not written (F32, F16, BF16, Q8_0)", name, (int)type);
    if (n_dims < 1 || n_dims > RT_GGUF_MAX_DIMS || !ne)
        return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s': %d dimensions (1 to %d)", name, n_dims, RT_GGUF_MAX_DIMS);
    *numel = 1;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] <= 0 || *numel > INT64_MAX / 8 / ne[i])
            return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s': bad dimension ne[%d] = %lld", name, i, (long long)ne[i]);
        *numel *= ne[i];
    }
    if (type == RT_GGML_Q8_0 && ne[0] % RT_GGUF_Q8_0_BLOCK)
        return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s': Q8_0 needs ne[0] (%lld) to be a multiple of %d", name,
                       (long long)ne[0], RT_GGUF_Q8_0_BLOCK);
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s' added twice", name);
    return RT_OK;
}

rt_status rt_gguf_writer_add_f32(rt_gguf_writer *w, const char *name, int n_dims, const int64_t *ne,
                                 const float *data, rt_ggml_type type) {
    int64_t numel = 0;
    RT_TRY(check_tensor(w, name, n_dims, ne, type, &numel));
    if (!data) return rt_fail(RT_ERR_ARG, "GGUF writer: tensor '%s': NULL data", name);
    size_t nbytes = stored_bytes(type, numel);
    uint8_t *buf = rt_try_alloc(nbytes, name);
    if (!buf) return RT_ERR_NOMEM;
    if (type == RT_GGML_F32) memcpy(buf, data, nbytes);
    else if (type == RT_GGML_Q8_0) rt_gguf_quantize_q8_0(data, numel, buf);
    else
        for (int64_t i = 0; i < numel; i++) {
            uint16_t h = type == RT_GGML_BF16 ? rt_f32_to_bf16(data[i]) : rt_f32_to_f16(data[i]);
            memcpy(buf + 2 * i, &h, 2);
        }
    if (w->n_tensors == w->cap_tensors) {
        w->cap_tensors = w->cap_tensors ? 2 * w->cap_tensors : 64;
        w->tensors = rt_realloc(w->tensors, (size_t)w->cap_tensors * sizeof *w->tensors);
    }
    gw_tensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = rt_strdup(name);
    t->n_dims = n_dims;
    memcpy(t->ne, ne, (size_t)n_dims * sizeof *ne);
    t->type = type;
    t->data = buf;
    t->nbytes = nbytes;
    return RT_OK;
}

static uint64_t align_up(uint64_t x) { return (x + GGUF_ALIGNMENT_BYTES - 1) / GGUF_ALIGNMENT_BYTES * GGUF_ALIGNMENT_BYTES; }

/* Header, metadata and tensor table, padded to the alignment: everything before the data. */
static void build_head(const rt_gguf_writer *w, gw_buf *h) {
    put(h, GGUF_MAGIC, 4);
    put_u32(h, GGUF_VERSION);
    put_u64(h, (uint64_t)w->n_tensors);
    put_u64(h, w->n_kv);
    if (w->kv.len) put(h, w->kv.data, w->kv.len);
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const gw_tensor *t = &w->tensors[i];
        put_str(h, t->name);
        put_u32(h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(h, (uint64_t)t->ne[d]);
        put_u32(h, (uint32_t)t->type);
        put_u64(h, offset);
        offset = align_up(offset + t->nbytes);
    }
    static const uint8_t zeros[GGUF_ALIGNMENT_BYTES];
    put(h, zeros, align_up(h->len) - h->len);
}

rt_status rt_gguf_writer_save(rt_gguf_writer *w, const char *path) {
    if (!w || !path) return rt_fail(RT_ERR_ARG, "GGUF writer: NULL writer or path");
    static const uint8_t zeros[GGUF_ALIGNMENT_BYTES];
    gw_buf head = {0};
    build_head(w, &head);
    rt_atomic_file af;
    rt_status s = rt_atomic_open(&af, path);
    if (s == RT_OK) {
        s = rt_atomic_write(&af, head.data, head.len);
        for (int i = 0; i < w->n_tensors && s == RT_OK; i++) {
            const gw_tensor *t = &w->tensors[i];
            s = rt_atomic_write(&af, t->data, t->nbytes);
            /* The last tensor is padded too, as the gguf package writes it. */
            if (s == RT_OK) s = rt_atomic_write(&af, zeros, align_up(t->nbytes) - t->nbytes);
        }
        if (s == RT_OK) s = rt_atomic_commit(&af);
        else rt_atomic_abort(&af);
    }
    free(head.data);
    return s;
}
