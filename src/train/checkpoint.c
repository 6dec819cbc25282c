/* checkpoint.c: save and resume training state (parameters, AdamW moments and step, RNG, a caller blob)
 * as one safetensors file, written atomically. The layout is documented in docs/checkpoints.md.
 *
 * Every tensor carries a checksum in the metadata, because the safetensors header can only prove that
 * offsets and sizes are consistent: a flipped byte in the data would otherwise resume silently from a
 * corrupt state. A load validates the whole file (format, names, dtypes, sizes, checksums) before it
 * writes a single byte into the caller's buffers, so a failed load leaves the run as it was. */
#include "retrace/optim.h"
#include "retrace/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "retrace-checkpoint"
#define CKPT_VERSION "1"
#define CKPT_RNG_WORDS 4

/* The three tensors stored per parameter, in this order. */
enum { SLOT_PARAM = 0, SLOT_M = 1, SLOT_V = 2, N_SLOTS = 3 };
static const char *const slot_prefix[N_SLOTS] = {"param.", "adam_m.", "adam_v."};

static char *slot_key(int slot, const char *name) {
    size_t n = strlen(slot_prefix[slot]) + strlen(name) + 1;
    char *key = rt_malloc(n);
    snprintf(key, n, "%s%s", slot_prefix[slot], name);
    return key;
}

static float *slot_data(const rt_adamw *opt, int i, int slot) {
    return slot == SLOT_PARAM ? opt->params[i].data : slot == SLOT_M ? opt->m[i] : opt->v[i];
}

/* FNV-1a over 64-bit little-endian words (the tail zero-padded), then the length, then a final mix so
 * that a changed bit shows in every digit. Each word step (h ^ w) * odd is a bijection of both h and w,
 * so any single changed word changes the result. */
static uint64_t data_checksum(const void *data, size_t len) {
    const uint64_t fnv_prime = 0x100000001b3ULL;
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * fnv_prime;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, b + i, len - i);
        h = (h ^ w) * fnv_prime;
    }
    h = (h ^ (uint64_t)len) * fnv_prime;
    /* MurmurHash3's 64-bit finaliser. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ---- save ---- */

static char *adamw_json(const rt_adamw_params *p) {
    /* jansson prints reals with 17 significant digits, which read back to the same float. */
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f}", "lr", (double)p->lr, "beta1", (double)p->beta1, "beta2",
                          (double)p->beta2, "eps", (double)p->eps, "weight_decay", (double)p->weight_decay);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static rt_status add_tensors(rt_st_writer *w, const rt_adamw *opt, json_t *sums) {
    static const float empty = 0.0f; /* a zero-sized tensor still needs a data pointer */
    for (int i = 0; i < opt->n_params; i++) {
        for (int slot = 0; slot < N_SLOTS; slot++) {
            const float *d = slot_data(opt, i, slot);
            size_t n = opt->params[i].numel;
            int64_t shape[1] = {(int64_t)n};
            char *key = slot_key(slot, opt->params[i].name);
            char hex[17];
            snprintf(hex, sizeof hex, "%016" PRIx64, data_checksum(n ? (const void *)d : (const void *)&empty, n * sizeof(float)));
            json_object_set_new(sums, key, json_string(hex));
            rt_status s = rt_st_writer_add_f32(w, key, RT_DTYPE_F32, 1, shape, n ? d : &empty);
            free(key);
            if (s != RT_OK) return s;
        }
    }
    return RT_OK;
}

