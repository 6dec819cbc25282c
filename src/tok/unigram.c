/* unigram.c: the Unigram model (SentencePiece): the segmentation with the highest total piece score,
 * found by Viterbi over char boundaries. A char no piece covers costs the lowest score minus 10 and
 * becomes unk; consecutive unk chars are fused into one, as the reference does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define UNK_PENALTY 10.0

typedef struct {
    double score;
    int32_t start; /* -1 while no path reaches this boundary */
    int32_t id;
} node;

/* Emits one piece: its id, or its bytes (byte_fallback), or unk. */
static void emit_piece(const rt_tokenizer *t, const char *p, size_t n, rt_tok_ids *out) {
    int32_t id = rt_tok_strmap_get(&t->vocab, p, n);
    if (id >= 0) {
        rt_tok_ids_push(out, id);
        return;
    }
    if (t->model.byte_fallback) {
        int all = 1;
        for (size_t i = 0; i < n && all; i++) all = t->model.byte_ids[(unsigned char)p[i]] >= 0;
        if (all) {
            for (size_t i = 0; i < n; i++) rt_tok_ids_push(out, t->model.byte_ids[(unsigned char)p[i]]);
            return;
        }
    }
    if (t->unk_id >= 0) rt_tok_ids_push(out, t->unk_id);
}

void rt_tok_unigram_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out) {
    if (n == 0) return;
    const rt_tok_model *m = &t->model;
    node *best = rt_malloc((n + 1) * sizeof *best);
    for (size_t i = 0; i <= n; i++) best[i] = (node){0, -1, -1};
    best[0].start = 0;
    double unk_score = m->min_score - UNK_PENALTY;
    for (size_t s = 0; s < n;) {
        size_t mblen = rt_tok_utf8_valid_len((const unsigned char *)w + s, n - s);
        if (!mblen) mblen = 1;
        double here = best[s].score;
        int single = 0;
        /* Walk the trie from s: every piece that prefixes the rest is a candidate, shortest first. */
        int32_t tn = 0;
        for (size_t e = s + 1; e <= n; e++) {
            int32_t unused;
            if (!rt_tok_pairmap_get(&m->trie, tn, (unsigned char)w[e - 1], &unused, &tn)) break;
            int32_t id = m->trie_piece[tn];
            if (id < 0) continue;
            double cand = here + m->scores[id];
            if (best[e].start < 0 || cand > best[e].score) best[e] = (node){cand, (int32_t)s, id};
            if (e - s == mblen) single = 1;
        }
        if (!single) {
            double cand = here + unk_score;
            size_t e = s + mblen;
            if (best[e].start < 0 || cand > best[e].score) best[e] = (node){cand, (int32_t)s, t->unk_id};
        }
        s += mblen;
    }
    /* Walk back from the end, collecting pieces in reverse; a run of unk pieces becomes one. */
    typedef struct {
        size_t start, end;
        int unk;
        int32_t id;
    } piece;
    piece *pcs = rt_malloc((n + 1) * sizeof *pcs); /* every piece covers at least one byte */
    size_t np = 0;
    for (size_t e = n; e > 0;) {
        size_t s = (size_t)best[e].start;
        int unk = t->unk_id >= 0 && best[e].id == t->unk_id;
        if (unk && np > 0 && pcs[np - 1].unk) pcs[np - 1].start = s;
        else pcs[np++] = (piece){s, e, unk, best[e].id};
        e = s;
    }
    for (size_t k = np; k-- > 0;) {
        if (pcs[k].unk) emit_piece(t, w + pcs[k].start, pcs[k].end - pcs[k].start, out);
        else rt_tok_ids_push(out, pcs[k].id);
    }
    free(pcs);
    free(best);
}
