/* wordpiece.c: the WordPiece model (BERT): greedy longest-match-first from the start of the word,
 * later pieces carrying the continuing prefix ("##"); a word with an unmatched rest is the unk token. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

void rt_tok_wordpiece_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out) {
    const rt_tok_model *m = &t->model;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)w[i] & 0xC0) != 0x80;
    if (chars > (size_t)m->wp_max_chars) {
        rt_tok_ids_push(out, t->unk_id);
        return;
    }
    size_t pl = strlen(m->wp_prefix), before = out->n;
    rt_tok_buf key = {0};
    for (size_t start = 0; start < n;) {
        size_t end = n;
        int32_t found = -1;
        while (start < end) {
            key.len = 0;
            if (start > 0) rt_tok_buf_put(&key, m->wp_prefix, pl);
            rt_tok_buf_put(&key, w + start, end - start);
            found = rt_tok_strmap_get(&t->vocab, key.p, key.len);
            if (found >= 0) break;
            /* Drop the last char of the candidate. */
            end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80) end--;
        }
        if (found < 0) {
            out->n = before;
            rt_tok_ids_push(out, t->unk_id);
            break;
        }
        rt_tok_ids_push(out, found);
        start = end;
    }
    rt_tok_buf_free(&key);
}