static rt_status set_metadata(rt_st_writer *w, const rt_adamw *opt, const rt_rng *rng, const char *extra_json,
                              const json_t *sums) {
    char buf[CKPT_RNG_WORDS * 17 + 1];
    RT_TRY(rt_st_writer_set_metadata(w, "format", CKPT_FORMAT));
    RT_TRY(rt_st_writer_set_metadata(w, "version", CKPT_VERSION));
    snprintf(buf, sizeof buf, "%" PRId64, opt->step);
    RT_TRY(rt_st_writer_set_metadata(w, "step", buf));
    if (rng) {
        snprintf(buf, sizeof buf, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64, rng->s[0], rng->s[1],
                 rng->s[2], rng->s[3]);
        RT_TRY(rt_st_writer_set_metadata(w, "rng", buf));
    }
    if (extra_json) RT_TRY(rt_st_writer_set_metadata(w, "extra", extra_json));
    char *hp = adamw_json(&opt->p);
    rt_status s = rt_st_writer_set_metadata(w, "adamw", hp);
    free(hp);
    if (s != RT_OK) return s;
    char *sums_str = json_dumps(sums, JSON_COMPACT | JSON_SORT_KEYS);
    s = rt_st_writer_set_metadata(w, "checksums", sums_str);
    free(sums_str);
    return s;
}

rt_status rt_checkpoint_save(const char *path, const rt_adamw *opt, const rt_rng *rng, const char *extra_json) {
    if (!path || !opt) return rt_fail(RT_ERR_ARG, "checkpoint save: no %s", path ? "optimizer" : "path");
    if (opt->n_params > 0 && (!opt->params || !opt->m || !opt->v))
        return rt_fail(RT_ERR_STATE, "%s: checkpoint save: optimizer is not initialised", path);
    rt_st_writer *w = rt_st_writer_new();
    json_t *sums = json_object();
    rt_status s = add_tensors(w, opt, sums);
    if (s == RT_OK) s = set_metadata(w, opt, rng, extra_json, sums);
    if (s == RT_OK) s = rt_st_writer_save(w, path);
    json_decref(sums);
    rt_st_writer_free(w);
    /* The writer's own messages name the file when the failure is in writing it; others do not. */
    if (s != RT_OK) return strstr(rt_errmsg(), path) ? rt_fail_context(s, "saving checkpoint")
                                                     : rt_fail_context(s, "saving checkpoint %s", path);
    return RT_OK;
}

/* ---- load ---- */

/* Everything a load will install, parsed and checked before anything is installed. */
typedef struct {
    int64_t step;
    uint64_t rng[CKPT_RNG_WORDS];
    int has_rng;
    rt_adamw_params p;
    const char *extra;
    const rt_st_tensor **tensors; /* n_params * N_SLOTS, in slot order per parameter */
} ckpt_state;

/* A metadata value quoted in a message, cut short and with control characters replaced, so a hostile
 * file cannot break the one-line error. */
