/* pretokenize.c: the pre-tokenizers of tokenizer.json (Split, ByteLevel, Metaspace, BertPreTokenizer,
 * Whitespace, WhitespaceSplit, Digits, Punctuation). Each stage reads a list of pieces and writes a new
 * one; empty pieces are dropped, as the reference does. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

/* A part of one piece: [a, b) and whether a pattern matched it. */
typedef struct {
    size_t a, b;
    int match;
} part;

typedef struct {
    part *v;
    size_t n, cap;
} parts;

static void parts_add(parts *p, size_t a, size_t b, int match) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 32;
        p->v = rt_realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (part){a, b, match};
}

/* Covers [0, n) with regex matches and the gaps between them. */
static void find_regex(const rt_tok_regex *re, const char *s, size_t n, parts *out) {
    size_t from = 0, ms, me;
    out->n = 0;
    while (from < n && rt_tok_regex_next(re, s, n, from, &ms, &me)) {
        if (ms > from) parts_add(out, from, ms, 0);
        parts_add(out, ms, me, 1);
        from = me;
    }
    if (from < n) parts_add(out, from, n, 0);
}

/* Covers [0, n) with runs of chars for which pred holds, each char its own match when `each`. */
static void find_chars(int (*pred)(int32_t), int each, const char *s, size_t n, parts *out) {
    const unsigned char *u = (const unsigned char *)s;
    out->n = 0;
    size_t gap = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t l = rt_tok_utf8_decode(u + i, &cp);
        if (pred(cp)) {
            if (i > gap) parts_add(out, gap, i, 0);
            if (!each && out->n && out->v[out->n - 1].match && out->v[out->n - 1].b == i) out->v[out->n - 1].b = i + l;
            else parts_add(out, i, i + l, 1);
            gap = i + l;
        }
        i += l;
    }
    if (gap < n) parts_add(out, gap, n, 0);
}

/* Applies a split behaviour to the parts of `src` (a piece starting at `base` in the input), adding
 * pieces to dst. */
static void emit_parts(parts *ps, rt_tok_split_behavior behavior, int invert, const char *src, size_t base,
                       rt_tok_pieces *dst) {
    if (invert)
        for (size_t i = 0; i < ps->n; i++) ps->v[i].match = !ps->v[i].match;
    parts merged = {0};
    int prev = 0;
    switch (behavior) {
    case RT_SPLIT_ISOLATED:
    case RT_SPLIT_REMOVED:
        for (size_t i = 0; i < ps->n; i++)
            if (behavior == RT_SPLIT_ISOLATED || !ps->v[i].match) parts_add(&merged, ps->v[i].a, ps->v[i].b, 0);
        break;
    case RT_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < ps->n; i++) {
            if (merged.n && ps->v[i].match == prev) merged.v[merged.n - 1].b = ps->v[i].b;
            else parts_add(&merged, ps->v[i].a, ps->v[i].b, 0);
            prev = ps->v[i].match;
        }
        break;
    case RT_SPLIT_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < ps->n; i++) {
            if (ps->v[i].match && !prev && merged.n) merged.v[merged.n - 1].b = ps->v[i].b;
            else parts_add(&merged, ps->v[i].a, ps->v[i].b, 0);
            prev = ps->v[i].match;
        }
        break;
    case RT_SPLIT_MERGED_WITH_NEXT:
        /* Walked backwards, as the reference folds from the end. */
        for (size_t k = ps->n; k-- > 0;) {
            if (ps->v[k].match && !prev && merged.n) merged.v[merged.n - 1].a = ps->v[k].a;
            else parts_add(&merged, ps->v[k].a, ps->v[k].b, 0);
            prev = ps->v[k].match;
        }
        for (size_t i = 0; i < merged.n / 2; i++) {
            part t = merged.v[i];
            merged.v[i] = merged.v[merged.n - 1 - i];
            merged.v[merged.n - 1 - i] = t;
        }
        break;
    }
    for (size_t i = 0; i < merged.n; i++) {
        if (merged.v[i].b <= merged.v[i].a) continue;
        rt_tok_pieces_add(dst, dst->text.len, merged.v[i].b - merged.v[i].a, base + merged.v[i].a);
        rt_tok_buf_put(&dst->text, src + merged.v[i].a, merged.v[i].b - merged.v[i].a);
    }
    free(merged.v);
}

static int is_space(int32_t c) { return rt_tok_is_space(c); }
static int is_digit(int32_t c) { return rt_tok_ref_is_numeric(c); }

/* BERT punctuation, from the reference's own table (see bert_tables.c). */
static int is_punct(int32_t c) { return rt_tok_ref_is_punct(c); }

static int starts_with(const char *s, size_t n, const char *p) {
    size_t l = strlen(p);
    return n >= l && memcmp(s, p, l) == 0;
}

/* Metaspace: spaces become the replacement, a replacement is prepended by scheme, then split before
 * each replacement. */
