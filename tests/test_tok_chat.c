/* test_tok_chat.c: chat templates rendered exactly as transformers' apply_chat_template renders them
 * (reference strings in tests/fixtures/tok/<name>.chat.json from tools/make_tok_fixtures.py), for
 * several conversations with and without the generation prompt and with Qwen3's enable_thinking off
 * and on (llama3, qwen3, and the ChatML template the trainer writes); a tokenizer without a template
 * (mistral) and an unknown template are refused with a message naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"
#include "test_tok_util.h"

static void check_family(const char *name, const char *family) {
    rt_tokenizer *t = tok_test_load(name);
    if (!t) {
        skip();
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/tok/%s.chat.json", RT_FIXTURES_DIR, name);
    json_t *ref;
    if (rt_json_load(path, &ref) != RT_OK) fail_msg("%s", rt_errmsg());
    if (family) assert_string_equal(rt_chat_family(t), family);
    else assert_null(rt_chat_family(t));
    json_t *cases = json_object_get(ref, "cases");
    assert_true(json_array_size(cases) >= 20);
    int bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *msgs = json_object_get(c, "messages");
        size_t n = json_array_size(msgs);
        rt_chat_message *m = calloc(n + 1, sizeof *m);
        for (size_t k = 0; k < n; k++) {
            m[k].role = json_string_value(json_object_get(json_array_get(msgs, k), "role"));
            m[k].content = json_string_value(json_object_get(json_array_get(msgs, k), "content"));
        }
        char *out = NULL;
        rt_chat_params p = rt_chat_params_default();
        p.add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt"));
        json_t *thinking = json_object_get(c, "enable_thinking");
        if (thinking) p.enable_thinking = json_is_true(thinking);
        rt_status s =
            thinking ? rt_chat_render_ex(t, m, n, &p, &out) : rt_chat_render(t, m, n, p.add_generation_prompt, &out);
        json_t *want = json_object_get(c, "text");
        if (!want) {
            /* transformers refused (no template): so must we, with a message saying why. */
            if (s != RT_ERR_UNSUPPORTED || !strstr(rt_errmsg(), "no chat_template")) {
                print_message("case %zu: expected a refusal, got status %d\n", i, s);
                bad++;
            }
        } else if (s != RT_OK || strcmp(out, json_string_value(want)) != 0) {
            print_message("case %zu: got\n%s\nwant\n%s\n(%s)\n", i, out ? out : "(null)", json_string_value(want),
                          s == RT_OK ? "" : rt_errmsg());
            bad++;
        }
        free(out);
        free(m);
    }
    assert_int_equal(bad, 0);
    json_decref(ref);
    rt_tokenizer_free(t);
    rt_tokenizer_thread_cleanup();
}

static void test_llama3(void **state) {
    (void)state;
    check_family("llama3", "llama3");
}

static void test_qwen3(void **state) {
    (void)state;
    check_family("qwen3", "qwen3");
}

/* The ChatML template `retrace tokenizer-train --chat-template chatml` writes, as transformers
 * renders it from the trained tokenizer folder. */
static void test_trained_chatml(void **state) {
    (void)state;
    check_family("trained-chatml", "chatml");
}

static void test_mistral_has_none(void **state) {
    (void)state;
    check_family("mistral", NULL);
}

/* A template that is not one of the known families is refused, naming the file and the template. */
static void test_unknown_template(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_tok_chat_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *tj = rt_path_join(dir, "tokenizer.json"), *cj = rt_path_join(dir, "tokenizer_config.json");
    const char *tok = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    const char *cfg = "{\"chat_template\": \"{% for m in messages %}{{ m.content }}{% endfor %}\"}";
    assert_int_equal(rt_file_write_atomic(tj, tok, strlen(tok)), RT_OK);
    assert_int_equal(rt_file_write_atomic(cj, cfg, strlen(cfg)), RT_OK);
    rt_tokenizer *t;
    assert_int_equal(rt_tokenizer_load(dir, &t), RT_OK);
    rt_chat_message m = {"user", "hi", NULL};
    char *out = NULL;
    assert_int_equal(rt_chat_render(t, &m, 1, 1, &out), RT_ERR_UNSUPPORTED);
    assert_null(out);
    assert_non_null(strstr(rt_errmsg(), "tokenizer_config.json: chat_template"));
    assert_non_null(strstr(rt_errmsg(), "is not a known family"));
    assert_non_null(strstr(rt_errmsg(), "{% for m in messages %}"));
    rt_tokenizer_free(t);
    unlink(tj);
    unlink(cj);
    rmdir(dir);
    free(tj);
    free(cj);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_qwen3),
        cmocka_unit_test(test_trained_chatml),
        cmocka_unit_test(test_mistral_has_none),
        cmocka_unit_test(test_unknown_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
