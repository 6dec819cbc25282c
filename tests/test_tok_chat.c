/* test_tok_chat.c: chat templates run by the Jinja interpreter render exactly as transformers'
 * apply_chat_template does: the shared tokenizers' own templates (tests/fixtures/tok/<name>.chat.json
 * from tools/make_tok_fixtures.py) and Llama 3, Qwen2/3, Mistral v0.1/v0.3, SmolLM2 and ChatML
 * templates over more conversations (tests/fixtures/tok/chat/, tools/make_chat_fixtures.py), including
 * the conversations a template refuses with raise_exception; plus single constructs, errors with
 * line:column, and the hard limits against hostile templates. */
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
#include "tok/tok_internal.h"

/* Loads the fixture `fmt` (RT_FIXTURES_DIR, name) and its "cases" (at least 20). */
static json_t *load_cases(const char *fmt, const char *name, json_t **cases) {
    char path[1024];
    snprintf(path, sizeof path, fmt, RT_FIXTURES_DIR, name);
    json_t *ref;
    if (rt_json_load(path, &ref) != RT_OK) fail_msg("%s", rt_errmsg());
    *cases = json_object_get(ref, "cases");
    assert_true(json_array_size(*cases) >= 20);
    return ref;
}

/* The messages of a fixture case (strings borrowed from the JSON); *n their count. Free the array. */
static rt_chat_message *case_messages(json_t *c, size_t *n) {
    json_t *msgs = json_object_get(c, "messages");
    *n = json_array_size(msgs);
    rt_chat_message *m = calloc(*n + 1, sizeof *m);
    assert_non_null(m);
    for (size_t k = 0; k < *n; k++) {
        json_t *j = json_array_get(msgs, k);
        m[k].role = json_string_value(json_object_get(j, "role"));
        m[k].content = json_string_value(json_object_get(j, "content"));
        m[k].reasoning_content = json_string_value(json_object_get(j, "reasoning_content"));
    }
    return m;
}

/* The parameters of a fixture case; returns its enable_thinking (NULL where the case has none). */
static json_t *case_params(json_t *c, rt_chat_params *p) {
    *p = rt_chat_params_default();
    p->add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt"));
    json_t *thinking = json_object_get(c, "enable_thinking");
    if (thinking) p->enable_thinking = json_is_true(thinking);
    return thinking;
}

/* Compares one render with its fixture case: the case's "text", or, where it has none, a failure with
 * `code` whose message contains `part`. Prints what differs and returns 1 when it does; frees out. */
static int case_differs(const char *name, size_t i, json_t *c, rt_status s, char *out, rt_status code,
                        const char *part) {
    const char *want = json_string_value(json_object_get(c, "text"));
    int bad = want ? s != RT_OK || strcmp(out, want) != 0 : s != code || !part || !strstr(rt_errmsg(), part);
    if (bad && want)
        print_message("%s case %zu: got\n%s\nwant\n%s\n(%s)\n", name, i, out ? out : "(null)", want,
                      s == RT_OK ? "" : rt_errmsg());
    else if (bad)
        print_message("%s case %zu: expected status %d with '%s', got %d (%s)\n", name, i, code, part ? part : "?", s,
                      s ? rt_errmsg() : out);
    free(out);
    return bad;
}

static void check_family(const char *name, const char *family) {
    rt_tokenizer *t = tok_test_load(name);
    if (!t) {
        skip();
        return;
    }
    json_t *cases, *ref = load_cases("%s/tok/%s.chat.json", name, &cases);
    if (family) assert_string_equal(rt_chat_family(t), family);
    else assert_null(rt_chat_family(t));
    int bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        size_t n;
        rt_chat_message *m = case_messages(c, &n);
        char *out = NULL;
        rt_chat_params p;
        json_t *thinking = case_params(c, &p);
        rt_status s =
            thinking ? rt_chat_render_ex(t, m, n, &p, &out) : rt_chat_render(t, m, n, p.add_generation_prompt, &out);
        /* Where transformers refused (no template), so must we, with a message saying why. */
        bad += case_differs(name, i, c, s, out, RT_ERR_UNSUPPORTED, "no chat_template");
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

/* The templates of tests/fixtures/tok/chat/<name>.json (tools/make_chat_fixtures.py, rendered by
 * transformers' Jinja environment): every case renders byte for byte, and a case the reference
 * refused (raise_exception) fails with RT_ERR_ARG carrying the template's message. */
static void check_template(const char *name) {
    json_t *cases, *ref = load_cases("%s/tok/chat/%s.json", name, &cases);
    const char *tmpl = json_string_value(json_object_get(ref, "chat_template"));
    assert_non_null(tmpl);
    int bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        size_t n;
        rt_chat_message *m = case_messages(c, &n);
        rt_tok_chat_vars v = {m, n, rt_chat_params_default(), json_string_value(json_object_get(ref, "bos_token")),
                              json_string_value(json_object_get(ref, "eos_token"))};
        case_params(c, &v.params);
        char *out = NULL;
        rt_status s = rt_tok_chat_render_template(tmpl, name, &v, &out);
        bad += case_differs(name, i, c, s, out, RT_ERR_ARG, json_string_value(json_object_get(c, "error")));
        free(m);
    }
    assert_int_equal(bad, 0);
    json_decref(ref);
}

