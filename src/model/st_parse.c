/* st_parse.c: validation of one safetensors image (length, JSON header, every tensor entry, overlaps).
 *
 * Nothing a header claims is trusted: each offset is checked against the data size, each size against
 * shape x dtype, and tensors against each other, before a single tensor byte is read. Errors read
 * "<file>: tensor '<name>': <what>" or "<file>: <what>". Holes between tensors are tolerated (the
 * Python library rejects them, but they are harmless to a reader that checks overlaps). */
#include "st_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char *rt_st_quote(const char *s, char buf[RT_ST_QUOTE_BYTES]) {
    size_t n = 0;
    const size_t keep = RT_ST_QUOTE_BYTES - 4; /* room for "..." and the NUL */
    for (; s[n] && n < keep; n++) buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

const char *rt_st_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = RT_ST_LEN_BYTES - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A tensor's shape: an array of at most RT_ST_MAX_DIMS non-negative integers whose product fits. */
static rt_status parse_shape(const char *file, const char *qname, json_t *js, rt_st_tensor *t) {
    if (!json_is_array(js)) return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': missing or non-array 'shape'", file, qname);
    size_t nd = json_array_size(js);
    if (nd > RT_ST_MAX_DIMS)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions, more than the %d supported", file, qname,
                       nd, RT_ST_MAX_DIMS);
    t->ndim = (int)nd;
    t->numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': shape entry %zu is not a non-negative integer", file, qname,
                           i);
        int64_t v = (int64_t)json_integer_value(d);
        t->shape[i] = v;
        if (v != 0 && t->numel > INT64_MAX / v)
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': shape overflows 64-bit element count", file, qname);
        t->numel *= v;
    }
    return RT_OK;
}

static rt_status parse_offsets(const char *file, const char *qname, json_t *js, uint64_t *begin, uint64_t *end) {
    if (!json_is_array(js) || json_array_size(js) != 2)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' is not a [begin, end] pair", file, qname);
    json_t *b = json_array_get(js, 0), *e = json_array_get(js, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < 0)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' are not non-negative integers", file, qname);
    *begin = (uint64_t)json_integer_value(b);
    *end = (uint64_t)json_integer_value(e);
    return RT_OK;
}

/* One header entry: dtype, shape and offsets, each checked against the `data_len` bytes of data. */
static rt_status parse_entry(const char *file, const char *name, json_t *entry, const uint8_t *data, size_t data_len,
                             rt_st_tensor *t) {
    char qname[RT_ST_QUOTE_BYTES];
    rt_st_quote(name, qname);
    if (!json_is_object(entry)) return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", file, qname);
    memset(t, 0, sizeof *t);
    t->name = name;
    json_t *jd = json_object_get(entry, "dtype");
    if (!json_is_string(jd)) return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'", file, qname);
    if (!rt_st_dtype_parse(json_string_value(jd), &t->dtype)) {
        char qd[RT_ST_QUOTE_BYTES];
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor '%s': unsupported dtype '%s'", file, qname,
                       rt_st_quote(json_string_value(jd), qd));
    }
    RT_TRY(parse_shape(file, qname, json_object_get(entry, "shape"), t));
    uint64_t begin = 0, end = 0;
    RT_TRY(parse_offsets(file, qname, json_object_get(entry, "data_offsets"), &begin, &end));
    if (begin > end)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                       file, qname, begin, end);
    if (end > data_len)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the %zu data bytes",
                       file, qname, begin, end, data_len);
    size_t esize = rt_dtype_size(t->dtype);
    /* numel * esize may overflow; compare by division instead (the span is bounded by the file size). */
    uint64_t span = end - begin;
    if ((uint64_t)t->numel > span / esize || (uint64_t)t->numel * esize != span) {
        char sh[160], need[32] = "more than 2^64";
        if ((uint64_t)t->numel <= UINT64_MAX / esize) snprintf(need, sizeof need, "%" PRIu64, (uint64_t)t->numel * esize);
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': data_offsets span %" PRIu64 " bytes but shape %s of %s needs %s",
                       file, qname, span, rt_st_shape_str(t->ndim, t->shape, sh, sizeof sh), rt_dtype_name(t->dtype),
                       need);
    }
    t->data = data + begin;
    t->nbytes = (size_t)span;
    t->file = file;
    return RT_OK;
}

static rt_status check_metadata(const char *file, json_t *meta) {
    if (json_is_null(meta)) return RT_OK;
    if (!json_is_object(meta)) return rt_fail(RT_ERR_FORMAT, "%s: '__metadata__' is not a JSON object", file);
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v) {
        char qk[RT_ST_QUOTE_BYTES];
        if (!json_is_string(v))
            return rt_fail(RT_ERR_FORMAT, "%s: '__metadata__' key '%s' is not a string", file, rt_st_quote(key, qk));
    }
    return RT_OK;
}

