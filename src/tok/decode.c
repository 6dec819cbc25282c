/* decode.c: ids -> text through the decoder chain of tokenizer.json (ByteLevel, Replace, ByteFallback,
 * Fuse, Strip, Metaspace, WordPiece), each step acting on the list of token strings as the reference
 * does, then joined. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

typedef struct {
    rt_tok_buf *v;
    size_t n;
} strlist;

static void list_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) rt_tok_buf_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Replaces the list by one string: the concatenation of its items. */
static void fuse(strlist *l) {
    rt_tok_buf all = {0};
    for (size_t i = 0; i < l->n; i++) rt_tok_buf_put(&all, l->v[i].p, l->v[i].len);
    if (!all.p) rt_tok_buf_put(&all, "", 0);
    list_free(l);
    l->v = rt_malloc(sizeof *l->v);
    l->v[0] = all;
    l->n = 1;
}

static void replace_all(rt_tok_buf *b, const char *pat, const char *content) {
    size_t pl = strlen(pat), cl = strlen(content);
    if (!pl || b->len < pl) return;
    rt_tok_buf out = {0};
    size_t i = 0, run = 0;
    while (i + pl <= b->len) {
        if (memcmp(b->p + i, pat, pl) == 0) {
            rt_tok_buf_put(&out, b->p + run, i - run);
            rt_tok_buf_put(&out, content, cl);
            i += pl;
            run = i;
        } else {
            i++;
        }
    }
    rt_tok_buf_put(&out, b->p + run, b->len - run);
    rt_tok_buf_free(b);
    *b = out;
}

/* ByteLevel: each token's chars back to bytes (a token with a char outside the mapping stays as it
 * is), all joined, then invalid UTF-8 replaced. */