#define QUOTE_CHARS 32
static const char *quote(const char *s, char buf[QUOTE_CHARS + 4]) {
    size_t i = 0;
    for (; s[i] && i < QUOTE_CHARS; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    strcpy(buf + i, s[i] ? "..." : "");
    return buf;
}

static rt_status parse_header_fields(const char *path, const rt_st_file *f, ckpt_state *st) {
    char quoted[QUOTE_CHARS + 4];
    const char *format = rt_st_metadata(f, "format");
    if (!format) return rt_fail(RT_ERR_FORMAT, "%s: not a retrace checkpoint (no metadata 'format')", path);
    if (strcmp(format, CKPT_FORMAT) != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: not a retrace checkpoint (metadata 'format' is '%s')", path, quote(format, quoted));
    const char *version = rt_st_metadata(f, "version");
    if (!version) return rt_fail(RT_ERR_FORMAT, "%s: metadata 'version' is missing", path);
    if (strcmp(version, CKPT_VERSION) != 0)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: checkpoint version '%s' is not supported (this build reads %s)",
                       path, quote(version, quoted), CKPT_VERSION);

    const char *step = rt_st_metadata(f, "step");
    char *end = NULL;
    errno = 0;
    long long v = step ? strtoll(step, &end, 10) : -1;
    if (!step || errno || end == step || *end || v < 0)
        return rt_fail(RT_ERR_FORMAT, "%s: metadata 'step' %s", path,
                       step ? "must be a non-negative decimal integer" : "is missing");
    st->step = v;

    const char *rng = rt_st_metadata(f, "rng");
    st->has_rng = rng != NULL;
    if (rng) {
        const char *q = rng;
        for (int k = 0; k < CKPT_RNG_WORDS; k++) {
            errno = 0;
            st->rng[k] = strtoull(q, &end, 16);
            if (errno || end == q || end - q != 16 || *end != (k + 1 < CKPT_RNG_WORDS ? ',' : '\0'))
                return rt_fail(RT_ERR_FORMAT, "%s: metadata 'rng' must be 4 comma-separated 16-digit hex words", path);
            q = end + 1;
        }
    }
    st->extra = rt_st_metadata(f, "extra");
    return RT_OK;
}

static rt_status parse_adamw(const char *path, const rt_st_file *f, rt_adamw_params *p) {
    const char *s = rt_st_metadata(f, "adamw");
    if (!s) return rt_fail(RT_ERR_FORMAT, "%s: metadata 'adamw' is missing", path);
    json_error_t jerr;
    json_t *o = json_loads(s, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return rt_fail(RT_ERR_FORMAT, "%s: metadata 'adamw' is not a JSON object", path);
    }
    const char *keys[5] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    float *dst[5] = {&p->lr, &p->beta1, &p->beta2, &p->eps, &p->weight_decay};
    /* The JSON getters name "<file>" in their messages; here the file is the metadata field. */
    size_t where_len = strlen(path) + sizeof ": metadata 'adamw'";
    char *where = rt_malloc(where_len);
    snprintf(where, where_len, "%s: metadata 'adamw'", path);
    rt_status rs = RT_OK;
    for (int k = 0; k < 5 && rs == RT_OK; k++) {
        double d;
        rs = rt_json_get_number(o, keys[k], where, &d);
        if (rs == RT_OK) *dst[k] = (float)d;
    }
    json_decref(o);
    if (rs == RT_OK && (rs = rt_adamw_params_check(p)) != RT_OK) {
        char why[256]; /* rt_errmsg() is the buffer rt_fail writes into */
        snprintf(why, sizeof why, "%s", rt_errmsg());
        rs = rt_fail(rs, "%s: %s", where, why);
    }
    free(where);
    return rs;
}

/* Finds and checks one tensor against the parameter it must restore. */
static rt_status check_tensor(const char *path, const rt_st_file *f, const json_t *sums, const char *key,
                              size_t numel, const rt_st_tensor **out) {
    const rt_st_tensor *t = rt_st_find(f, key);
    if (!t)
        return rt_fail(RT_ERR_NOT_FOUND, "%s: tensor '%s' is missing (checkpoint of another model or adapter?)",
                       path, key);
    if (t->dtype != RT_DTYPE_F32)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s' is %s, expected F32", path, key, rt_dtype_name(t->dtype));
    if (t->ndim != 1 || t->numel != (int64_t)numel || t->nbytes != numel * sizeof(float)) {
        char shape[RT_ST_MAX_DIMS * 24 + 4] = "[";
        for (int d = 0; d < t->ndim && d < RT_ST_MAX_DIMS; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRId64, d ? ", " : "", t->shape[d]);
        strcat(shape, "]");
        return rt_fail(RT_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected [%zu]", path, key, shape, numel);
    }
    const char *want = json_string_value(json_object_get(sums, key));
    if (!want) return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s' has no checksum in the metadata", path, key);
    char got[17];
    snprintf(got, sizeof got, "%016" PRIx64, data_checksum(t->data, t->nbytes));
    if (strcmp(got, want) != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s' is corrupt (checksum %s, expected %s)", path, key, got, want);
    *out = t;
    return RT_OK;
}

/* A tensor in the file that no parameter claims means the model changed shape (a dropped layer or
 * adapter); resuming would silently lose it, so it is an error too. Called only when counts differ. */
static rt_status find_unclaimed(const char *path, const rt_st_file *f, const rt_adamw *opt) {
    for (int k = 0; k < rt_st_count(f); k++) {
        const char *name = rt_st_at(f, k)->name;
        int claimed = 0;
        for (int slot = 0; slot < N_SLOTS && !claimed; slot++) {
            size_t plen = strlen(slot_prefix[slot]);
            if (strncmp(name, slot_prefix[slot], plen) != 0) continue;
            for (int i = 0; i < opt->n_params && !claimed; i++) claimed = strcmp(name + plen, opt->params[i].name) == 0;
        }
        if (!claimed)
            return rt_fail(RT_ERR_NOT_FOUND, "%s: tensor '%s' matches no parameter of the model being resumed", path,
                           name);
    }
    return rt_fail(RT_ERR_FORMAT, "%s: %d tensors, expected %d", path, rt_st_count(f), opt->n_params * N_SLOTS);
}

static rt_status validate(const char *path, const rt_st_file *f, const rt_adamw *opt, int want_rng, ckpt_state *st) {
    RT_TRY(parse_header_fields(path, f, st));
    if (want_rng && !st->has_rng) return rt_fail(RT_ERR_FORMAT, "%s: metadata 'rng' is missing", path);
    RT_TRY(parse_adamw(path, f, &st->p));
    const char *sums_str = rt_st_metadata(f, "checksums");
    json_t *sums = sums_str ? json_loads(sums_str, 0, NULL) : NULL;
    if (!json_is_object(sums)) {
        json_decref(sums);
        return rt_fail(RT_ERR_FORMAT, "%s: metadata 'checksums' is missing or not a JSON object", path);
    }
    rt_status s = RT_OK;
    for (int i = 0; i < opt->n_params && s == RT_OK; i++) {
        for (int slot = 0; slot < N_SLOTS && s == RT_OK; slot++) {
            char *key = slot_key(slot, opt->params[i].name);
            s = check_tensor(path, f, sums, key, opt->params[i].numel, &st->tensors[i * N_SLOTS + slot]);
            free(key);
        }
    }
    json_decref(sums);
    if (s == RT_OK && rt_st_count(f) != opt->n_params * N_SLOTS) s = find_unclaimed(path, f, opt);
    return s;
}

static void install(const ckpt_state *st, rt_adamw *opt, rt_rng *rng, char **extra_json) {
    for (int i = 0; i < opt->n_params; i++)
        for (int slot = 0; slot < N_SLOTS; slot++) {
            const rt_st_tensor *t = st->tensors[i * N_SLOTS + slot];
            if (t->nbytes) memcpy(slot_data(opt, i, slot), t->data, t->nbytes);
        }
    opt->step = st->step;
    opt->p = st->p;
    if (rng)
        for (int k = 0; k < CKPT_RNG_WORDS; k++) rng->s[k] = st->rng[k];
    if (extra_json) *extra_json = st->extra ? rt_strdup(st->extra) : NULL;
}

rt_status rt_checkpoint_load(const char *path, rt_adamw *opt, rt_rng *rng, char **extra_json) {
    if (extra_json) *extra_json = NULL;
    if (!path || !opt) return rt_fail(RT_ERR_ARG, "checkpoint load: no %s", path ? "optimizer" : "path");
    if (opt->n_params > 0 && (!opt->params || !opt->m || !opt->v))
        return rt_fail(RT_ERR_STATE, "%s: checkpoint load: optimizer is not initialised", path);
    rt_st_file *f = NULL;
    rt_status s = rt_st_open(path, &f);
    if (s != RT_OK) return rt_fail_context(s, "loading checkpoint");
    ckpt_state st;
    memset(&st, 0, sizeof st);
    st.tensors = rt_calloc((size_t)opt->n_params * N_SLOTS + 1, sizeof(*st.tensors));
    s = validate(path, f, opt, rng != NULL, &st);
    if (s == RT_OK) install(&st, opt, rng, extra_json);
    free(st.tensors);
    rt_st_close(f);
    return s;
}
