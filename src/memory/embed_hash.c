/* embed_hash.c: the built-in embedder: signed feature hashing of n-grams, no model needed.
 *
 * The text is case-folded (Unicode, via utf8proc) and split into words: maximal runs of letters, digits,
 * '_' and any non-ASCII byte. Features, each hashed with FNV-1a into a bucket and a sign:
 *   word unigrams (weight 1.0), word bigrams (0.7), character 3-, 4- and 5-grams of "<word>" (0.25).
 * The sign (from an independent bit of the hash) makes collisions cancel in expectation instead of
 * adding up, so dot products stay unbiased estimates of feature overlap. The result is L2-normalised.
 * Every constant is fixed and the hash reads bytes, so the same text gives the same vector everywhere. */
#include "retrace/memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "memory/hash.h"

#define HASH_KIND "hash-ngram-v1"
#define W_UNIGRAM 1.0
#define W_BIGRAM 0.7
#define W_CHARGRAM 0.25
#define CHAR_N_MIN 3
#define CHAR_N_MAX 5
#define MAX_WORD_BYTES 64 /* longer runs (hashes, base64) are cut: their tail adds nothing useful */

/* Distinct tags keep a word, a bigram and a 3-gram that spell the same bytes in different buckets. */
enum { TAG_UNIGRAM = 'w', TAG_BIGRAM = 'b', TAG_CHAR = 'c' };

static void add_feature(double *acc, int dim, int tag, const char *a, size_t na, const char *b, size_t nb, double w) {
    uint8_t t = (uint8_t)tag;
    uint64_t h = rt_fnv1a64(RT_FNV64_OFFSET, &t, 1);
    h = rt_fnv1a64(h, a, na);
    if (b) {
        uint8_t sep = 0;
        h = rt_fnv1a64(h, &sep, 1);
        h = rt_fnv1a64(h, b, nb);
    }
    h = rt_mix64(h);
    size_t bucket = (size_t)(h % (uint64_t)dim);
    acc[bucket] += (h >> 63) ? -w : w;
}

static int is_word_byte(unsigned char c) { return c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static void char_grams(double *acc, int dim, const char *word, size_t len) {
    char buf[MAX_WORD_BYTES + 2];
    buf[0] = '<';
    memcpy(buf + 1, word, len);
    buf[len + 1] = '>';
    size_t n = len + 2;
    for (int g = CHAR_N_MIN; g <= CHAR_N_MAX; g++)
        for (size_t i = 0; i + (size_t)g <= n; i++) add_feature(acc, dim, TAG_CHAR, buf + i, (size_t)g, NULL, 0, W_CHARGRAM);
}

static void embed_one(const char *text, int dim, double *acc, float *out) {
    memset(acc, 0, (size_t)dim * sizeof *acc);
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)text, 0, &folded,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    /* Invalid UTF-8 is embedded as the raw bytes, ASCII-lowercased, rather than rejected. */
    char *s = r >= 0 ? (char *)folded : rt_strdup(text);
    if (r < 0)
        for (char *c = s; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    const char *prev = NULL;
    size_t prev_len = 0;
    for (const char *p = s; *p;) {
        if (!is_word_byte((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *w = p;
        while (*p && is_word_byte((unsigned char)*p)) p++;
        size_t len = (size_t)(p - w) > MAX_WORD_BYTES ? MAX_WORD_BYTES : (size_t)(p - w);
        add_feature(acc, dim, TAG_UNIGRAM, w, len, NULL, 0, W_UNIGRAM);
        if (prev) add_feature(acc, dim, TAG_BIGRAM, prev, prev_len, w, len, W_BIGRAM);
        char_grams(acc, dim, w, len);
        prev = w;
        prev_len = len;
    }
    free(s);
    double n2 = 0;
    for (int i = 0; i < dim; i++) n2 += acc[i] * acc[i];
    double inv = n2 > 0 ? 1.0 / sqrt(n2) : 0.0;
    for (int i = 0; i < dim; i++) out[i] = (float)(acc[i] * inv);
}

static rt_status hash_embed(rt_embedder *e, const char *const *texts, int n, float *out) {
    double *acc = rt_malloc((size_t)e->dim * sizeof *acc);
    for (int i = 0; i < n; i++) embed_one(texts[i] ? texts[i] : "", e->dim, acc, out + (size_t)i * (size_t)e->dim);
    free(acc);
    return RT_OK;
}

static void hash_destroy(rt_embedder *e) { (void)e; }

static const rt_embedder_vtable HASH_VTABLE = {HASH_KIND, hash_embed, hash_destroy};

rt_status rt_hash_embedder_create(int dim, rt_embedder **out) {
    if (dim < 8 || dim > RT_EMBED_MAX_DIM)
        return rt_fail(RT_ERR_ARG, "hash embedder: dimension %d out of range 8..%d", dim, RT_EMBED_MAX_DIM);
    rt_embedder *e = rt_calloc(1, sizeof *e);
    e->vt = &HASH_VTABLE;
    e->dim = dim;
    char spec[64];
    snprintf(spec, sizeof spec, "%s:%d", HASH_KIND, dim);
    e->spec = rt_strdup(spec);
    *out = e;
    return RT_OK;
}
