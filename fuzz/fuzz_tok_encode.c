/* fuzz_tok_encode.c: libFuzzer target for encoding and decoding arbitrary bytes. The first byte picks
 * one of the committed small tokenizers (byte-level BPE, WordPiece, Unigram with Precompiled, and the
 * models that cover the other normalizers and pre-tokenizers); the
 * rest is the text. Byte-level BPE must round-trip valid UTF-8 exactly, and re-encoding its decoded
 * text must give the same ids.
 * Run from the repository root: ./build-fuzz/fuzz/fuzz_tok_encode -max_total_time=60
 * (RT_TOK_FIXTURES overrides the folder holding the tokenizers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

static const char *const NAMES[] = {"trained-bpe",     "minilm",        "xlmr-unigram",  "gpt2-style",
                                    "split-behaviors", "wordpiece-mix", "unigram-first", "trained-chatml"};
#define N_TOKENIZERS 8

static rt_tokenizer *tokenizers[N_TOKENIZERS];

/* Strict UTF-8 validity (no overlongs, surrogates or code points above U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t need = c < 0x80                   ? 1
                      : (c >= 0xC2 && c <= 0xDF) ? 2
                      : (c >= 0xE0 && c <= 0xEF) ? 3
                      : (c >= 0xF0 && c <= 0xF4) ? 4
                                                 : 0;
        if (!need || i + need > n) return 0;
        for (size_t k = 1; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += need;
    }
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("RT_TOK_FIXTURES");
    if (!dir) dir = "tests/fixtures/tok/models";
    for (int i = 0; i < N_TOKENIZERS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, NAMES[i]);
        if (rt_tokenizer_load(path, &tokenizers[i]) != RT_OK) {
            fprintf(stderr, "fuzz_tok_encode: %s (run from the repository root or set RT_TOK_FIXTURES)\n", rt_errmsg());
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int which = data[0] % N_TOKENIZERS;
    const rt_tokenizer *t = tokenizers[which];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    rt_tok_ids ids = {0};
    if (rt_tokenizer_encode(t, text, n, RT_TOK_ADD_SPECIAL, &ids) != RT_OK) abort();
    for (size_t i = 0; i < ids.n; i++)
        if (ids.ids[i] < 0 || ids.ids[i] >= rt_tokenizer_vocab_size(t)) abort();
    char *out;
    size_t len;
    if (rt_tokenizer_decode(t, ids.ids, ids.n, 1, &out, &len) != RT_OK) abort();
    if (which == 0) {
        /* Byte-level: decode(encode(x)) is x with invalid UTF-8 replaced, unless x holds the special
         * token's text (skipped above). */
        rt_tok_ids plain = {0};
        rt_tokenizer_encode(t, text, n, 0, &plain);
        char *back;
        size_t blen;
        rt_tokenizer_decode(t, plain.ids, plain.n, 0, &back, &blen);
        rt_tok_ids again = {0};
        rt_tokenizer_encode(t, back, blen, 0, &again);
        /* Encoding the decoded text gives the same ids: the round trip is stable. */
        /* (memcmp only with a length: the id arrays are NULL when empty) */
        if (again.n != plain.n || (plain.n && memcmp(again.ids, plain.ids, plain.n * sizeof *plain.ids) != 0)) abort();
        if (valid_utf8((const unsigned char *)text, n) && (blen != n || (n && memcmp(back, text, n) != 0))) abort();
        free(back);
        rt_tok_ids_free(&plain);
        rt_tok_ids_free(&again);
    }
    free(out);
    rt_tok_ids_free(&ids);
    return 0;
}