static void test_fixture_templates(void **state) {
    (void)state;
    const char *names[] = {"llama3", "qwen3", "smollm2", "mistral-v1", "mistral-v3", "qwen2", "chatml", "casing"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_template(names[i]);
}

/* rt_chat_template_text("chatml") is the template the chatml fixture was rendered from, and its hash
 * is the one rt_chat_family names. */
static void test_chatml_text(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tok/chat/chatml.json", RT_FIXTURES_DIR);
    json_t *ref;
    assert_int_equal(rt_json_load(path, &ref), RT_OK);
    assert_string_equal(rt_chat_template_text("chatml"), json_string_value(json_object_get(ref, "chat_template")));
    assert_null(rt_chat_template_text("nope"));
    json_decref(ref);
}

/* upper, lower and title of every code point Python's case mapping touches (case_map.json, from
 * Python's str methods) render as Python's: title of cp + 'A' also shows whether cp counts as cased. */
static void test_case_map(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tok/chat/case_map.json", RT_FIXTURES_DIR);
    json_t *ref;
    if (rt_json_load(path, &ref) != RT_OK) fail_msg("%s", rt_errmsg());
    json_t *rows = json_object_get(ref, "rows");
    assert_true(json_array_size(rows) > 4000);
    const char *tmpl = "{{ messages[0].content | upper }}\x01{{ messages[0].content | lower }}\x01"
                       "{{ (messages[0].content ~ 'A').title() }}";
    int bad = 0;
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        char ch[5] = {0}, want[64];
        rt_tok_utf8_encode((int32_t)json_integer_value(json_array_get(r, 0)), ch);
        snprintf(want, sizeof want, "%s\x01%s\x01%s", json_string_value(json_array_get(r, 1)),
                 json_string_value(json_array_get(r, 2)), json_string_value(json_array_get(r, 3)));
        rt_chat_message m = {"user", ch, NULL};
        rt_tok_chat_vars v = {&m, 1, rt_chat_params_default(), NULL, NULL};
        char *out = NULL;
        if (rt_tok_chat_render_template(tmpl, "case.jinja", &v, &out) != RT_OK || strcmp(out, want)) {
            if (bad++ < 10) print_message("U+%04llX: got '%s' want '%s'\n", json_integer_value(json_array_get(r, 0)), out, want);
        }
        free(out);
    }
    if (bad) print_message("%d of %zu code points differ from Python\n", bad, json_array_size(rows));
    assert_int_equal(bad, 0);
    json_decref(ref);
}

/* Renders `tmpl` with one user message "hi"; returns the status, *out the text or NULL. */
static rt_status render1(const char *tmpl, char **out) {
    rt_chat_message m = {"user", "hi", NULL};
    rt_tok_chat_vars v = {&m, 1, rt_chat_params_default(), "<s>", "</s>"};
    return rt_tok_chat_render_template(tmpl, "t.jinja", &v, out);
}

static void expect(const char *tmpl, const char *want) {
    char *out = NULL;
    rt_status s = render1(tmpl, &out);
    if (s != RT_OK) fail_msg("%s: %s", tmpl, rt_errmsg());
    if (strcmp(out, want)) fail_msg("%s: got '%s' want '%s'", tmpl, out, want);
    free(out);
}

static void expect_error(const char *tmpl, rt_status code, const char *part) {
    char *out = NULL;
    rt_status s = render1(tmpl, &out);
    if (s != code || !strstr(rt_errmsg(), part))
        fail_msg("%s: status %d '%s', want %d with '%s'", tmpl, s, s ? rt_errmsg() : out, code, part);
    assert_null(out);
}

