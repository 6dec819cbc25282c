/* strmap.c: open-addressing hash maps: byte string -> int32 (vocabularies, caches) and id pair ->
 * merge (BPE merge ranks). Linear probing at a load factor of at most one half. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* A fast 64-bit hash over 8-byte chunks (multiply-xorshift); never returns 0, which marks an empty
 * slot. Quality matters less than speed here: keys are short and the table is half empty. */
uint64_t rt_tok_hash(const char *key, size_t len) {
    const uint64_t m = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0xcbf29ce484222325ull ^ (len * m);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t k;
        memcpy(&k, key + i, 8);
        h = (h ^ k) * m;
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t k = 0;
        memcpy(&k, key + i, len - i);
        h = (h ^ k) * m;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h ? h : 1;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

void rt_tok_strmap_init(rt_tok_strmap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->hash = rt_calloc(m->cap, sizeof *m->hash);
    m->koff = rt_malloc(m->cap * sizeof *m->koff);
    m->klen = rt_malloc(m->cap * sizeof *m->klen);
    m->val = rt_malloc(m->cap * sizeof *m->val);
}

void rt_tok_strmap_free(rt_tok_strmap *m) {
    free(m->hash);
    free(m->koff);
    free(m->klen);
    free(m->val);
    rt_tok_buf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const rt_tok_strmap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->hash[i]) {
        if (m->hash[i] == h && m->klen[i] == len && memcmp(m->arena.p + m->koff[i], key, len) == 0) return i;
        i = (i + 1) & mask;
    }
    return i;
}

static void grow(rt_tok_strmap *m) {
    rt_tok_strmap old = *m;
    m->cap *= 2;
    m->hash = rt_calloc(m->cap, sizeof *m->hash);
    m->koff = rt_malloc(m->cap * sizeof *m->koff);
    m->klen = rt_malloc(m->cap * sizeof *m->klen);
    m->val = rt_malloc(m->cap * sizeof *m->val);
    size_t mask = m->cap - 1;
    for (size_t j = 0; j < old.cap; j++) {
        if (!old.hash[j]) continue;
        size_t i = (size_t)old.hash[j] & mask;
        while (m->hash[i]) i = (i + 1) & mask;
        m->hash[i] = old.hash[j];
        m->koff[i] = old.koff[j];
        m->klen[i] = old.klen[j];
        m->val[i] = old.val[j];
    }
    free(old.hash);
    free(old.koff);
    free(old.klen);
    free(old.val);
}

void rt_tok_strmap_put(rt_tok_strmap *m, const char *key, size_t len, int32_t val) {
    if ((m->n + 1) * 2 > m->cap) grow(m);
    uint64_t h = rt_tok_hash(key, len);
    size_t i = find_slot(m, key, len, h);
    if (!m->hash[i]) {
        m->hash[i] = h;
        m->koff[i] = (uint32_t)m->arena.len;
        m->klen[i] = (uint32_t)len;
        rt_tok_buf_put(&m->arena, key, len);
        m->n++;
    }
    m->val[i] = val;
}

int32_t rt_tok_strmap_get(const rt_tok_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    size_t i = find_slot(m, key, len, rt_tok_hash(key, len));
    return m->hash[i] ? m->val[i] : -1;
}
