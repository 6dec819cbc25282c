/* bytelevel.c: GPT-2's reversible mapping of the 256 bytes onto printable code points, which
 * byte-level vocabularies are written in: printable Latin-1 bytes stand for themselves, the other 68
 * bytes take U+0100 upwards in byte order. */
#include "tok/tok_internal.h"

static int printable(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

/* The 68 non-printable bytes are 0x00-0x20, 0x7F-0xA0 and 0xAD, numbered in that order from U+0100. */
int32_t rt_tok_bytelevel_char(unsigned char b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 256 + b;
    if (b <= 0xA0) return 256 + 33 + (b - 0x7F);
    return 256 + 67; /* 0xAD */
}

int rt_tok_bytelevel_byte(int32_t cp) {
    if (cp < 256) return cp >= 0 && printable(cp) ? cp : -1;
    int32_t k = cp - 256;
    if (k <= 0x20) return k;
    if (k < 67) return 0x7F + (k - 33);
    if (k == 67) return 0xAD;
    return -1;
}

int rt_tok_bytelevel_unmap(const char *s, size_t n, rt_tok_buf *out) {
    /* Every mapped char is 1 or 2 bytes of UTF-8, so the result is never longer than s. */
    char tmp[512];
    rt_tok_buf big = {0};
    char *dst = n <= sizeof tmp ? tmp : NULL;
    size_t k = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = rt_tok_utf8_valid_len(u + i, n - i);
        if (!l) {
            rt_tok_buf_free(&big);
            return 0;
        }
        int32_t cp;
        rt_tok_utf8_decode(u + i, &cp);
        int b = rt_tok_bytelevel_byte(cp);
        if (b < 0) {
            rt_tok_buf_free(&big);
            return 0;
        }
        if (dst) dst[k++] = (char)b;
        else rt_tok_buf_putc(&big, (char)b);
        i += l;
    }
    if (dst) rt_tok_buf_put(out, dst, k);
    else rt_tok_buf_put(out, big.p, big.len);
    rt_tok_buf_free(&big);
    return 1;
}

void rt_tok_bytelevel_map(const char *s, size_t n, rt_tok_buf *out) {
    for (size_t i = 0; i < n; i++) {
        char tmp[4];
        rt_tok_buf_put(out, tmp, rt_tok_utf8_encode(rt_tok_bytelevel_char((unsigned char)s[i]), tmp));
    }
}
