/* test_dataset.c: the RAFT example builder (src/dataset): one example per step of a successful episode,
 * the prompt exactly the context step's, and a slipped step ("slip": true, a noisy policy's deliberate
 * mistake) never a target while it stays in the history of the steps after it. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "retrace/dataset.h"

static rt_tokenizer *tok;

static int setup(void **state) {
    (void)state;
    return rt_tokenizer_load(RT_FIXTURES_DIR "/tok/models/trained-bpe", &tok) == RT_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rt_tokenizer_free(tok);
    return 0;
}

/* An episode of three steps; the second a slip (the noisy policy's random action) that the third
 * recovers from. */
static const char *EPISODE =
    "{\"id\":\"ep-1\",\"env\":\"household\",\"task\":\"put a mug in the cabinet\",\"task_type\":\"pick\","
    "\"steps\":[{\"thought\":\"find the mug\",\"action\":\"go to table 1\",\"observation\":\"a mug\"},"
    "{\"thought\":\"Let me try this.\",\"action\":\"open drawer 2\",\"observation\":\"nothing\",\"slip\":true},"
    "{\"thought\":\"take it\",\"action\":\"take mug 1 from table 1\",\"observation\":\"you take it\"}],"
    "\"outcome\":\"success\",\"reward\":1.0,\"meta\":{\"first_observation\":\"you are in a room\"}}";

typedef struct {
    json_t *got; /* the examples, in order */
} sink;

static rt_status collect(void *ctx, const json_t *ex) {
    json_array_append(((sink *)ctx)->got, (json_t *)ex);
    return RT_OK;
}

static void build(const char *text, sink *k, rt_dataset_stats *st) {
    json_t *o = json_loads(text, 0, NULL);
    rt_episode ep;
    assert_int_equal(rt_episode_from_json(o, "test", &ep), RT_OK);
    rt_dataset_params p = rt_dataset_params_default();
    rt_rng rng;
    rt_rng_seed(&rng, p.seed);
    k->got = json_array();
    memset(st, 0, sizeof *st);
    assert_int_equal(rt_dataset_episode_examples(&p, NULL, tok, &ep, &rng, collect, k, st), RT_OK);
    rt_episode_free(&ep);
    json_decref(o);
}

static const char *field(const json_t *arr, size_t i, const char *key) {
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static void test_slip_is_never_a_target(void **state) {
    (void)state;
    sink k;
    rt_dataset_stats st;
    build(EPISODE, &k, &st);
    /* steps 0 and 2 are examples, step 1 (the slip) is not */
    assert_int_equal(json_array_size(k.got), 2);
    assert_int_equal(st.examples, 2);
    assert_int_equal(st.slips, 1);
    assert_string_equal(field(k.got, 0, "id"), "ep-1#0");
    assert_string_equal(field(k.got, 1, "id"), "ep-1#2");
    assert_string_equal(field(k.got, 0, "completion"), "think: find the mug\nact: go to table 1\n");
    assert_string_equal(field(k.got, 1, "completion"), "think: take it\nact: take mug 1 from table 1\n");
    for (size_t i = 0; i < 2; i++) assert_null(strstr(field(k.got, i, "completion"), "open drawer 2"));
    /* ... but the step after it sees it in its history, as the agent saw it */
    const char *prompt = field(k.got, 1, "prompt");
    const char *slip = strstr(prompt, "act: open drawer 2\nobs: nothing\n");
    assert_non_null(slip);
    assert_true(slip > strstr(prompt, "act: go to table 1\n"));
    assert_non_null(strstr(prompt, "task: put a mug in the cabinet\nobs: you are in a room\n"));
    json_decref(k.got);
}

/* The same episode without the mark: three examples, and the two it shares are byte for byte the same
 * (the rule leaves out targets, it changes no prompt). */
static void test_without_slip_every_step_is_a_target(void **state) {
    (void)state;
    char *plain = rt_strdup(EPISODE);
    char *mark = strstr(plain, ",\"slip\":true");
    memmove(mark, mark + strlen(",\"slip\":true"), strlen(mark + strlen(",\"slip\":true")) + 1);
    sink a, b;
    rt_dataset_stats sa, sb;
    build(EPISODE, &a, &sa);
    build(plain, &b, &sb);
    assert_int_equal(json_array_size(b.got), 3);
    assert_int_equal(sb.slips, 0);
    assert_string_equal(field(b.got, 1, "completion"), "think: Let me try this.\nact: open drawer 2\n");
    assert_true(json_equal(json_array_get(a.got, 0), json_array_get(b.got, 0)));
    assert_true(json_equal(json_array_get(a.got, 1), json_array_get(b.got, 2)));
    json_decref(a.got), json_decref(b.got);
    free(plain);
}

/* Failed episodes give no examples; the doc rule and the episode reader agree with the memory's. */
static void test_failures_and_docs(void **state) {
    (void)state;
    json_t *fail = json_loads("{\"id\":\"f\",\"env\":\"household\",\"task\":\"t\",\"steps\":[],\"outcome\":\"failure\",\"reward\":0}", 0, NULL);
    rt_episode ep;
    assert_int_equal(rt_episode_from_json(fail, "f", &ep), RT_OK);
    rt_dataset_params p = rt_dataset_params_default();
    rt_dataset_stats st = {0};
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    sink k = {json_array()};
    assert_int_equal(rt_dataset_episode_examples(&p, NULL, tok, &ep, &rng, collect, &k, &st), RT_OK);
    assert_int_equal(json_array_size(k.got), 0);
    assert_int_equal(st.skipped_failures, 1);
    rt_episode_free(&ep);
    json_decref(fail), json_decref(k.got);
    json_t *doc = json_loads("{\"tool\":\"get_account\",\"version\":2,\"text\":\"...\"}", 0, NULL);
    json_t *ep_with_tool = json_loads("{\"id\":\"x\",\"tool\":\"get_account\",\"steps\":[]}", 0, NULL);
    assert_int_equal(rt_line_kind_of(doc), RT_LINE_DOC);
    assert_int_equal(rt_line_kind_of(ep_with_tool), RT_LINE_EPISODE);
    json_decref(doc), json_decref(ep_with_tool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slip_is_never_a_target),
        cmocka_unit_test(test_without_slip_every_step_is_a_target),
        cmocka_unit_test(test_failures_and_docs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
