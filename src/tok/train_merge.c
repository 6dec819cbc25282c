/* train_merge.c: the BPE merge loop: repeatedly join the most frequent adjacent pair of tokens inside
 * the corpus words (ties broken by the smaller ids, so training is deterministic). Pair counts are
 * kept up to date incrementally: a merge only revisits the words that hold the pair, and a max-heap
 * with lazy deletion finds the next pair. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

typedef struct {
    int32_t *sym;
    int32_t len;
    int64_t count;
} word;

typedef struct {
    uint64_t key;     /* UINT64_MAX: empty */
    int64_t count;
    int32_t *words;   /* words that held the pair at some point (may repeat or be stale) */
    int32_t n_words, cap_words;
} pair_stat;

typedef struct {
    pair_stat *v;
    size_t cap, n;
} pair_table;

typedef struct {
    int64_t count;
    int32_t a, b;
} heap_item;

typedef struct {
    heap_item *v;
    size_t n, cap;
} heap;

static uint64_t key_of(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static void table_init(pair_table *t, size_t cap) {
    t->cap = cap;
    t->n = 0;
    t->v = rt_calloc(cap, sizeof *t->v);
    for (size_t i = 0; i < cap; i++) t->v[i].key = UINT64_MAX;
}

static pair_stat *table_get(pair_table *t, int32_t a, int32_t b, int create) {
    if (create && (t->n + 1) * 2 > t->cap) {
        pair_table old = *t;
        table_init(t, old.cap * 2);
        for (size_t i = 0; i < old.cap; i++) {
            if (old.v[i].key == UINT64_MAX) continue;
            size_t j = (size_t)(old.v[i].key * 0x9E3779B97F4A7C15ull >> 20) & (t->cap - 1);
            while (t->v[j].key != UINT64_MAX) j = (j + 1) & (t->cap - 1);
            t->v[j] = old.v[i];
            t->n++;
        }
        free(old.v);
    }
    uint64_t k = key_of(a, b);
    size_t j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (t->cap - 1);
    while (t->v[j].key != UINT64_MAX) {
        if (t->v[j].key == k) return &t->v[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!create) return NULL;
    t->v[j].key = k;
    t->n++;
    return &t->v[j];
}

static int item_before(const heap_item *x, const heap_item *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static void heap_push(heap *h, heap_item it) {
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = rt_realloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    h->v[i] = it;
    while (i && item_before(&h->v[i], &h->v[(i - 1) / 2])) {
        heap_item t = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static heap_item heap_pop(heap *h) {
    heap_item top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && item_before(&h->v[l], &h->v[m])) m = l;
        if (r < h->n && item_before(&h->v[r], &h->v[m])) m = r;
        if (m == i) break;
        heap_item t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

/* Adds delta to a pair's count; a positive delta records the word. Changed pairs are queued. */
static void bump(pair_table *t, int32_t a, int32_t b, int64_t delta, int32_t w, rt_tok_ids *changed) {
    pair_stat *p = table_get(t, a, b, 1);
    p->count += delta;
    if (delta > 0 && (p->n_words == 0 || p->words[p->n_words - 1] != w)) {
        if (p->n_words == p->cap_words) {
            p->cap_words = p->cap_words ? p->cap_words * 2 : 4;
            p->words = rt_realloc(p->words, (size_t)p->cap_words * sizeof *p->words);
        }
        p->words[p->n_words++] = w;
    }
    rt_tok_ids_push(changed, a);
    rt_tok_ids_push(changed, b);
}

/* Replaces each (a, b) in word w by c, keeping the neighbouring pair counts right. */
static void merge_in_word(word *wd, int32_t w, int32_t a, int32_t b, int32_t c, pair_table *t, rt_tok_ids *changed) {
    int32_t out = 0;
    int64_t n = wd->count;
    for (int32_t i = 0; i < wd->len; i++) {
        if (i + 1 < wd->len && wd->sym[i] == a && wd->sym[i + 1] == b) {
            if (out > 0) {
                bump(t, wd->sym[out - 1], a, -n, w, changed);
                bump(t, wd->sym[out - 1], c, n, w, changed);
            }
            if (i + 2 < wd->len) {
                bump(t, b, wd->sym[i + 2], -n, w, changed);
                bump(t, c, wd->sym[i + 2], n, w, changed);
            }
            bump(t, a, b, -n, w, changed);
            wd->sym[out++] = c;
            i++;
        } else {
            wd->sym[out++] = wd->sym[i];
        }
    }
    wd->len = out;
}

static int32_t add_token(rt_tok_bpe_result *r, rt_tok_strmap *ids, const char *s, size_t n) {
    int32_t id = rt_tok_strmap_get(ids, s, n);
    if (id >= 0) return id;
    r->token = rt_realloc(r->token, (size_t)(r->n_tokens + 1) * sizeof *r->token);
    memset(&r->token[r->n_tokens], 0, sizeof *r->token);
    rt_tok_buf_put(&r->token[r->n_tokens], s, n);
    rt_tok_strmap_put(ids, s, n, r->n_tokens);
    return r->n_tokens++;
}

void rt_tok_train_merges(const rt_tok_word_counts *wc, int32_t max_tokens, int32_t min_frequency,
                         rt_tok_bpe_result *r) {
    memset(r, 0, sizeof *r);
    rt_tok_strmap ids;
    rt_tok_strmap_init(&ids, (size_t)max_tokens);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        add_token(r, &ids, &c, 1);
    }
    word *words = rt_calloc(wc->n + 1, sizeof *words);
    const rt_tok_strmap *m = &wc->index;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hash[i]) continue;
        word *wd = &words[m->val[i]];
        wd->len = (int32_t)m->klen[i];
        wd->sym = rt_malloc((size_t)wd->len * sizeof *wd->sym + 1);
        for (int32_t k = 0; k < wd->len; k++) wd->sym[k] = (unsigned char)m->arena.p[m->koff[i] + k];
        wd->count = wc->count[m->val[i]];
    }
    pair_table t;
    table_init(&t, 1 << 16);
    rt_tok_ids changed = {0};
    for (size_t w = 0; w < wc->n; w++)
        for (int32_t k = 0; k + 1 < words[w].len; k++)
            bump(&t, words[w].sym[k], words[w].sym[k + 1], words[w].count, (int32_t)w, &changed);
    heap h = {0};
    for (size_t i = 0; i < t.cap; i++)
        if (t.v[i].key != UINT64_MAX && t.v[i].count > 0)
            heap_push(&h, (heap_item){t.v[i].count, (int32_t)(t.v[i].key >> 32), (int32_t)(uint32_t)t.v[i].key});
    int32_t *stamp = rt_malloc((wc->n + 1) * sizeof *stamp);
    for (size_t w = 0; w <= wc->n; w++) stamp[w] = -1;
    while (h.n && r->n_tokens < max_tokens) {
        heap_item top = heap_pop(&h);
        pair_stat *p = table_get(&t, top.a, top.b, 0);
        if (!p || p->count != top.count) continue; /* stale: a fresher entry is in the heap */
        if (top.count < min_frequency) break;
        rt_tok_buf joined = {0};
        rt_tok_buf_put(&joined, r->token[top.a].p, r->token[top.a].len);
        rt_tok_buf_put(&joined, r->token[top.b].p, r->token[top.b].len);
        int32_t c = add_token(r, &ids, joined.p, joined.len);
        rt_tok_buf_free(&joined);
        r->left = rt_realloc(r->left, (size_t)(r->n_merges + 1) * sizeof *r->left);
        r->right = rt_realloc(r->right, (size_t)(r->n_merges + 1) * sizeof *r->right);
        r->left[r->n_merges] = top.a;
        r->right[r->n_merges] = top.b;
        /* Copy the word list: bump() may grow the table and move p. */
        int32_t nw = p->n_words, *list = rt_malloc((size_t)nw * sizeof *list + 1);
        memcpy(list, p->words, (size_t)nw * sizeof *list);
        changed.n = 0;
        for (int32_t k = 0; k < nw; k++) {
            int32_t w = list[k];
            if (stamp[w] == r->n_merges) continue;
            stamp[w] = r->n_merges;
            merge_in_word(&words[w], w, top.a, top.b, c, &t, &changed);
        }
        free(list);
        r->n_merges++;
        for (size_t k = 0; k + 1 < changed.n; k += 2) {
            pair_stat *q = table_get(&t, changed.ids[k], changed.ids[k + 1], 0);
            if (q && q->count > 0) heap_push(&h, (heap_item){q->count, changed.ids[k], changed.ids[k + 1]});
        }
    }
    for (size_t w = 0; w < wc->n; w++) free(words[w].sym);
    free(words);
    for (size_t i = 0; i < t.cap; i++) free(t.v[i].words);
    free(t.v);
    free(h.v);
    free(stamp);
    rt_tok_ids_free(&changed);
    rt_tok_strmap_free(&ids);
}

void rt_tok_bpe_result_free(rt_tok_bpe_result *r) {
    for (int32_t i = 0; i < r->n_tokens; i++) rt_tok_buf_free(&r->token[i]);
    free(r->token);
    free(r->left);
    free(r->right);
    memset(r, 0, sizeof *r);
}
