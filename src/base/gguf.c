/* gguf.c: parsing and validating a GGUF container (header, metadata, tensor table, data offsets).
 *
 * Every read goes through a cursor that knows the end of the input, so a lying length fails with an
 * error instead of reading past the buffer. Counts are checked against the bytes left before anything
 * is allocated for them (an array of 2^60 strings in a 1 KB file is refused at once). Values stay in
 * the mapping; only keys and tensor names are copied, NUL-terminated. Typed getters live in
 * gguf_get.c. Version 1 (32-bit counts) is long gone from the wild and is refused. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/gguf_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "retrace reads GGUF data in place and assumes a little-endian host"
#endif

#define GGUF_MAGIC "GGUF"
/* Arrays inside arrays: real files use none; the limit keeps a hostile file from exhausting the stack. */
#define GGUF_MAX_NESTING 4
/* The format caps keys at 65535 bytes; tensor names in ggml at 63. We allow some slack for the latter. */
#define GGUF_MAX_KEY_BYTES 65535
#define GGUF_MAX_NAME_BYTES 1024
/* Keys and tensors are counted in int; real files hold hundreds to a few thousand. */
#define GGUF_MAX_COUNT (1u << 24)

typedef struct {
    const uint8_t *p, *end;
    const char *file;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static rt_status take(cursor *c, size_t n, const void **out, const char *what) {
    if (n > left(c))
        return rt_fail(RT_ERR_FORMAT, "%s: truncated file: %s needs %zu bytes, %zu left", c->file, what, n, left(c));
    *out = c->p;
    c->p += n;
    return RT_OK;
}

static rt_status read_u32(cursor *c, uint32_t *v, const char *what) {
    const void *p = NULL;
    RT_TRY(take(c, 4, &p, what));
    memcpy(v, p, 4);
    return RT_OK;
}

static rt_status read_u64(cursor *c, uint64_t *v, const char *what) {
    const void *p = NULL;
    RT_TRY(take(c, 8, &p, what));
    memcpy(v, p, 8);
    return RT_OK;
}

/* A length-prefixed string; `max` bounds it beyond the bytes left. */
static rt_status read_str(cursor *c, const uint8_t **s, uint64_t *len, uint64_t max, const char *what) {
    RT_TRY(read_u64(c, len, what));
    if (*len > max) return rt_fail(RT_ERR_FORMAT, "%s: %s: length %" PRIu64 " exceeds the limit of %" PRIu64, c->file, what, *len, max);
    const void *p = NULL;
    RT_TRY(take(c, (size_t)*len, &p, what));
    *s = p;
    return RT_OK;
}

/* Keys and tensor names appear in error messages, which are one line of text: printable ASCII only
 * (the format requires ASCII keys; llama.cpp's tensor names are ASCII too). */
static int printable(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return 0;
    return 1;
}

static size_t scalar_size(rt_gguf_type t) {
    switch (t) {
    case RT_GGUF_U8: case RT_GGUF_I8: case RT_GGUF_BOOL: return 1;
    case RT_GGUF_U16: case RT_GGUF_I16: return 2;
    case RT_GGUF_U32: case RT_GGUF_I32: case RT_GGUF_F32: return 4;
    case RT_GGUF_U64: case RT_GGUF_I64: case RT_GGUF_F64: return 8;
    default: return 0;
    }
}

/* The fewest bytes one element of type t can take (a string or array is at least its 8-byte length). */
static size_t min_size(rt_gguf_type t) { return t == RT_GGUF_STRING ? 8 : t == RT_GGUF_ARRAY ? 12 : scalar_size(t); }

static rt_status read_value(cursor *c, rt_gguf_type type, rt_gguf_value *v, const char *key, int depth);

static rt_status read_array(cursor *c, rt_gguf_value *v, const char *key, int depth) {
    uint32_t elem;
    uint64_t n;
    RT_TRY(read_u32(c, &elem, key));
    RT_TRY(read_u64(c, &n, key));
    if (elem > RT_GGUF_F64)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s': unknown array element type %u", c->file, key, (unsigned)elem);
    if (elem == RT_GGUF_ARRAY && depth >= GGUF_MAX_NESTING)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s': arrays nested deeper than %d", c->file, key, GGUF_MAX_NESTING);
    /* Refuse an absurd count before walking it: every element takes at least min_size bytes. */
    if (n > left(c) / min_size((rt_gguf_type)elem))
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s': array of %" PRIu64 " %s elements does not fit in the %zu bytes left",
                       c->file, key, n, rt_gguf_type_name((rt_gguf_type)elem), left(c));
    v->elem = (rt_gguf_type)elem;
    v->n = n;
    v->data = c->p;
    size_t fixed = scalar_size((rt_gguf_type)elem);
    if (fixed) {
        const void *p = NULL;
        return take(c, (size_t)n * fixed, &p, key);
    }
    for (uint64_t i = 0; i < n; i++) {
        rt_gguf_value e;
        RT_TRY(read_value(c, (rt_gguf_type)elem, &e, key, depth + 1));
    }
    return RT_OK;
}

