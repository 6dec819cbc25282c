/* precompiled.c: SentencePiece's precompiled normalization charsmap (the "Precompiled" normalizer of
 * XLM-R style tokenizers). The blob is a little-endian u32 trie size, a darts-clone double array of
 * that many bytes, then NUL-terminated replacement strings. As the reference does, each grapheme
 * cluster shorter than 6 bytes is looked up whole first, else char by char; the shortest prefix match
 * gives the replacement of the whole chunk. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

#define WHOLE_GRAPHEME_MAX_BYTES 6

struct rt_tok_precompiled {
    uint32_t *units;
    size_t n_units;
    char *strings;
    size_t n_strings;
};

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static rt_status b64decode(const char *s, const char *where, unsigned char **out, size_t *n) {
    size_t len = strlen(s);
    unsigned char *b = rt_malloc(len / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=') break;
        int v = b64val(s[i]);
        if (v < 0) {
            free(b);
            return rt_fail(RT_ERR_FORMAT, "%s: normalizer.precompiled_charsmap is not base64 (byte %zu)", where, i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = b;
    *n = k;
    return RT_OK;
}

rt_status rt_tok_precompiled_load(const char *b64, const char *where, rt_tok_precompiled **out) {
    unsigned char *blob = NULL;
    size_t n = 0;
    RT_TRY(b64decode(b64, where, &blob, &n));
    uint32_t trie_bytes = 0;
    if (n >= 4)
        trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (n < 4 || trie_bytes % 4 || trie_bytes > n - 4 || trie_bytes == 0) {
        free(blob);
        return rt_fail(RT_ERR_FORMAT, "%s: normalizer.precompiled_charsmap has a bad trie size", where);
    }
    rt_tok_precompiled *pc = rt_calloc(1, sizeof *pc);
    pc->n_units = trie_bytes / 4;
    pc->units = rt_malloc(trie_bytes);
    for (size_t i = 0; i < pc->n_units; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        pc->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    pc->n_strings = n - 4 - trie_bytes;
    pc->strings = rt_malloc(pc->n_strings + 1);
    memcpy(pc->strings, blob + 4 + trie_bytes, pc->n_strings);
    pc->strings[pc->n_strings] = '\0';
    free(blob);
    *out = pc;
    return RT_OK;
}

void rt_tok_precompiled_free(rt_tok_precompiled *pc) {
    if (!pc) return;
    free(pc->units);
    free(pc->strings);
    free(pc);
}

static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static uint32_t u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* The replacement of the shortest trie key that prefixes s[0..n), or NULL. */
static const char *lookup(const rt_tok_precompiled *pc, const unsigned char *s, size_t n) {
    size_t pos = 0;
    uint32_t unit = pc->units[0];
    pos ^= u_offset(unit);
    for (size_t i = 0; i < n && s[i]; i++) {
        pos ^= s[i];
        if (pos >= pc->n_units) return NULL;
        unit = pc->units[pos];
        if (u_label(unit) != s[i]) return NULL;
        pos ^= u_offset(unit);
        if (pos >= pc->n_units) return NULL;
        if (u_has_leaf(unit)) {
            uint32_t v = u_value(pc->units[pos]);
            return v < pc->n_strings ? pc->strings + v : NULL;
        }
    }
    return NULL;
}

static void put_chunk(const rt_tok_precompiled *pc, const char *s, size_t n, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    if (n < WHOLE_GRAPHEME_MAX_BYTES) {
        const char *r = lookup(pc, u, n);
        if (r) {
            rt_tok_buf_put(out, r, strlen(r));
            return;
        }
    }
    for (size_t i = 0; i < n;) {
        size_t l = rt_tok_utf8_valid_len(u + i, n - i);
        if (!l) l = 1;
        const char *r = lookup(pc, u + i, l);
        if (r) rt_tok_buf_put(out, r, strlen(r));
        else rt_tok_buf_put(out, s + i, l);
        i += l;
    }
}

void rt_tok_precompiled_apply(const rt_tok_precompiled *pc, const char *in, size_t n, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    utf8proc_int32_t state = 0;
    size_t g = 0;
    int32_t prev = -1;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + i, &cp);
        if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
            put_chunk(pc, in + g, i - g, out);
            g = i;
        }
        prev = cp;
        i += l;
    }
    if (g < n) put_chunk(pc, in + g, n - g, out);
}