static int cmp_by_begin(const void *a, const void *b) {
    const rt_st_tensor *x = *(const rt_st_tensor *const *)a, *y = *(const rt_st_tensor *const *)b;
    if (x->data != y->data) return (const uint8_t *)x->data < (const uint8_t *)y->data ? -1 : 1;
    return 0;
}

/* Tensors [first, count) of `f` came from one shard: no two non-empty ones may share a byte. */
static rt_status check_overlaps(const char *file, const uint8_t *data, rt_st_tensor *ts, int n) {
    if (n < 2) return RT_OK;
    const rt_st_tensor **order = rt_try_alloc((size_t)n * sizeof *order, file);
    if (!order) return RT_ERR_NOMEM;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (ts[i].nbytes) order[m++] = &ts[i];
    qsort(order, (size_t)m, sizeof *order, cmp_by_begin);
    rt_status s = RT_OK;
    for (int i = 1; i < m && s == RT_OK; i++) {
        const rt_st_tensor *p = order[i - 1], *t = order[i];
        size_t pb = (size_t)((const uint8_t *)p->data - data), tb = (size_t)((const uint8_t *)t->data - data);
        if (tb < pb + p->nbytes) {
            char q1[RT_ST_QUOTE_BYTES], q2[RT_ST_QUOTE_BYTES];
            s = rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]", file,
                        rt_st_quote(t->name, q1), tb, tb + t->nbytes, rt_st_quote(p->name, q2), pb, pb + p->nbytes);
        }
    }
    free(order);
    return s;
}

static rt_status grow(rt_st_file *f, const char *file) {
    if (f->count < f->cap) return RT_OK;
    int cap = f->cap ? f->cap * 2 : 16;
    rt_st_tensor *p = realloc(f->tensors, (size_t)cap * sizeof *p);
    if (!p) return rt_fail(RT_ERR_NOMEM, "%s: out of memory for the tensor table", file);
    f->tensors = p;
    f->cap = cap;
    return RT_OK;
}

/* Loads the header JSON; it must be an object. */
static rt_status load_header(const char *file, const uint8_t *bytes, size_t len, json_t **out) {
    *out = NULL;
    if (len < RT_ST_LEN_BYTES)
        return rt_fail(RT_ERR_FORMAT, "%s: truncated: %zu bytes, too short for the 8-byte header length", file, len);
    uint64_t n = read_le64(bytes);
    if (n > len - RT_ST_LEN_BYTES)
        return rt_fail(RT_ERR_FORMAT, "%s: header length %" PRIu64 " is larger than the %zu bytes that follow it", file, n,
                       len - RT_ST_LEN_BYTES);
    if (n >= RT_ST_MAX_HEADER_BYTES)
        return rt_fail(RT_ERR_FORMAT, "%s: header length %" PRIu64 " exceeds the 100 MB limit", file, n);
    json_error_t err;
    /* jansson checks UTF-8 and refuses NUL characters; duplicate tensor names would be ambiguous. */
    json_t *root = json_loadb((const char *)bytes + RT_ST_LEN_BYTES, (size_t)n, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        char qt[RT_ST_QUOTE_BYTES];
        return rt_fail(RT_ERR_FORMAT, "%s: header is not valid JSON: %s (at header byte %d)", file,
                       rt_st_quote(err.text, qt), err.position);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return rt_fail(RT_ERR_FORMAT, "%s: header is not a JSON object", file);
    }
    *out = root;
    return RT_OK;
}

rt_status rt_st_parse_shard(rt_st_file *f, rt_st_shard *shard, const uint8_t *bytes, size_t len) {
    const char *file = shard->path;
    json_t *root;
    RT_TRY(load_header(file, bytes, len, &root));
    size_t hdr = RT_ST_LEN_BYTES + (size_t)read_le64(bytes);
    const uint8_t *data = bytes + hdr;
    size_t data_len = len - hdr;
    int first = f->count;
    rt_status s = RT_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            s = check_metadata(file, v);
            shard->metadata = json_is_object(v) ? v : NULL;
        } else if ((s = grow(f, file)) == RT_OK) {
            s = parse_entry(file, key, v, data, data_len, &f->tensors[f->count]);
            if (s == RT_OK) f->count++;
        }
        if (s != RT_OK) break;
    }
    if (s == RT_OK) s = check_overlaps(file, data, f->tensors + first, f->count - first);
    if (s != RT_OK) {
        f->count = first;
        shard->metadata = NULL;
        json_decref(root);
        return s;
    }
    shard->header = root;
    return RT_OK;
}