/* Constructs beyond the fixture templates, each checked against what Jinja2 prints for it. */
static void test_constructs(void **state) {
    (void)state;
    expect("{{ messages[0].content | upper }}|{{ 'a,b'.split(',') }}|{{ [1, 2, 3][::-1] }}", "HI|['a', 'b']|[3, 2, 1]");
    expect("{% set ns = namespace(n=0) %}{% for i in range(5) if i is odd %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "4");
    expect("{{ {'a': [1, 'é', none, true]} | tojson }}|{{ 'x\"y' | tojson }}|{{ {'a': 1} | tojson(indent=2) }}",
           "{\"a\": [1, \"é\", null, true]}|\"x\\\"y\"|{\n  \"a\": 1\n}");
    expect("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 ~ 'a' }} {{ 0.1 + 0.2 }}",
           "3 -4 -2 3.5 1024 1a 0.30000000000000004");
    expect("{% macro f(x, y='d') %}<{{ x }}{{ y }}>{% endmacro %}{{ f(1) }}{{ f(2, y='e') }}", "<1d><2e>");
    expect("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ loop.index }}{{ k }}{{ v }}{% if not loop.last %},{% endif %}{% endfor %}",
           "1a1,2b2");
    expect("{% for x in [] %}a{% else %}empty{% endfor %}{% for x in [1,2,3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}",
           "empty1");
    expect("{{ undefined_thing }}{{ x is defined }}{{ none is none }}{{ 'ab' in 'cab' }}{{ 3 not in [1] }}", "FalseTrueTrueTrue");
    expect("  {%- if true %}\n  yes\n  {% endif %}\n", "  yes\n");
    expect("{{ messages | map(attribute='role') | join(', ') }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}",
           "user|1");
    expect("{{ '  x  ' | trim }}{{ 'Hello World'.lower().title() }}{{ 'abc'.replace('b', 'X') }}{{ 'abc'[1:] }}", "xHello WorldaXcbc");
    /* Found by differential runs against jinja2: abs(True) is 1, odd/even/divisibleby take bools and
     * floats, a generator (map, select, reverse, items) is true even when empty, and an if tag's test
     * takes no `x if c else y`. */
    expect_error("{{ nothing | int }}", RT_ERR_FORMAT, "'nothing' is undefined");
    expect("{{ [nothing, 1] }}{{ {'a': nothing} }}{{ nothing }}", "[Undefined, 1]{'a': Undefined}");
    expect("{{ true | abs }}|{{ -1.0 is odd }}{{ false is divisibleby(3) }}{{ 2.5 is even }}", "1|TrueTrueFalse");
    expect("{% set e = messages | selectattr('role', 'equalto', 'x') %}{{ 'T' if e else 'F' }}{{ e | list | length }}"
           "{{ 'T' if [] | reverse else 'F' }}{{ 'T' if {} | items else 'F' }}{{ 'T' if e | list else 'F' }}",
           "T0TTF");
    expect_error("{% if 1 if 1 else 0 %}{% endif %}", RT_ERR_FORMAT, "t.jinja:1:9: expected end of tag, got 'if'");
    expect_error("{{ raise_exception('no ' ~ 'way') }}", RT_ERR_ARG, "the chat template raised: no way");
    expect_error("{{ x | nosuchfilter }}", RT_ERR_UNSUPPORTED, "t.jinja:1:8: unsupported filter 'nosuchfilter'");
    expect_error("line one\n{% if %}", RT_ERR_FORMAT, "t.jinja:2:7: expected an expression");
    expect_error("{% for x in y %}", RT_ERR_FORMAT, "missing {% endfor %}");
    expect_error("{{ missing.attr }}", RT_ERR_FORMAT, "'missing' is undefined");
    expect_error("{% for i in range(2000000) %}{% endfor %}", RT_ERR_UNSUPPORTED, "loop iterations");
    expect_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", RT_ERR_UNSUPPORTED, "nests deeper");
    expect_error("{% set s = 'x' * 10000000 %}{% for i in range(100) %}{{ s }}{% endfor %}", RT_ERR_UNSUPPORTED, "renders more than");
}

/* A tokenizer without a template is refused naming the file; one with a template that raises fails
 * with the template's message. */
static void test_tokenizer_template(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_tok_chat_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *tj = rt_path_join(dir, "tokenizer.json"), *cj = rt_path_join(dir, "tokenizer_config.json");
    const char *tok = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    const char *cfg = "{\"chat_template\": \"{% for m in messages %}{% if m.role != 'user' %}"
                      "{{ raise_exception('users only') }}{% endif %}[{{ m.content }}]{% endfor %}\"}";
    assert_int_equal(rt_file_write_atomic(tj, tok, strlen(tok)), RT_OK);
    assert_int_equal(rt_file_write_atomic(cj, cfg, strlen(cfg)), RT_OK);
    rt_tokenizer *t;
    assert_int_equal(rt_tokenizer_load(dir, &t), RT_OK);
    assert_null(rt_chat_family(t));
    rt_chat_message m[2] = {{"user", "hi", NULL}, {"assistant", "yo", NULL}};
    char *out = NULL;
    assert_int_equal(rt_chat_render(t, m, 1, 1, &out), RT_OK);
    assert_string_equal(out, "[hi]");
    free(out);
    assert_int_equal(rt_chat_render(t, m, 2, 1, &out), RT_ERR_ARG);
    assert_null(out);
    assert_non_null(strstr(rt_errmsg(), "tokenizer_config.json: chat_template:1:"));
    assert_non_null(strstr(rt_errmsg(), "users only"));
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
        cmocka_unit_test(test_fixture_templates),
        cmocka_unit_test(test_chatml_text),
        cmocka_unit_test(test_case_map),
        cmocka_unit_test(test_constructs),
        cmocka_unit_test(test_tokenizer_template),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
