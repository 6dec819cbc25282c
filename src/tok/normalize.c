/* normalize.c: the normalizers of tokenizer.json (NFC/NFKC/NFD/NFKD through utf8proc, Lowercase,
 * Prepend, Replace, Strip, StripAccents, BertNormalizer, Precompiled), applied in order. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

static int all_below(const char *s, size_t n, unsigned char limit) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= limit) return 0;
    return 1;
}

static void utf8proc_form(const char *in, size_t n, int options, rt_tok_buf *out) {
    if (n == 0) return;
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t r =
        utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)n, &res, options | UTF8PROC_STABLE);
    /* The text is valid UTF-8, so utf8proc only fails on memory; keep the text unchanged then. */
    if (r < 0) rt_tok_buf_put(out, in, n);
    else rt_tok_buf_put(out, res, (size_t)r);
    free(res);
}

/* A Unicode normalization form, except that chars newer than the reference's normalization data are
 * kept as they are (and, being starters to it, nothing composes across them). */
static void unicode_form(const char *in, size_t n, int options, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + i, &cp);
        if (rt_tok_ref_is_norm_frozen(cp)) {
            utf8proc_form(in + run, i - run, options, out);
            rt_tok_buf_put(out, in + i, l);
            run = i + l;
        }
        i += l;
    }
    utf8proc_form(in + run, n - run, options, out);
}

/* Per-char full lowercase mapping, as Rust's char::to_lowercase (no final-sigma context). The only
 * code point whose full mapping differs from the simple one is U+0130. */
static void lowercase(const char *in, size_t n, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            char c = (char)u[i++];
            rt_tok_buf_putc(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
            continue;
        }
        int32_t cp;
        i += rt_tok_utf8_decode(u + i, &cp);
        char tmp[4];
        if (cp == 0x130) {
            rt_tok_buf_put(out, "i\xCC\x87", 3);
            continue;
        }
        rt_tok_buf_put(out, tmp, rt_tok_utf8_encode(utf8proc_tolower(cp), tmp));
    }
}

static void replace_literal(const char *in, size_t n, const char *pat, const char *content, rt_tok_buf *out) {
    size_t pl = strlen(pat), cl = strlen(content);
    if (!pl) {
        rt_tok_buf_put(out, in, n);
        return;
    }
    size_t i = 0, run = 0;
    while (i + pl <= n) {
        if (in[i] == pat[0] && memcmp(in + i, pat, pl) == 0) {
            rt_tok_buf_put(out, in + run, i - run);
            rt_tok_buf_put(out, content, cl);
            i += pl;
            run = i;
        } else {
            i++;
        }
    }
    rt_tok_buf_put(out, in + run, n - run);
}

static void replace_regex(const char *in, size_t n, const rt_tok_regex *re, const char *content, rt_tok_buf *out) {
    size_t from = 0, ms, me, cl = strlen(content);
    while (rt_tok_regex_next(re, in, n, from, &ms, &me)) {
        rt_tok_buf_put(out, in + from, ms - from);
        rt_tok_buf_put(out, content, cl);
        from = me;
    }
    rt_tok_buf_put(out, in + from, n - from);
}

static void strip(const char *in, size_t n, int left, int right, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    size_t a = 0, b = n;
    while (left && a < b) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + a, &cp);
        if (!rt_tok_is_space(cp)) break;
        a += l;
    }
    while (right && b > a) {
        size_t s = b - 1;
        while (s > a && (u[s] & 0xC0) == 0x80) s--;
        int32_t cp;
        rt_tok_utf8_decode(u + s, &cp);
        if (!rt_tok_is_space(cp)) break;
        b = s;
    }
    rt_tok_buf_put(out, in + a, b - a);
}

/* Drops the chars `is_mark` selects: all combining marks for StripAccents, nonspacing marks for the
 * BERT normalizer (the reference's own tables, which differ). */
static void strip_marks(const char *in, size_t n, int (*is_mark)(int32_t), rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + i, &cp);
        if (!is_mark(cp)) rt_tok_buf_put(out, in + i, l);
        i += l;
    }
}