static rt_status read_value(cursor *c, rt_gguf_type type, rt_gguf_value *v, const char *key, int depth) {
    const uint8_t *start = c->p;
    memset(v, 0, sizeof *v);
    v->type = type;
    if (type == RT_GGUF_STRING) {
        RT_TRY(read_str(c, &v->data, &v->n, UINT64_MAX, key));
    } else if (type == RT_GGUF_ARRAY) {
        RT_TRY(read_array(c, v, key, depth));
    } else {
        size_t n = scalar_size(type);
        if (!n) return rt_fail(RT_ERR_FORMAT, "%s: key '%s': unknown value type %u", c->file, key, (unsigned)type);
        const void *p = NULL;
        RT_TRY(take(c, n, &p, key));
        v->data = p;
        v->n = 1;
    }
    v->size = (size_t)(c->p - start);
    return RT_OK;
}

/* A key or tensor name (`what` for messages), copied NUL-terminated. */
static rt_status read_name(cursor *c, const char *what, uint64_t max, char **out) {
    const uint8_t *s = NULL;
    uint64_t len;
    RT_TRY(read_str(c, &s, &len, max, what));
    if (!printable(s, (size_t)len)) return rt_fail(RT_ERR_FORMAT, "%s: %s is not printable ASCII", c->file, what);
    *out = rt_malloc((size_t)len + 1);
    memcpy(*out, s, (size_t)len);
    (*out)[len] = '\0';
    return RT_OK;
}

static rt_status read_kv(rt_gguf *g, cursor *c, int i) {
    char what[64], *key;
    snprintf(what, sizeof what, "key #%d", i);
    RT_TRY(read_name(c, what, GGUF_MAX_KEY_BYTES, &key));
    rt_gguf_kv *kv = &g->kv[i];
    kv->key = key;
    g->n_kv = i + 1; /* owned from here, freed by rt_gguf_close */
    for (int j = 0; j < i; j++)
        if (strcmp(g->kv[j].key, key) == 0) return rt_fail(RT_ERR_FORMAT, "%s: duplicate key '%s'", c->file, key);
    uint32_t type;
    RT_TRY(read_u32(c, &type, key));
    return read_value(c, (rt_gguf_type)type, &kv->value, key, 0);
}

static rt_status read_tensor_info(rt_gguf *g, cursor *c, int i) {
    char what[64], *name;
    snprintf(what, sizeof what, "tensor #%d name", i);
    RT_TRY(read_name(c, what, GGUF_MAX_NAME_BYTES, &name));
    rt_gguf_tensor *t = &g->tensors[i];
    t->name = name;
    g->n_tensors = i + 1;
    uint32_t n_dims, type;
    RT_TRY(read_u32(c, &n_dims, name));
    if (n_dims == 0 || n_dims > RT_GGUF_MAX_DIMS)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': %u dimensions (1 to %d allowed)", c->file, name, (unsigned)n_dims, RT_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    for (int d = 0; d < RT_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        RT_TRY(read_u64(c, &ne, name));
        if (ne == 0 || ne > INT64_MAX / 2)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': dimension %u is %" PRIu64, c->file, name, (unsigned)d, ne);
        t->ne[d] = (int64_t)ne;
    }
    RT_TRY(read_u32(c, &type, name));
    t->type = (rt_ggml_type)type;
    RT_TRY(read_u64(c, &t->offset, name));
    return RT_OK;
}