static void metaspace(const rt_tok_pretok *p, const char *s, size_t n, size_t base, int first, rt_tok_pieces *dst,
                      parts *ps) {
    rt_tok_buf t = {0};
    const char *rep = p->replacement;
    size_t rl = strlen(rep);
    int prepend =
        p->prepend_scheme == RT_PREPEND_ALWAYS || (p->prepend_scheme == RT_PREPEND_FIRST && first && base == 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') rt_tok_buf_put(&t, rep, rl);
        else rt_tok_buf_putc(&t, s[i]);
    }
    if (prepend && !starts_with(t.p ? t.p : "", t.len, rep)) {
        rt_tok_buf u = {0};
        rt_tok_buf_put(&u, rep, rl);
        rt_tok_buf_put(&u, t.p, t.len);
        rt_tok_buf_free(&t);
        t = u;
    }
    ps->n = 0;
    if (p->split) {
        size_t gap = 0;
        for (size_t i = 0; i + rl <= t.len;) {
            if (memcmp(t.p + i, rep, rl) == 0) {
                if (i > gap) parts_add(ps, gap, i, 0);
                parts_add(ps, i, i + rl, 1);
                i += rl;
                gap = i;
            } else {
                i++;
            }
        }
        if (gap < t.len) parts_add(ps, gap, t.len, 0);
        emit_parts(ps, RT_SPLIT_MERGED_WITH_NEXT, 0, t.p, base, dst);
    } else if (t.len) {
        rt_tok_pieces_add(dst, dst->text.len, t.len, base);
        rt_tok_buf_put(&dst->text, t.p, t.len);
    }
    rt_tok_buf_free(&t);
}

static void run_one(const rt_tok_pretok *p, const char *s, size_t n, size_t base, int first, rt_tok_pieces *dst,
                    parts *ps) {
    switch (p->kind) {
    case RT_PRE_SPLIT:
        find_regex(p->re, s, n, ps);
        emit_parts(ps, p->behavior, p->invert, s, base, dst);
        break;
    case RT_PRE_BYTELEVEL: {
        /* The byte mapping itself is implicit: byte-level models work on raw bytes. */
        if (p->add_prefix_space && !(n && s[0] == ' ')) {
            rt_tok_buf t = {0};
            rt_tok_buf_putc(&t, ' ');
            rt_tok_buf_put(&t, s, n);
            run_one(&(rt_tok_pretok){.kind = p->kind, .re = p->re}, t.p, t.len, base, first, dst, ps);
            rt_tok_buf_free(&t);
        } else if (p->re) {
            find_regex(p->re, s, n, ps);
            emit_parts(ps, RT_SPLIT_ISOLATED, 0, s, base, dst);
        } else if (n) {
            rt_tok_pieces_add(dst, dst->text.len, n, base);
            rt_tok_buf_put(&dst->text, s, n);
        }
        break;
    }
    case RT_PRE_METASPACE: metaspace(p, s, n, base, first, dst, ps); break;
    case RT_PRE_WHITESPACE_SPLIT:
        find_chars(is_space, 0, s, n, ps);
        emit_parts(ps, RT_SPLIT_REMOVED, 0, s, base, dst);
        break;
    case RT_PRE_WHITESPACE:
        /* The pattern keeps words and runs of other non-space chars. */
        find_regex(p->re, s, n, ps);
        emit_parts(ps, RT_SPLIT_REMOVED, 1, s, base, dst);
        break;
    case RT_PRE_DIGITS:
        find_chars(is_digit, p->individual_digits, s, n, ps);
        emit_parts(ps, p->individual_digits ? RT_SPLIT_ISOLATED : RT_SPLIT_CONTIGUOUS, 0, s, base, dst);
        break;
    case RT_PRE_PUNCTUATION:
        find_chars(is_punct, 1, s, n, ps);
        emit_parts(ps, p->behavior, 0, s, base, dst);
        break;
    case RT_PRE_BERT: {
        rt_tok_pieces words = {0};
        find_chars(is_space, 0, s, n, ps);
        emit_parts(ps, RT_SPLIT_REMOVED, 0, s, 0, &words);
        for (size_t i = 0; i < words.n; i++) {
            find_chars(is_punct, 1, words.text.p + words.off[i], words.len[i], ps);
            emit_parts(ps, RT_SPLIT_ISOLATED, 0, words.text.p + words.off[i], base + words.src[i], dst);
        }
        rt_tok_pieces_free(&words);
        break;
    }
    }
}

void rt_tok_pretokenize(const rt_tok_pretok *pre, size_t n_pre, const char *in, size_t n, int first, rt_tok_pieces *out,
                    rt_tok_pieces *scratch) {
    parts ps = {0};
    rt_tok_pieces_clear(out);
    if (n_pre == 0) {
        if (n) {
            rt_tok_pieces_add(out, 0, n, 0);
            rt_tok_buf_put(&out->text, in, n);
        }
        return;
    }
    /* Stage k reads from `src` and writes to `dst`; the buffers swap so the last lands in out. */
    rt_tok_pieces *dst = n_pre % 2 == 1 ? out : scratch, *src = dst == out ? scratch : out;
    rt_tok_pieces_clear(dst);
    run_one(&pre[0], in, n, 0, first, dst, &ps);
    for (size_t k = 1; k < n_pre; k++) {
        rt_tok_pieces *t = src;
        src = dst;
        dst = t;
        rt_tok_pieces_clear(dst);
        for (size_t i = 0; i < src->n; i++)
            run_one(&pre[k], src->text.p + src->off[i], src->len[i], src->src[i], first, dst, &ps);
    }
    free(ps.v);
}

void rt_tok_pretok_free(rt_tok_pretok *p) {
    rt_tok_regex_free(p->re);
    free(p->replacement);
}
