/* train.c: rt_bpe_train: read the corpus files, count their pre-tokenized words, learn merges, write
 * the tokenizer folder. */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define BYTE_TOKENS 256

rt_bpe_train_params rt_bpe_train_params_default(void) {
    rt_bpe_train_params p;
    memset(&p, 0, sizeof p);
    p.vocab_size = 4096;
    p.min_frequency = 2;
    return p;
}

static rt_status check_params(const rt_bpe_train_params *p) {
    if (p->vocab_size < BYTE_TOKENS + (int32_t)p->n_special)
        return rt_fail(RT_ERR_ARG, "vocab size %d is smaller than the 256 byte tokens plus %zu special tokens",
                       (int)p->vocab_size, p->n_special);
    for (size_t i = 0; i < p->n_special; i++) {
        if (!p->special_tokens[i] || !*p->special_tokens[i])
            return rt_fail(RT_ERR_ARG, "special token %zu is empty", i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(p->special_tokens[i], p->special_tokens[k]) == 0)
                return rt_fail(RT_ERR_ARG, "special token '%s' is given twice", p->special_tokens[i]);
    }
    const char *named[2] = {p->bos_token, p->eos_token};
    for (int k = 0; k < 2; k++) {
        if (!named[k]) continue;
        size_t i = 0;
        while (i < p->n_special && strcmp(p->special_tokens[i], named[k]) != 0) i++;
        if (i == p->n_special)
            return rt_fail(RT_ERR_ARG, "%s token '%s' is not one of the special tokens", k ? "eos" : "bos", named[k]);
    }
    return RT_OK;
}

rt_status rt_bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                       const char *out_dir) {
    RT_TRY(check_params(params));
    if (n_files == 0) return rt_fail(RT_ERR_ARG, "no corpus files to train on");
    rt_tok_regex *re;
    RT_TRY(rt_tok_regex_compile(RT_TOK_LLAMA3_PATTERN, "trainer", &re));
    rt_tok_word_counts wc = {0};
    rt_status s = RT_OK;
    for (size_t i = 0; i < n_files && s == RT_OK; i++) {
        char *data = NULL;
        size_t len = 0;
        s = rt_file_read(files[i], &data, &len);
        if (s == RT_OK) s = rt_tok_train_count_words(data, len, re, &wc);
        free(data);
    }
    rt_tok_regex_free(re);
    if (s == RT_OK && wc.n == 0) s = rt_fail(RT_ERR_ARG, "the corpus has no text to train on");
    if (s == RT_OK) {
        rt_tok_bpe_result r;
        rt_tok_train_merges(&wc, params->vocab_size - (int32_t)params->n_special, params->min_frequency, &r);
        rt_info("tokenizer-train: %zu distinct words, %d merges, %d tokens", wc.n, (int)r.n_merges,
                (int)(r.n_tokens + (int32_t)params->n_special));
        s = rt_tok_train_write(&r, params, out_dir);
        rt_tok_bpe_result_free(&r);
    }
    rt_tok_word_counts_free(&wc);
    return s;
}
