/* encode.c: text -> ids: added tokens are split off the raw text, each other segment is normalized,
 * split again on normalized added tokens, pre-tokenized into words, and each word goes through the
 * model. The post-processor's ids frame the result when asked. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* Scratch space reused across calls on one thread, so encoding a line allocates nothing. */
typedef struct {
    rt_tok_buf clean, norm;
    rt_tok_segments raw_segs, norm_segs;
    rt_tok_pieces pieces, scratch;
} encode_scratch;

static _Thread_local encode_scratch *tls_scratch;

static void encode_words(const rt_tokenizer *t, encode_scratch *sc, const char *s, size_t n, int first,
                         rt_tok_ids *out) {
    /* Text that normalizes to nothing yields no words (Metaspace would otherwise add a lone "▁"). */
    if (n == 0) return;
    rt_tok_pretokenize(t->pretoks, t->n_pretoks, s, n, first, &sc->pieces, &sc->scratch);
    const rt_tok_pieces *p = &sc->pieces;
    for (size_t i = 0; i < p->n; i++) {
        const char *w = p->text.p + p->off[i];
        switch (t->kind) {
        case RT_MODEL_BPE: rt_tok_bpe_word(t, w, p->len[i], out); break;
        case RT_MODEL_WORDPIECE: rt_tok_wordpiece_word(t, w, p->len[i], out); break;
        case RT_MODEL_UNIGRAM: rt_tok_unigram_word(t, w, p->len[i], out); break;
        }
    }
}

static void encode_segment(const rt_tokenizer *t, encode_scratch *sc, const char *s, size_t n, int first,
                           rt_tok_ids *out) {
    const char *text = s;
    size_t len = n;
    if (t->n_norms) {
        rt_tok_normalize(t->norms, t->n_norms, s, n, &sc->norm);
        text = sc->norm.p;
        len = sc->norm.len;
    }
    if (!t->has_normalized_added) {
        encode_words(t, sc, text, len, first, out);
        return;
    }
    /* The normalized buffer is reused below only through the segments taken from it here. */
    rt_tok_split_added(t, text, len, 1, &sc->norm_segs);
    for (size_t i = 0; i < sc->norm_segs.n; i++) {
        rt_tok_segment g = sc->norm_segs.v[i];
        if (g.id >= 0) rt_tok_ids_push(out, g.id);
        else encode_words(t, sc, text + g.off, g.len, first && g.off == 0, out);
    }
}

static int valid_utf8(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = rt_tok_utf8_valid_len(u + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

rt_status rt_tokenizer_encode(const rt_tokenizer *t, const char *text, size_t len, int flags, rt_tok_ids *out) {
    if (!text && len) return rt_fail(RT_ERR_ARG, "rt_tokenizer_encode: text is NULL");
    encode_scratch *sc = tls_scratch;
    if (!sc) sc = tls_scratch = rt_calloc(1, sizeof *sc);
    if (len && !valid_utf8(text, len)) {
        sc->clean.len = 0;
        rt_tok_utf8_sanitize(text, len, &sc->clean);
        text = sc->clean.p;
        len = sc->clean.len;
    }
    int framed = (flags & RT_TOK_ADD_SPECIAL) && t->post.active;
    if (framed)
        for (size_t i = 0; i < t->post.n_pre; i++) rt_tok_ids_push(out, t->post.pre[i]);
    if (t->n_added) {
        rt_tok_split_added(t, text, len, 0, &sc->raw_segs);
        /* Copy: encode_segment reuses the segment list for normalized matches. */
        for (size_t i = 0; i < sc->raw_segs.n; i++) {
            rt_tok_segment g = sc->raw_segs.v[i];
            if (g.id >= 0) rt_tok_ids_push(out, g.id);
            else encode_segment(t, sc, text + g.off, g.len, g.off == 0, out);
        }
    } else if (len) {
        encode_segment(t, sc, text, len, 1, out);
    }
    if (framed)
        for (size_t i = 0; i < t->post.n_post; i++) rt_tok_ids_push(out, t->post.post[i]);
    /* A regex that hit a PCRE2 resource limit split the text differently from the reference. */
    int rc = rt_tok_regex_take_failure();
    if (rc) return rt_fail(RT_ERR_STATE, "%s: a pre-tokenizer regex failed on this text (PCRE2 error %d)", t->name, rc);
    return RT_OK;
}

void rt_tok_encode_thread_cleanup(void) {
    encode_scratch *sc = tls_scratch;
    if (!sc) return;
    rt_tok_buf_free(&sc->clean);
    rt_tok_buf_free(&sc->norm);
    free(sc->raw_segs.v);
    free(sc->norm_segs.v);
    rt_tok_pieces_free(&sc->pieces);
    rt_tok_pieces_free(&sc->scratch);
    free(sc);
    tls_scratch = NULL;
}

void rt_tokenizer_thread_cleanup(void) {
    rt_tok_encode_thread_cleanup();
    rt_tok_cache_thread_cleanup();
    rt_tok_regex_thread_cleanup();
}
