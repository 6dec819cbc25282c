/* cache.c: the per-thread word cache: most words of a text repeat, and a hit skips the merges. The
 * cache belongs to one tokenizer at a time (told apart by serial number) and is emptied when full. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define CACHE_MAX_WORDS 100000
#define CACHE_EXPECTED_WORDS 4096

typedef struct {
    uint64_t serial;
    rt_tok_strmap words;  /* word -> index into spans */
    uint32_t *span_off;
    uint32_t *span_len;
    size_t n_spans;
    rt_tok_ids ids;
} word_cache;

static _Thread_local word_cache *tls_cache;

static void cache_reset(word_cache *c, uint64_t serial) {
    rt_tok_strmap_free(&c->words);
    rt_tok_strmap_init(&c->words, CACHE_EXPECTED_WORDS);
    c->n_spans = 0;
    c->ids.n = 0;
    c->serial = serial;
}

const int32_t *rt_tok_cache_get(const rt_tokenizer *t, const char *w, size_t n, size_t *n_ids) {
    word_cache *c = tls_cache;
    if (!c || c->serial != t->serial) return NULL;
    int32_t k = rt_tok_strmap_get(&c->words, w, n);
    if (k < 0) return NULL;
    *n_ids = c->span_len[k];
    return c->ids.ids + c->span_off[k];
}

void rt_tok_cache_put(const rt_tokenizer *t, const char *w, size_t n, const int32_t *ids, size_t n_ids) {
    word_cache *c = tls_cache;
    if (!c) {
        c = tls_cache = rt_calloc(1, sizeof *c);
        c->span_off = rt_malloc(CACHE_MAX_WORDS * sizeof *c->span_off);
        c->span_len = rt_malloc(CACHE_MAX_WORDS * sizeof *c->span_len);
        cache_reset(c, t->serial);
    }
    if (c->serial != t->serial || c->n_spans == CACHE_MAX_WORDS) cache_reset(c, t->serial);
    c->span_off[c->n_spans] = (uint32_t)c->ids.n;
    c->span_len[c->n_spans] = (uint32_t)n_ids;
    for (size_t i = 0; i < n_ids; i++) rt_tok_ids_push(&c->ids, ids[i]);
    rt_tok_strmap_put(&c->words, w, n, (int32_t)c->n_spans);
    c->n_spans++;
}

void rt_tok_cache_thread_cleanup(void) {
    word_cache *c = tls_cache;
    if (!c) return;
    rt_tok_strmap_free(&c->words);
    free(c->span_off);
    free(c->span_len);
    rt_tok_ids_free(&c->ids);
    free(c);
    tls_cache = NULL;
}
