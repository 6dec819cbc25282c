/* hash.h: fixed hash functions of the memory module (private). Fixed constants and byte order, so
 * feature buckets and checksums are the same on every machine and every run. */
#ifndef RT_MEMORY_HASH_H
#define RT_MEMORY_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "retrace/base.h"

#define RT_FNV64_OFFSET 0xcbf29ce484222325ULL
#define RT_FNV64_PRIME 0x100000001b3ULL

/* FNV-1a over bytes, continuing from `h` (start with RT_FNV64_OFFSET). */
uint64_t rt_fnv1a64(uint64_t h, const void *data, size_t len);
/* rt_mix64 (retrace/base.h) spreads FNV's weak low bits over the whole word. */

/* A streaming 64-bit checksum for index files: four independent multiply-rotate lanes over 8-byte
 * little-endian words, so it runs at memory speed where byte-wise FNV would not. */
typedef struct {
    uint64_t lane[4];
    uint8_t tail[32];
    size_t n_tail;
    uint64_t total;
} rt_checksum;

void rt_checksum_init(rt_checksum *c);
void rt_checksum_update(rt_checksum *c, const void *data, size_t len);
uint64_t rt_checksum_final(const rt_checksum *c);

#endif
