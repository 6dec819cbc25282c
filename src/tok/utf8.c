/* utf8.c: UTF-8 decoding, validation with the "maximal subpart" replacement rule, and the Unicode
 * whitespace test the reference library uses. */
#include <string.h>

#include "tok/tok_internal.h"

/* How many bytes at s form the longest prefix of a valid sequence; *need gets the full length the
 * lead byte asks for (0 when the lead byte itself is invalid). */
static size_t valid_prefix(const unsigned char *s, size_t n, size_t *need) {
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *need = 1;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) *need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        *need = 3;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        *need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *need = 0;
        return 0;
    }
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) k++;
    else return k;
    while (k < *need && k < n && s[k] >= 0x80 && s[k] <= 0xBF) k++;
    return k;
}

size_t rt_tok_utf8_valid_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    size_t need, k = valid_prefix(s, n, &need);
    return need && k == need ? need : 0;
}

size_t rt_tok_utf8_decode(const unsigned char *s, int32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0) {
        *cp = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

size_t rt_tok_utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int rt_tok_utf8_sanitize(const char *s, size_t n, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    static const char REPLACEMENT[] = "\xEF\xBF\xBD";
    int replaced = 0;
    size_t i = 0, run = 0; /* copy valid runs in one go */
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t need, k = valid_prefix(u + i, n - i, &need);
        if (need && k == need) {
            i += k;
            continue;
        }
        rt_tok_buf_put(out, s + run, i - run);
        rt_tok_buf_put(out, REPLACEMENT, 3);
        replaced = 1;
        i += k ? k : 1;
        run = i;
    }
    rt_tok_buf_put(out, s + run, n - run);
    return replaced;
}

int rt_tok_is_space(int32_t cp) {
    if (cp >= 0x09 && cp <= 0x0D) return 1;
    switch (cp) {
    case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}
