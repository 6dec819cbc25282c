/* test_tok_ref.c: encode and decode parity with the reference `tokenizers` library: the real
 * tokenizers of ../shared/models/tokenizers (mistral, llama3, qwen3; skipped with a message where
 * absent) and the small committed ones of tests/fixtures/tok/models. The reference ids were written by
 * tools/make_tok_fixtures.py into tests/fixtures/tok/<name>.ref.json; every text (with and without
 * special tokens, and invalid UTF-8) and every decode case is compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"
#include "test_tok_util.h"

static json_t *load_fixture(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tok/%s", RT_FIXTURES_DIR, name);
    /* The corpus holds a NUL byte on purpose, which jansson reads only when allowed. */
    json_error_t err;
    json_t *j = json_load_file(path, JSON_ALLOW_NUL, &err);
    if (!j) fail_msg("%s:%d: %s", path, err.line, err.text);
    return j;
}

/* Counts a mismatch and prints the first few. */
static int compare_ids(const char *what, size_t idx, const rt_tok_ids *got, json_t *want, int *shown) {
    size_t n = json_array_size(want);
    int same = got->n == n;
    for (size_t i = 0; same && i < n; i++) same = got->ids[i] == json_integer_value(json_array_get(want, i));
    if (!same && (*shown)++ < 5) {
        print_message("%s #%zu: got %zu ids, want %zu:\n  got ", what, idx, got->n, n);
        for (size_t i = 0; i < got->n && i < 40; i++) print_message(" %d", (int)got->ids[i]);
        print_message("\n  want");
        for (size_t i = 0; i < n && i < 40; i++) print_message(" %d", (int)json_integer_value(json_array_get(want, i)));
        print_message("\n");
    }
    return !same;
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

/* `exact_round_trip`: a byte-level tokenizer, for which decode(encode(x)) == x on every text. */
static void check_tokenizer(const char *name, int exact_round_trip) {
    rt_tokenizer *t = tok_test_load(name);
    if (!t) {
        skip();
        return;
    }
    char refname[256];
    snprintf(refname, sizeof refname, "%s.ref.json", name);
    json_t *corpus = load_fixture("corpus.json"), *ref = load_fixture(refname);
    json_t *enc = json_object_get(ref, "encode"), *enc_sp = json_object_get(ref, "encode_special");
    assert_int_equal(json_array_size(enc), json_array_size(corpus));
    int bad = 0, shown = 0;
    rt_tok_ids ids = {0};
    for (size_t i = 0; i < json_array_size(corpus); i++) {
        json_t *text = json_array_get(corpus, i);
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        ids.n = 0;
        assert_int_equal(rt_tokenizer_encode(t, s, len, 0, &ids), RT_OK);
        bad += compare_ids("encode", i, &ids, json_array_get(enc, i), &shown);
        if (exact_round_trip) {
            char *back;
            size_t blen;
            assert_int_equal(rt_tokenizer_decode(t, ids.ids, ids.n, 0, &back, &blen), RT_OK);
            if (blen != len || memcmp(back, s, len) != 0) {
                if (shown++ < 5) print_message("round trip #%zu: got '%s'\n", i, back);
                bad++;
            }
            free(back);
        }
        ids.n = 0;
        assert_int_equal(rt_tokenizer_encode(t, s, len, RT_TOK_ADD_SPECIAL, &ids), RT_OK);
        bad += compare_ids("encode_special", i, &ids, json_array_get(enc_sp, i), &shown);
    }
    /* The batch API on two threads gives the same ids as the reference, text for text. */
    size_t nt = json_array_size(corpus);
    const char **texts = calloc(nt, sizeof *texts);
    size_t *lens = calloc(nt, sizeof *lens);
    rt_tok_ids *batch = calloc(nt, sizeof *batch);
    for (size_t i = 0; i < nt; i++) {
        texts[i] = json_string_value(json_array_get(corpus, i));
        lens[i] = json_string_length(json_array_get(corpus, i));
    }
    assert_int_equal(rt_tokenizer_encode_batch(t, texts, lens, nt, 0, 2, batch), RT_OK);
    for (size_t i = 0; i < nt; i++) {
        bad += compare_ids("batch", i, &batch[i], json_array_get(enc, i), &shown);
        rt_tok_ids_free(&batch[i]);
    }
    free(texts);
    free(lens);
    free(batch);
    json_t *inv = json_object_get(ref, "invalid");
    for (size_t i = 0; i < json_array_size(inv); i++) {
        const char *hex = json_string_value(json_object_get(json_array_get(inv, i), "hex"));
        size_t n = strlen(hex) / 2;
        char *raw = malloc(n + 1);
        for (size_t k = 0; k < n; k++) raw[k] = (char)(hexval(hex[2 * k]) * 16 + hexval(hex[2 * k + 1]));
        ids.n = 0;
        assert_int_equal(rt_tokenizer_encode(t, raw, n, 0, &ids), RT_OK);
        bad += compare_ids("invalid utf-8", i, &ids, json_object_get(json_array_get(inv, i), "ids"), &shown);
        free(raw);
    }
    json_t *dec = json_object_get(ref, "decode");
    for (size_t i = 0; i < json_array_size(dec); i++) {
        json_t *c = json_array_get(dec, i), *jids = json_object_get(c, "ids");
        ids.n = 0;
        for (size_t k = 0; k < json_array_size(jids); k++)
            rt_tok_ids_push(&ids, (int32_t)json_integer_value(json_array_get(jids, k)));
        for (int skip_sp = 0; skip_sp <= 1; skip_sp++) {
            char *text;
            size_t len;
            assert_int_equal(rt_tokenizer_decode(t, ids.ids, ids.n, skip_sp, &text, &len), RT_OK);
            json_t *want = json_object_get(c, skip_sp ? "text_skip_special" : "text");
            if (len != json_string_length(want) || memcmp(text, json_string_value(want), len) != 0) {
                if (shown++ < 5)
                    print_message("decode #%zu (skip_special %d): got '%s', want '%s'\n", i, skip_sp, text,
                                  json_string_value(want));
                bad++;
            }
            free(text);
        }
    }
    if (bad) print_message("%s: %d mismatches\n", name, bad);
    assert_int_equal(bad, 0);
    rt_tok_ids_free(&ids);
    json_decref(corpus);
    json_decref(ref);
    rt_tokenizer_free(t);
    rt_tokenizer_thread_cleanup();
}

static void test_llama3(void **state) {
    (void)state;
    check_tokenizer("llama3", 1);
}

static void test_qwen3(void **state) {
    (void)state;
    check_tokenizer("qwen3", 0); /* NFC first: its round trip gives NFC(x) */
}

static void test_mistral(void **state) {
    (void)state;
    check_tokenizer("mistral", 0);
}

/* WordPiece with the BERT normalizer and pre-tokenizer (the real all-MiniLM-L6-v2 tokenizer). */
static void test_minilm(void **state) {
    (void)state;
    check_tokenizer("minilm", 0);
}

/* Unigram with the Precompiled (nmt_nfkc) normalizer and Metaspace, in XLM-R's layout. */
static void test_xlmr_unigram(void **state) {
    (void)state;
    check_tokenizer("xlmr-unigram", 0);
}

/* The output of `retrace tokenizer-train`, as the reference library reads it. */
static void test_trained_bpe(void **state) {
    (void)state;
    check_tokenizer("trained-bpe", 1);
}

/* The trainer's output with the ChatML special tokens (<|im_start|>, <|im_end|> matched as added
 * tokens in the corpus texts that hold them). */
static void test_trained_chatml(void **state) {
    (void)state;
    check_tokenizer("trained-chatml", 1);
}

/* Small models trained with the reference library to cover the rest of tokenizer.json (see
 * tools/tok_make_models.py): GPT-2 ByteLevel with its regex and prefix space and added-token options;
 * every Split behaviour and invert, NFKD, regex Replace, fused unk; NFD + StripAccents + Lowercase +
 * Strip, WhitespaceSplit, Digits, Punctuation, WordPiece decoder; Whitespace + Metaspace "first". */
static void test_gpt2_style(void **state) {
    (void)state;
    check_tokenizer("gpt2-style", 0);
}

static void test_split_behaviors(void **state) {
    (void)state;
    check_tokenizer("split-behaviors", 0);
}

static void test_wordpiece_mix(void **state) {
    (void)state;
    check_tokenizer("wordpiece-mix", 0);
}

static void test_unigram_first(void **state) {
    (void)state;
    check_tokenizer("unigram-first", 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),     cmocka_unit_test(test_qwen3),           cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_minilm),     cmocka_unit_test(test_xlmr_unigram),    cmocka_unit_test(test_trained_bpe),
        cmocka_unit_test(test_gpt2_style), cmocka_unit_test(test_split_behaviors), cmocka_unit_test(test_wordpiece_mix),
        cmocka_unit_test(test_unigram_first), cmocka_unit_test(test_trained_chatml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