static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static void bert_clean(const char *in, size_t n, int clean, int chinese, rt_tok_buf *out) {
    const unsigned char *u = (const unsigned char *)in;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + i, &cp);
        i += l;
        if (clean) {
            if (rt_tok_ref_is_control(cp)) continue; /* the table includes NUL and U+FFFD */
            if (rt_tok_is_space(cp)) {
                rt_tok_buf_putc(out, ' ');
                continue;
            }
        }
        if (chinese && is_cjk(cp)) {
            rt_tok_buf_putc(out, ' ');
            rt_tok_buf_put(out, in + i - l, l);
            rt_tok_buf_putc(out, ' ');
            continue;
        }
        rt_tok_buf_put(out, in + i - l, l);
    }
}

static void apply_one(const rt_tok_norm *nm, const char *in, size_t n, rt_tok_buf *out) {
    if (n == 0) return; /* every normalizer maps empty text to empty text */
    switch (nm->kind) {
    case RT_NORM_NFC:
        /* Everything below U+0300 is stable under NFC (composition needs a combining mark). */
        if (all_below(in, n, 0xCC)) rt_tok_buf_put(out, in, n);
        else unicode_form(in, n, UTF8PROC_COMPOSE, out);
        break;
    case RT_NORM_NFKC:
        if (all_below(in, n, 0x80)) rt_tok_buf_put(out, in, n);
        else unicode_form(in, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
        break;
    case RT_NORM_NFD: unicode_form(in, n, UTF8PROC_DECOMPOSE, out); break;
    case RT_NORM_NFKD: unicode_form(in, n, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out); break;
    case RT_NORM_LOWERCASE: lowercase(in, n, out); break;
    case RT_NORM_PREPEND:
        if (n) rt_tok_buf_put(out, nm->str, strlen(nm->str));
        rt_tok_buf_put(out, in, n);
        break;
    case RT_NORM_REPLACE:
        if (nm->re) replace_regex(in, n, nm->re, nm->content, out);
        else replace_literal(in, n, nm->str, nm->content, out);
        break;
    case RT_NORM_STRIP: strip(in, n, nm->left, nm->right, out); break;
    case RT_NORM_STRIP_ACCENTS: strip_marks(in, n, rt_tok_ref_is_mark, out); break;
    case RT_NORM_PRECOMPILED: rt_tok_precompiled_apply(nm->pc, in, n, out); break;
    case RT_NORM_BERT: {
        rt_tok_buf a = {0}, b = {0};
        bert_clean(in, n, nm->clean_text, nm->handle_chinese, &a);
        if (nm->strip_accents) {
            unicode_form(a.p ? a.p : "", a.len, UTF8PROC_DECOMPOSE, &b);
            a.len = 0;
            strip_marks(b.p ? b.p : "", b.len, rt_tok_ref_is_nonspacing, &a);
        }
        if (nm->lowercase) lowercase(a.p ? a.p : "", a.len, out);
        else rt_tok_buf_put(out, a.p, a.len);
        rt_tok_buf_free(&a);
        rt_tok_buf_free(&b);
        break;
    }
    }
}

void rt_tok_normalize(const rt_tok_norm *norms, size_t n_norms, const char *in, size_t n, rt_tok_buf *out) {
    out->len = 0;
    if (n_norms == 1) {
        apply_one(&norms[0], in, n, out);
    } else {
        rt_tok_buf cur = {0}, next = {0};
        rt_tok_buf_put(&cur, in, n);
        for (size_t k = 0; k < n_norms; k++) {
            next.len = 0;
            apply_one(&norms[k], cur.p, cur.len, &next);
            rt_tok_buf t = cur;
            cur = next;
            next = t;
        }
        rt_tok_buf_put(out, cur.p, cur.len);
        rt_tok_buf_free(&cur);
        rt_tok_buf_free(&next);
    }
    if (!out->p) rt_tok_buf_put(out, "", 0);
}

void rt_tok_norm_free(rt_tok_norm *nm) {
    free(nm->str);
    free(nm->content);
    rt_tok_regex_free(nm->re);
    rt_tok_precompiled_free(nm->pc);
}