/* Element count and byte size from shape and type, with overflow checks. */
static rt_status tensor_size(const char *file, rt_gguf_tensor *t) {
    int64_t blk = rt_ggml_block_elems(t->type);
    if (!blk) return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor '%s': unknown tensor type %d", file, t->name, (int)t->type);
    if (t->ne[0] % blk)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': row length %" PRId64 " is not a multiple of %s's block of %" PRId64,
                       file, t->name, t->ne[0], rt_ggml_type_name(t->type), blk);
    uint64_t numel = 1;
    for (int d = 0; d < RT_GGUF_MAX_DIMS; d++) {
        if ((uint64_t)t->ne[d] > (UINT64_MAX >> 2) / numel)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': element count overflows", file, t->name);
        numel *= (uint64_t)t->ne[d];
    }
    uint64_t blocks = numel / (uint64_t)blk, bb = rt_ggml_block_bytes(t->type);
    if (blocks > SIZE_MAX / bb) return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': byte size overflows", file, t->name);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)(blocks * bb);
    return RT_OK;
}

static int by_offset(const void *a, const void *b) {
    const rt_gguf_tensor *x = *(const rt_gguf_tensor *const *)a, *y = *(const rt_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensor data must lie inside the file, aligned, and no two tensors may share bytes: a tensor whose
 * shape claims more bytes than the writer gave it runs into the next one or past the end. */
static rt_status check_tensor_data(rt_gguf *g, size_t data_start) {
    size_t avail = g->len - data_start;
    for (int i = 0; i < g->n_tensors; i++) {
        rt_gguf_tensor *t = &g->tensors[i];
        RT_TRY(tensor_size(g->path, t));
        if (t->offset % g->alignment)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %zu", g->path,
                           t->name, t->offset, g->alignment);
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': data (%zu bytes at offset %" PRIu64 ") lies outside the file (%zu data bytes)",
                           g->path, t->name, t->nbytes, t->offset, avail);
        t->data = g->base + data_start + t->offset;
        for (int j = 0; j < i; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0) return rt_fail(RT_ERR_FORMAT, "%s: duplicate tensor '%s'", g->path, t->name);
    }
    if (g->n_tensors < 2) return RT_OK;
    rt_gguf_tensor **order = rt_malloc(sizeof *order * (size_t)g->n_tensors);
    for (int i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, by_offset);
    rt_status s = RT_OK;
    for (int i = 0; i + 1 < g->n_tensors && s == RT_OK; i++)
        if (order[i]->offset + order[i]->nbytes > order[i + 1]->offset)
            s = rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': its %s shape needs %zu bytes, which run into tensor '%s'", g->path,
                        order[i]->name, rt_ggml_type_name(order[i]->type), order[i]->nbytes, order[i + 1]->name);
    free(order);
    return s;
}

static rt_status read_alignment(rt_gguf *g) {
    g->alignment = RT_GGUF_DEFAULT_ALIGNMENT;
    const rt_gguf_value *v = rt_gguf_find(g, "general.alignment");
    if (!v) return RT_OK;
    int64_t a;
    if (v->type != RT_GGUF_U32 || rt_gguf_value_int(v, &a) != RT_OK)
        return rt_fail(RT_ERR_FORMAT, "%s: key 'general.alignment' must be a u32 (got %s)", g->path, rt_gguf_type_name(v->type));
    if (a <= 0 || (a & (a - 1)) || a > (1 << 20))
        return rt_fail(RT_ERR_FORMAT, "%s: key 'general.alignment' is %lld, not a power of two up to 1 MiB", g->path, (long long)a);
    g->alignment = (size_t)a;
    return RT_OK;
}

