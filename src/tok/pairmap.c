/* pairmap.c: (left id, right id) -> (rank, merged id), the merge table of BPE. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_slot(uint64_t k, size_t mask) {
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & mask;
}

static void alloc_table(rt_tok_pairmap *m, size_t cap) {
    m->cap = cap;
    m->key = rt_malloc(cap * sizeof *m->key);
    m->rank = rt_malloc(cap * sizeof *m->rank);
    m->merged = rt_malloc(cap * sizeof *m->merged);
    memset(m->key, 0xff, cap * sizeof *m->key);
}

void rt_tok_pairmap_init(rt_tok_pairmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2 + 1) cap *= 2;
    alloc_table(m, cap);
}

void rt_tok_pairmap_free(rt_tok_pairmap *m) {
    free(m->key);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

static void insert(rt_tok_pairmap *m, uint64_t k, int32_t rank, int32_t merged) {
    size_t mask = m->cap - 1, i = pair_slot(k, mask);
    while (m->key[i] != PAIR_EMPTY && m->key[i] != k) i = (i + 1) & mask;
    if (m->key[i] == PAIR_EMPTY) m->n++;
    m->key[i] = k;
    m->rank[i] = rank;
    m->merged[i] = merged;
}

void rt_tok_pairmap_put(rt_tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    if ((m->n + 1) * 2 > m->cap) {
        rt_tok_pairmap old = *m;
        alloc_table(m, old.cap * 2);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.key[i] != PAIR_EMPTY) insert(m, old.key[i], old.rank[i], old.merged[i]);
        rt_tok_pairmap_free(&old);
    }
    insert(m, pair_key(a, b), rank, merged);
}

int rt_tok_pairmap_get(const rt_tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged) {
    if (!m->cap) return 0;
    uint64_t k = pair_key(a, b);
    size_t mask = m->cap - 1, i = pair_slot(k, mask);
    while (m->key[i] != PAIR_EMPTY) {
        if (m->key[i] == k) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return 1;
        }
        i = (i + 1) & mask;
    }
    return 0;
}
