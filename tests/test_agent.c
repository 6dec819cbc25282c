/* test_agent.c: prompt assembly (sections, order, the budget policy cut by cut), episode rendering,
 * step targets and action parsing. Token counts use a BPE tokenizer trained by retrace (fixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"
#include "retrace/agent_loop.h"

static const char *EP_OK = "{\"id\":\"a\",\"task\":\"put a clean mug in the cabinet.\",\"steps\":["
                           "{\"thought\":\"find the mug\",\"action\":\"go to countertop 1\",\"observation\":\"you see a mug 1.\"},"
                           "{\"thought\":\"\",\"action\":\"take mug 1 from countertop 1\",\"observation\":\"you pick up the mug 1.\"}],"
                           "\"outcome\":\"success\",\"reward\":1.0}";
static const char *EP_OK2 = "{\"id\":\"b\",\"task\":\"put a hot apple in the fridge.\",\"steps\":["
                            "{\"thought\":\"an apple\",\"action\":\"go to fridge 1\",\"observation\":\"the fridge 1 is closed.\"}],"
                            "\"outcome\":\"success\",\"reward\":0.9,\"meta\":{\"first_observation\":\"a kitchen.\"}}";
static const char *EP_FAIL = "{\"id\":\"c\",\"task\":\"put a clean mug in the cabinet.\",\"steps\":["
                             "{\"thought\":\"skip cleaning\",\"action\":\"go to cabinet 1\",\"observation\":\"nothing happens.\"}],"
                             "\"outcome\":\"failure\",\"reward\":0.25}";

static rt_tokenizer *tok;

static int setup(void **state) {
    (void)state;
    return rt_tokenizer_load(RT_FIXTURES_DIR "/tok/models/trained-bpe", &tok) == RT_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rt_tokenizer_free(tok);
    rt_tokenizer_thread_cleanup();
    return 0;
}

static void test_render_and_target(void **state) {
    (void)state;
    char *r;
    assert_int_equal(rt_episode_render(EP_OK, &r), RT_OK);
    assert_string_equal(r, "task: put a clean mug in the cabinet.\n"
                           "think: find the mug\nact: go to countertop 1\nobs: you see a mug 1.\n"
                           "act: take mug 1 from countertop 1\nobs: you pick up the mug 1.\n"
                           "outcome: success (reward 1.00)\n");
    free(r);
    /* the first observation, when the episode recorded it, comes right after the task */
    assert_int_equal(rt_episode_render(EP_OK2, &r), RT_OK);
    assert_string_equal(r, "task: put a hot apple in the fridge.\nobs: a kitchen.\n"
                           "think: an apple\nact: go to fridge 1\nobs: the fridge 1 is closed.\n"
                           "outcome: success (reward 0.90)\n");
    free(r);
    assert_int_equal(rt_episode_render("{\"task\": 3}", &r), RT_ERR_FORMAT);
    assert_int_equal(rt_episode_render("not json", &r), RT_ERR_FORMAT);
    char *t = rt_step_target("look in the\nfridge", "open fridge 1");
    assert_string_equal(t, "think: look in the fridge\nact: open fridge 1\n");
    free(t);
}

static void test_action_parse(void **state) {
    (void)state;
    char *a, *th;
    assert_int_equal(rt_action_parse("think: it is there\nact:  open fridge 1 \nobs: ignored", &a, &th), RT_OK);
    assert_string_equal(a, "open fridge 1");
    assert_string_equal(th, "it is there");
    free(a), free(th);
    assert_int_equal(rt_action_parse("  act: look", &a, NULL), RT_OK);
    assert_string_equal(a, "look");
    free(a);
    assert_int_equal(rt_action_parse("think: hmm\nact:   \n", &a, &th), RT_ERR_FORMAT);
    assert_null(a);
    assert_null(th);
    assert_int_equal(rt_action_parse("open the fridge", &a, NULL), RT_ERR_FORMAT);
}

