/* bpe.c: the BPE model: a word starts as chars (or bytes for byte-level models), then the pair with
 * the lowest merge rank (leftmost on ties) is merged until no pair is a merge. A binary heap of
 * candidate merges keeps this O(n log n) for the long words SentencePiece-style models see. Unknown
 * chars become <0xXX> byte tokens (byte_fallback) or the unk token (fused when fuse_unk). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* Words up to this many bytes are cached per thread; longer ones are rarely repeated. */
#define CACHE_MAX_WORD_BYTES 256
#define STACK_SYMBOLS 128
#define HEAP_SLOTS_PER_SYMBOL 2

typedef struct {
    int32_t id;
    int32_t prev, next;
    int32_t len; /* bytes of the word it covers; 0 once merged into its left neighbour */
} symbol;

typedef struct {
    int32_t rank;
    int32_t pos;
    int32_t merged;
} cand;

static int cand_less(const cand *a, const cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(cand *h, size_t *n, cand c) {
    size_t i = (*n)++;
    h[i] = c;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&h[i], &h[p])) break;
        cand t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static cand heap_pop(cand *h, size_t *n) {
    cand top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && cand_less(&h[l], &h[m])) m = l;
        if (r < *n && cand_less(&h[r], &h[m])) m = r;
        if (m == i) break;
        cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

static void push_symbol(symbol *sy, size_t *n, int32_t id, int32_t len) {
    sy[*n] = (symbol){id, (int32_t)*n - 1, (int32_t)*n + 1, len};
    (*n)++;
}

/* Splits the word into its initial symbols; returns their count. */
static size_t initial_symbols(const rt_tokenizer *t, const char *w, size_t n, symbol *sy) {
    const rt_tok_model *m = &t->model;
    size_t ns = 0;
    if (t->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t id = m->byte_ids[(unsigned char)w[i]];
            if (id >= 0) push_symbol(sy, &ns, id, 1);
            else if (t->unk_id >= 0) push_symbol(sy, &ns, t->unk_id, 1);
        }
        return ns;
    }
    int pending_unk = 0;
    for (size_t i = 0; i < n;) {
        size_t l = rt_tok_utf8_valid_len((const unsigned char *)w + i, n - i);
        if (!l) l = 1;
        int32_t id = rt_tok_strmap_get(&t->vocab, w + i, l);
        if (id >= 0) {
            push_symbol(sy, &ns, id, (int32_t)l);
            pending_unk = 0;
        } else {
            int all = m->byte_fallback;
            for (size_t b = 0; all && b < l; b++) all = m->byte_ids[(unsigned char)w[i + b]] >= 0;
            if (all) {
                for (size_t b = 0; b < l; b++) push_symbol(sy, &ns, m->byte_ids[(unsigned char)w[i + b]], 1);
                pending_unk = 0;
            } else if (t->unk_id >= 0) {
                if (pending_unk && m->fuse_unk) sy[ns - 1].len += (int32_t)l;
                else push_symbol(sy, &ns, t->unk_id, (int32_t)l);
                pending_unk = 1;
            }
        }
        i += l;
    }
    return ns;
}

static void try_push(const rt_tokenizer *t, const symbol *sy, int32_t pos, cand *heap, size_t *nh) {
    if (pos < 0 || sy[pos].next < 0) return;
    int32_t nx = sy[pos].next;
    int32_t rank, merged;
    if (rt_tok_pairmap_get(&t->model.merges, sy[pos].id, sy[nx].id, &rank, &merged))
        heap_push(heap, nh, (cand){rank, pos, merged});
}

static void merge_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out) {
    symbol sy_stack[STACK_SYMBOLS];
    cand heap_stack[HEAP_SLOTS_PER_SYMBOL * STACK_SYMBOLS];
    symbol *sy = n <= STACK_SYMBOLS ? sy_stack : rt_malloc(n * sizeof *sy);
    cand *heap = n <= STACK_SYMBOLS ? heap_stack : rt_malloc(HEAP_SLOTS_PER_SYMBOL * n * sizeof *heap);
    size_t ns = initial_symbols(t, w, n, sy), nh = 0;
    if (ns) sy[ns - 1].next = -1;
    for (size_t i = 0; i + 1 < ns; i++) try_push(t, sy, (int32_t)i, heap, &nh);
    /* The heap starts with at most n-1 candidates and each merge (at most n-1 of them) pops one and
     * pushes at most two, so it never holds more than 2n. */
    while (nh) {
        cand c = heap_pop(heap, &nh);
        symbol *a = &sy[c.pos];
        if (a->len == 0 || a->next < 0) continue;
        symbol *b = &sy[a->next];
        int32_t rank, merged;
        if (!rt_tok_pairmap_get(&t->model.merges, a->id, b->id, &rank, &merged) || merged != c.merged) continue;
        a->id = merged;
        a->len += b->len;
        a->next = b->next;
        b->len = 0;
        if (a->next >= 0) sy[a->next].prev = c.pos;
        try_push(t, sy, a->prev, heap, &nh);
        try_push(t, sy, c.pos, heap, &nh);
    }
    for (int32_t i = ns ? 0 : -1; i >= 0; i = sy[i].next) rt_tok_ids_push(out, sy[i].id);
    if (sy != sy_stack) free(sy);
    if (heap != heap_stack) free(heap);
}

void rt_tok_bpe_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out) {
    if (n == 0) return;
    if (t->model.ignore_merges) {
        int32_t id = rt_tok_strmap_get(&t->vocab, w, n);
        if (id >= 0) {
            rt_tok_ids_push(out, id);
            return;
        }
    }
    int cacheable = n <= CACHE_MAX_WORD_BYTES;
    if (cacheable) {
        size_t k;
        const int32_t *hit = rt_tok_cache_get(t, w, n, &k);
        if (hit) {
            for (size_t i = 0; i < k; i++) rt_tok_ids_push(out, hit[i]);
            return;
        }
    }
    size_t before = out->n;
    merge_word(t, w, n, out);
    if (cacheable) rt_tok_cache_put(t, w, n, out->ids + before, out->n - before);
}
