/* buf.c: the small growable containers of the tokenizer (bytes, ids, pieces, segments). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

void rt_tok_buf_put(rt_tok_buf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = rt_realloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    /* Always NUL-terminated so callers can hand the text on as a C string. */
    b->p[b->len] = '\0';
}

void rt_tok_buf_putc(rt_tok_buf *b, char c) { rt_tok_buf_put(b, &c, 1); }

void rt_tok_buf_free(rt_tok_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void rt_tok_ids_push(rt_tok_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = rt_realloc(v->ids, v->cap * sizeof *v->ids);
    }
    v->ids[v->n++] = id;
}

void rt_tok_ids_free(rt_tok_ids *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}

void rt_tok_pieces_add(rt_tok_pieces *p, size_t off, size_t len, size_t src) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->off = rt_realloc(p->off, p->cap * sizeof *p->off);
        p->len = rt_realloc(p->len, p->cap * sizeof *p->len);
        p->src = rt_realloc(p->src, p->cap * sizeof *p->src);
    }
    p->off[p->n] = (uint32_t)off;
    p->len[p->n] = (uint32_t)len;
    p->src[p->n] = (uint32_t)src;
    p->n++;
}

void rt_tok_pieces_clear(rt_tok_pieces *p) {
    p->n = 0;
    p->text.len = 0;
}

void rt_tok_pieces_free(rt_tok_pieces *p) {
    rt_tok_buf_free(&p->text);
    free(p->off);
    free(p->len);
    free(p->src);
    memset(p, 0, sizeof *p);
}
