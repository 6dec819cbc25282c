/* hash.c: FNV-1a for feature hashing and a fast streaming checksum for index files. */
#include "memory/hash.h"

#include <string.h>

uint64_t rt_fnv1a64(uint64_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= RT_FNV64_PRIME;
    }
    return h;
}

#define CK_PRIME1 0x9e3779b185ebca87ULL
#define CK_PRIME2 0xc2b2ae3d27d4eb4fULL
#define CK_BLOCK 32

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* Words are read as little-endian explicitly so a big-endian machine computes the same value. */
static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void block(rt_checksum *c, const uint8_t *p) {
    for (int i = 0; i < 4; i++) {
        c->lane[i] += load_le64(p + 8 * i) * CK_PRIME2;
        c->lane[i] = rotl(c->lane[i], 31) * CK_PRIME1;
    }
}

void rt_checksum_init(rt_checksum *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 4; i++) c->lane[i] = CK_PRIME1 * (uint64_t)(i + 1);
}

void rt_checksum_update(rt_checksum *c, const void *data, size_t len) {
    const uint8_t *p = data;
    c->total += len;
    if (c->n_tail) {
        size_t take = CK_BLOCK - c->n_tail < len ? CK_BLOCK - c->n_tail : len;
        memcpy(c->tail + c->n_tail, p, take);
        c->n_tail += take;
        p += take;
        len -= take;
        if (c->n_tail < CK_BLOCK) return;
        block(c, c->tail);
        c->n_tail = 0;
    }
    for (; len >= CK_BLOCK; p += CK_BLOCK, len -= CK_BLOCK) block(c, p);
    memcpy(c->tail, p, len);
    c->n_tail = len;
}

uint64_t rt_checksum_final(const rt_checksum *c) {
    uint64_t h = rotl(c->lane[0], 1) + rotl(c->lane[1], 7) + rotl(c->lane[2], 12) + rotl(c->lane[3], 18);
    h = rt_fnv1a64(h ^ c->total, c->tail, c->n_tail);
    return rt_mix64(h);
}