static void test_prompt_sections_in_order(void **state) {
    (void)state;
    const char *succ[] = {EP_OK, EP_OK2}, *fail[] = {EP_FAIL}, *docs[] = {"cabinet v2: open(id) then put(obj, id)"};
    rt_memory_step hist[] = {{"look first", "look", "you are in the kitchen."}};
    rt_prompt_parts p = {"put a clean mug in the cabinet.", succ, 2, fail, 1, docs, 1, hist, 1, "you are in the kitchen."};
    char *out;
    rt_prompt_stats st;
    assert_int_equal(rt_prompt_build(tok, &p, 100000, &out, &st), RT_OK);
    const char *a = strstr(out, "## successful episodes"), *b = strstr(out, "## failed episodes"),
               *c = strstr(out, "## documentation"), *d = strstr(out, "## your task\ntask: put a clean mug in the cabinet.\nobs: you are in the kitchen.\nthink: look first");
    assert_true(a && b && c && d && a < b && b < c && c < d);
    assert_non_null(strstr(out, "outcome: failure (reward 0.25)"));
    /* the prompt ends with the working memory, where the model writes the next step */
    size_t n = strlen(out);
    assert_true(n > 30 && strcmp(out + n - strlen("obs: you are in the kitchen.\n"), "obs: you are in the kitchen.\n") == 0);
    assert_int_equal(st.dropped_failures + st.dropped_successes + st.dropped_docs + st.dropped_thoughts + st.dropped_history, 0);
    free(out);
}

/* Each smaller budget cuts the next part of the documented order, and the result fits. */
static void test_budget_policy(void **state) {
    (void)state;
    const char *succ[] = {EP_OK, EP_OK2}, *fail[] = {EP_FAIL}, *docs[] = {"cabinet v2: open(id) then put(obj, id)"};
    rt_memory_step hist[] = {{"a", "look", "room."}, {"b", "go to countertop 1", "a mug."}, {"c", "take mug 1", "done."}};
    rt_prompt_parts p = {"put a clean mug in the cabinet.", succ, 2, fail, 1, docs, 1, hist, 3, NULL};
    char *out;
    rt_prompt_stats full, st;
    assert_int_equal(rt_prompt_build(tok, &p, 100000, &out, &full), RT_OK);
    free(out);
    int prev_dropped = 0, saw_thought_cut = 0, saw_history_cut = 0, saw_all_success_cut = 0;
    for (int budget = full.tokens; budget > 0; budget -= 3) {
        rt_status s = rt_prompt_build(tok, &p, budget, &out, &st);
        if (s != RT_OK) {
            assert_int_equal(s, RT_ERR_ARG);
            assert_non_null(strstr(rt_errmsg(), "over the budget"));
            break;
        }
        assert_true(st.tokens <= budget);
        int dropped = st.dropped_failures + st.dropped_successes + st.dropped_docs + st.dropped_thoughts + st.dropped_history;
        assert_true(dropped >= prev_dropped);
        prev_dropped = dropped;
        /* order: retrieved thoughts first, then failures, the second success, docs, history */
        if (dropped > 0) {
            assert_int_equal(st.brief_episodes, 1);
            assert_null(strstr(out, "think: find the mug"));
            assert_null(strstr(out, "think: skip cleaning"));
        }
        if (st.dropped_successes > 0 || st.dropped_docs > 0 || st.dropped_history > 0) assert_int_equal(st.dropped_failures, 1);
        if (st.dropped_docs > 0 || st.dropped_history > 0) assert_true(st.dropped_successes >= 1);
        if (st.dropped_thoughts > 0) {
            /* older thoughts go after the docs, oldest first; actions and observations stay */
            assert_int_equal(st.dropped_docs, 1);
            assert_null(strstr(out, "think: a\n"));
            if (st.dropped_history == 0) assert_non_null(strstr(out, "act: look\nobs: room.\n"));
            assert_non_null(strstr(out, "think: c\nact: take mug 1"));
            saw_thought_cut = 1;
        }
        if (st.dropped_history > 0) {
            assert_int_equal(st.dropped_thoughts, 2);
            assert_non_null(strstr(out, "earlier steps not shown"));
            saw_history_cut = 1;
        }
        if (st.dropped_successes == 2) {
            assert_int_equal(st.dropped_history, 2);
            saw_all_success_cut = 1;
        }
        /* the task and the last step are always there */
        assert_non_null(strstr(out, "task: put a clean mug in the cabinet."));
        assert_non_null(strstr(out, "act: take mug 1\nobs: done.\n"));
        free(out);
    }
    assert_true(saw_thought_cut);
    assert_true(saw_history_cut);
    assert_true(saw_all_success_cut);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_and_target),
        cmocka_unit_test(test_action_parse),
        cmocka_unit_test(test_prompt_sections_in_order),
        cmocka_unit_test(test_budget_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
