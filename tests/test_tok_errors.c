/* test_tok_errors.c: a broken or unsupported tokenizer.json fails with a message naming the field
 * (never a crash), and decode refuses ids outside the vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "retrace.h"

static void expect_error(const char *json, rt_status code, const char *fragment) {
    rt_tokenizer *t = (rt_tokenizer *)1;
    rt_status s = rt_tokenizer_load_json(json, strlen(json), "t.json", &t);
    if (s != code || !strstr(rt_errmsg(), fragment))
        fail_msg("for %s\n got status %d '%s', want %d containing '%s'", json, s, rt_errmsg(), code, fragment);
    assert_null(t);
}

static void test_bad_files(void **state) {
    (void)state;
    expect_error("{", RT_ERR_FORMAT, "t.json:1:");
    expect_error("[]", RT_ERR_FORMAT, "top level is not a JSON object");
    expect_error("{}", RT_ERR_FORMAT, "missing field 'model'");
    expect_error("{\"model\": {\"type\": \"Magic\"}}", RT_ERR_UNSUPPORTED, "model.type 'Magic' is not supported");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", RT_ERR_FORMAT,
                 "missing field 'model.merges'");
    expect_error("{\"model\": {\"type\": \"BPE\", \"merges\": []}}", RT_ERR_FORMAT, "missing field 'model.vocab'");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", RT_ERR_FORMAT,
                 "model.vocab['a'] is not an integer id");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}",
                 RT_ERR_FORMAT, "model.merges[0] 'a b': merged token not in model.vocab");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}", RT_ERR_FORMAT,
                 "model.merges[0] 'a' is not two tokens");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", RT_ERR_FORMAT,
                 "id 0 is given to both");
    expect_error(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Nope\"}}",
        RT_ERR_UNSUPPORTED, "pre_tokenizer type 'Nope' is not supported");
    expect_error(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", "
        "\"behavior\": \"Isolated\", \"pattern\": {\"Regex\": \"(unclosed\"}}}",
        RT_ERR_FORMAT, "regex '(unclosed' does not compile");
    expect_error(
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"normalizer\": {\"type\": \"Replace\", "
        "\"content\": \"x\"}}",
        RT_ERR_FORMAT, "missing field 'normalizer.pattern'");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"added_tokens\": [{\"id\": 3}]}",
                 RT_ERR_FORMAT, "missing field 'added_tokens[0].content'");
    expect_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", RT_ERR_FORMAT,
                 "missing field 'model.unk_token'");
    /* Ids size the id tables: a huge one is refused rather than allocated. */
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1000000000}, \"merges\": []}}", RT_ERR_FORMAT,
                 "model.vocab['a'] has id 1000000000 out of range");
    expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"added_tokens\": [{\"id\": "
                 "2000000000, \"content\": \"x\"}]}",
                 RT_ERR_FORMAT, "bad field 'added_tokens[0].id'");
    expect_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", RT_ERR_FORMAT,
                 "model.vocab[0] is not [piece, score]");
}

static void test_decode_out_of_range(void **state) {
    (void)state;
    const char *json =
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}";
    rt_tokenizer *t;
    assert_int_equal(rt_tokenizer_load_json(json, strlen(json), "t.json", &t), RT_OK);
    int32_t ids[] = {0, 7};
    char *text;
    size_t len;
    assert_int_equal(rt_tokenizer_decode(t, ids, 2, 0, &text, &len), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "id 7 is not in the vocabulary"));
    ids[1] = -1;
    assert_int_equal(rt_tokenizer_decode(t, ids, 2, 0, &text, &len), RT_ERR_ARG);
    /* Encoding never fails on text, whatever bytes it holds. */
    rt_tok_ids out = {0};
    assert_int_equal(rt_tokenizer_encode(t, "ab\xff\xc0z", 5, 0, &out), RT_OK);
    assert_true(out.n >= 1 && out.ids[0] == 2);
    rt_tok_ids_free(&out);
    rt_tokenizer_free(t);
    rt_tokenizer_thread_cleanup();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_decode_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