static rt_status parse(rt_gguf *g) {
    cursor c = {g->base, g->base + g->len, g->path};
    const void *magic = NULL;
    uint64_t n_tensors, n_kv;
    RT_TRY(take(&c, 4, &magic, "magic"));
    if (memcmp(magic, GGUF_MAGIC, 4) != 0) return rt_fail(RT_ERR_FORMAT, "%s: not a GGUF file (bad magic)", g->path);
    RT_TRY(read_u32(&c, &g->version, "version"));
    if (g->version != 2 && g->version != 3)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)", g->path, (unsigned)g->version);
    RT_TRY(read_u64(&c, &n_tensors, "tensor count"));
    RT_TRY(read_u64(&c, &n_kv, "metadata count"));
    /* A key/value takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor description 8+4+8+4+8. */
    if (n_kv > left(&c) / 13 || n_kv > GGUF_MAX_COUNT) return rt_fail(RT_ERR_FORMAT, "%s: %" PRIu64 " metadata entries cannot fit in the file", g->path, n_kv);
    if (n_tensors > left(&c) / 32 || n_tensors > GGUF_MAX_COUNT) return rt_fail(RT_ERR_FORMAT, "%s: %" PRIu64 " tensors cannot fit in the file", g->path, n_tensors);
    g->kv = rt_calloc((size_t)n_kv + 1, sizeof *g->kv);
    for (int i = 0; i < (int)n_kv; i++) RT_TRY(read_kv(g, &c, i));
    RT_TRY(read_alignment(g));
    g->tensors = rt_calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    for (int i = 0; i < (int)n_tensors; i++) RT_TRY(read_tensor_info(g, &c, i));
    size_t pos = (size_t)(c.p - g->base);
    size_t data_start = (pos + g->alignment - 1) / g->alignment * g->alignment;
    /* A file of metadata only (a vocabulary) may end right after the table, without the padding. */
    if (data_start > g->len) {
        if (g->n_tensors) return rt_fail(RT_ERR_FORMAT, "%s: truncated file: tensor data would start past the end", g->path);
        data_start = g->len;
    }
    return check_tensor_data(g, data_start);
}

static rt_status open_common(rt_gguf *g) {
    rt_status s = parse(g);
    if (s != RT_OK) rt_gguf_close(g);
    return s;
}

rt_status rt_gguf_open_buffer(const void *data, size_t len, const char *name, rt_gguf **out) {
    *out = NULL;
    rt_gguf *g = rt_calloc(1, sizeof *g);
    g->path = rt_strdup(name);
    g->base = data;
    g->len = len;
    RT_TRY(open_common(g));
    *out = g;
    return RT_OK;
}

rt_status rt_gguf_open(const char *path, rt_gguf **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_fail(RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rt_fail(RT_ERR_IO, "%s: not a regular file", path);
    }
    rt_gguf *g = rt_calloc(1, sizeof *g);
    g->path = rt_strdup(path);
    g->len = (size_t)st.st_size;
    if (g->len > 0) {
        void *m = mmap(NULL, g->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            rt_gguf_close(g);
            return rt_fail(RT_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
        g->base = m;
        g->mapped = 1;
    } else {
        g->base = (const uint8_t *)"";
    }
    close(fd);
    RT_TRY(open_common(g));
    *out = g;
    return RT_OK;
}

int rt_gguf_path_is_gguf(const char *path) {
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0) return 1;
    if (rt_is_dir(path)) return 0;
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    int yes = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, GGUF_MAGIC, 4) == 0;
    if (f) fclose(f);
    return yes;
}

void rt_gguf_close(rt_gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) free((char *)g->kv[i].key);
    for (int i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->base, g->len);
    free(g->path);
    free(g);
}