static void bytelevel(strlist *l) {
    rt_tok_buf bytes = {0}, text = {0};
    for (size_t i = 0; i < l->n; i++)
        if (!rt_tok_bytelevel_unmap(l->v[i].p, l->v[i].len, &bytes)) rt_tok_buf_put(&bytes, l->v[i].p, l->v[i].len);
    rt_tok_utf8_sanitize(bytes.p ? bytes.p : "", bytes.len, &text);
    if (!text.p) rt_tok_buf_put(&text, "", 0);
    rt_tok_buf_free(&bytes);
    list_free(l);
    l->v = rt_malloc(sizeof *l->v);
    l->v[0] = text;
    l->n = 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xAB>" -> 0xAB, else -1. Like Rust's from_str_radix, "+A" is accepted as a one-digit number. */
static int byte_token(const rt_tok_buf *b) {
    if (b->len != 6 || memcmp(b->p, "<0x", 3) != 0 || b->p[5] != '>') return -1;
    int hi = b->p[3] == '+' ? 0 : hexval(b->p[3]), lo = hexval(b->p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Runs of byte tokens become their UTF-8 text, or one U+FFFD per byte when not valid UTF-8. */
static void byte_fallback(strlist *l) {
    strlist out = {rt_calloc(l->n + 1, sizeof(rt_tok_buf)), 0};
    rt_tok_buf run = {0};
    for (size_t i = 0; i <= l->n; i++) {
        int b = i < l->n ? byte_token(&l->v[i]) : -1;
        if (b >= 0) {
            rt_tok_buf_putc(&run, (char)b);
            continue;
        }
        if (run.len) {
            rt_tok_buf *dst = &out.v[out.n++];
            size_t k = 0;
            int ok = 1;
            while (k < run.len && ok) {
                size_t vl = rt_tok_utf8_valid_len((const unsigned char *)run.p + k, run.len - k);
                ok = vl > 0;
                k += vl;
            }
            if (ok) rt_tok_buf_put(dst, run.p, run.len);
            else
                for (size_t j = 0; j < run.len; j++) rt_tok_buf_put(dst, "\xEF\xBF\xBD", 3);
            run.len = 0;
        }
        if (i < l->n) {
            out.v[out.n++] = l->v[i];
            memset(&l->v[i], 0, sizeof l->v[i]);
        }
    }
    rt_tok_buf_free(&run);
    list_free(l);
    *l = out;
}

static void strip(strlist *l, const char *content, int start, int stop) {
    size_t cl = strlen(content);
    for (size_t i = 0; i < l->n && cl; i++) {
        rt_tok_buf *b = &l->v[i];
        size_t a = 0, e = b->len;
        for (int k = 0; k < start && a + cl <= e && memcmp(b->p + a, content, cl) == 0; k++) a += cl;
        for (int k = 0; k < stop && e >= a + cl && memcmp(b->p + e - cl, content, cl) == 0; k++) e -= cl;
        memmove(b->p, b->p + a, e - a);
        b->len = e - a;
        b->p[b->len] = '\0';
    }
}

static void metaspace(strlist *l, const char *rep, int strip_first) {
    for (size_t i = 0; i < l->n; i++) {
        if (i == 0 && strip_first) replace_all(&l->v[i], rep, "");
        else replace_all(&l->v[i], rep, " ");
    }
}

static void wordpiece(strlist *l, const char *prefix, int cleanup) {
    static const char *const CLEANUP[][2] = {{" .", "."},     {" ?", "?"},     {" !", "!"},   {" ,", ","},
                                             {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},
                                             {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < l->n; i++) {
        rt_tok_buf *b = &l->v[i];
        if (i != 0) {
            if (pl && b->len >= pl && memcmp(b->p, prefix, pl) == 0) {
                memmove(b->p, b->p + pl, b->len - pl);
                b->len -= pl;
                b->p[b->len] = '\0';
            } else {
                rt_tok_buf t = {0};
                rt_tok_buf_putc(&t, ' ');
                rt_tok_buf_put(&t, b->p, b->len);
                rt_tok_buf_free(b);
                *b = t;
            }
        }
        if (cleanup)
            for (size_t k = 0; k < sizeof CLEANUP / sizeof CLEANUP[0]; k++)
                replace_all(b, CLEANUP[k][0], CLEANUP[k][1]);
    }
}

rt_status rt_tokenizer_decode(const rt_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text,
                              size_t *len) {
    *text = NULL;
    strlist l = {rt_calloc(n + 1, sizeof(rt_tok_buf)), 0};
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->tokens[id]) {
            list_free(&l);
            return rt_fail(RT_ERR_ARG, "id %d is not in the vocabulary of %s (ids are 0..%d)", (int)id, t->name,
                           (int)t->n_ids - 1);
        }
        if (skip_special && t->special[id]) continue;
        rt_tok_buf_put(&l.v[l.n++], t->tokens[id], t->token_len[id]);
    }
    if (t->n_decoders == 0) {
        /* Without a decoder the reference joins tokens with spaces. */
        for (size_t i = 1; i < l.n; i++) {
            rt_tok_buf s = {0};
            rt_tok_buf_putc(&s, ' ');
            rt_tok_buf_put(&s, l.v[i].p, l.v[i].len);
            rt_tok_buf_free(&l.v[i]);
            l.v[i] = s;
        }
    }
    for (size_t k = 0; k < t->n_decoders; k++) {
        const rt_tok_decoder *d = &t->decoders[k];
        switch (d->kind) {
        case RT_DEC_BYTELEVEL: bytelevel(&l); break;
        case RT_DEC_REPLACE:
            for (size_t i = 0; i < l.n; i++) replace_all(&l.v[i], d->str, d->content);
            break;
        case RT_DEC_BYTE_FALLBACK: byte_fallback(&l); break;
        case RT_DEC_FUSE: fuse(&l); break;
        case RT_DEC_STRIP: strip(&l, d->content, d->start, d->stop); break;
        case RT_DEC_METASPACE: metaspace(&l, d->str, d->flag); break;
        case RT_DEC_WORDPIECE: wordpiece(&l, d->str, d->flag); break;
        }
    }
    fuse(&l);
    *text = l.v[0].p;
    *len = l.v[0].len;
    free(l.v);
    return RT_OK;
}
