/* train_words.c: counting the pre-tokenized words of a training corpus (the trainer merges inside
 * words only, as encoding does). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

const char RT_TOK_LLAMA3_PATTERN[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static void add_word(rt_tok_word_counts *wc, const char *w, size_t n) {
    int32_t k = rt_tok_strmap_get(&wc->index, w, n);
    if (k >= 0) {
        wc->count[k]++;
        return;
    }
    if (wc->n == wc->cap) {
        wc->cap = wc->cap ? wc->cap * 2 : 4096;
        wc->count = rt_realloc(wc->count, wc->cap * sizeof *wc->count);
    }
    wc->count[wc->n] = 1;
    rt_tok_strmap_put(&wc->index, w, n, (int32_t)wc->n);
    wc->n++;
}

rt_status rt_tok_train_count_words(const char *text, size_t n, const rt_tok_regex *re, rt_tok_word_counts *wc) {
    if (!wc->index.cap) rt_tok_strmap_init(&wc->index, 4096);
    rt_tok_buf clean = {0};
    rt_tok_utf8_sanitize(text, n, &clean);
    const char *s = clean.p ? clean.p : "";
    size_t len = clean.len, from = 0, ms, me;
    /* Gaps between matches are words too (the Split is Isolated), though this pattern leaves none. */
    while (from < len && rt_tok_regex_next(re, s, len, from, &ms, &me)) {
        if (ms > from) add_word(wc, s + from, ms - from);
        add_word(wc, s + ms, me - ms);
        from = me;
    }
    if (from < len) add_word(wc, s + from, len - from);
    rt_tok_buf_free(&clean);
    return RT_OK;
}

void rt_tok_word_counts_free(rt_tok_word_counts *wc) {
    rt_tok_strmap_free(&wc->index);
    free(wc->count);
    memset(wc, 0, sizeof *wc);
}
