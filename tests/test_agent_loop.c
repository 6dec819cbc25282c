/* test_agent_loop.c: the agent's episode loop on the household world with a tiny random model: the
 * episode it logs is in the episode format and goes back into memory; dynamic retrieval runs before
 * every step, static once, none without a memory; invalid outputs are counted as invalid actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

#define MAX_STEPS 4

static char mem_dir[] = "/tmp/rt_agent_mem_XXXXXX";
static rt_tokenizer *tok;
static rt_model *model;

/* A memory holding expert household episodes. */
static int setup(void **state) {
    (void)state;
    if (!mkdtemp(mem_dir)) return -1;
    rt_memory_init_params ip = rt_memory_init_params_default();
    if (rt_memory_init(mem_dir, &ip) != RT_OK) return -1;
    rt_memory *m;
    if (rt_memory_open(mem_dir, RT_MEMORY_WRITE, &m) != RT_OK) return -1;
    rt_env_config ec = rt_env_config_default();
    rt_env *env;
    if (rt_env_open("household", &ec, &env) != RT_OK) return -1;
    rt_memory_add_opts ao = {0};
    rt_memory_batch *b;
    if (rt_memory_batch_begin(m, &ao, &b) != RT_OK) return -1;
    rt_policy pol = rt_policy_default();
    for (int i = 0; i < 6; i++) {
        json_t *ep;
        char id[32];
        snprintf(id, sizeof id, "expert-%d", i);
        if (rt_env_run_episode(env, &pol, 100 + (uint64_t)i, id, &ep) != RT_OK) return -1;
        char *line = rt_env_dump_line(ep);
        rt_status s = rt_memory_batch_add(b, line, id);
        free(line);
        json_decref(ep);
        if (s != RT_OK) return -1;
    }
    rt_memory_add_stats st;
    if (rt_memory_batch_commit(b, &st) != RT_OK || st.episodes_added != 6) return -1;
    rt_env_close(env);
    rt_memory_close(m);
    if (rt_tokenizer_load(RT_FIXTURES_DIR "/tok/models/trained-bpe", &tok) != RT_OK) return -1;
    rt_model_config c = {.arch = RT_ARCH_LLAMA, .hidden_size = 32, .intermediate_size = 64, .n_layers = 1,
                         .n_heads = 2, .n_kv_heads = 1, .head_dim = 16, .vocab_size = rt_tokenizer_vocab_size(tok),
                         .max_position_embeddings = 2048, .rms_norm_eps = 1e-5f,
                         .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0}, .tie_word_embeddings = 1,
                         .bos_token_id = -1, .eos_token_id = -1};
    return rt_model_new_random(&c, 3, &model) == RT_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", mem_dir);
    int rc = system(cmd);
    rt_model_free(model);
    rt_tokenizer_free(tok);
    rt_tokenizer_thread_cleanup();
    return rc;
}

static json_t *run(rt_memory *mem, int dynamic, rt_agent_stats *st) {
    rt_env_config ec = rt_env_config_default();
    ec.max_steps = MAX_STEPS;
    rt_env *env;
    assert_int_equal(rt_env_open("household", &ec, &env), RT_OK);
    rt_agent a = {model, tok, mem, rt_agent_params_default()};
    a.params.retrieval.dynamic = dynamic, a.params.budget_tokens = 600, a.params.decoding.max_new_tokens = 12;
    json_t *ep;
    rt_status s = rt_agent_run_episode(&a, env, 7, "agent-1", &ep, st);
    if (s != RT_OK) fail_msg("%s", rt_errmsg());
    rt_env_close(env);
    return ep;
}

static void check_episode(json_t *ep, const rt_agent_stats *st) {
    assert_string_equal(json_string_value(json_object_get(ep, "env")), "household");
    assert_true(strlen(json_string_value(json_object_get(ep, "task"))) > 5);
    json_t *steps = json_object_get(ep, "steps");
    assert_int_equal((int)json_array_size(steps), st->steps);
    assert_true(st->steps >= 1 && st->steps <= MAX_STEPS);
    json_t *meta = json_object_get(ep, "meta");
    assert_string_equal(json_string_value(json_object_get(meta, "policy")), "agent");
    assert_int_equal(json_integer_value(json_object_get(meta, "invalid_actions")), st->invalid_actions);
    assert_true(json_string_value(json_object_get(meta, "first_observation"))[0] != '\0');
    const char *outcome = json_string_value(json_object_get(ep, "outcome"));
    assert_true(!strcmp(outcome, "success") || !strcmp(outcome, "failure"));
}

static void test_dynamic_static_none(void **state) {
    (void)state;
    rt_memory *mem;
    assert_int_equal(rt_memory_open(mem_dir, RT_MEMORY_READ, &mem), RT_OK);
    rt_agent_stats st;
    json_t *ep = run(mem, 1, &st);
    check_episode(ep, &st);
    assert_int_equal(st.retrievals, st.steps);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "meta"), "retrieval")), "dynamic");
    json_decref(ep);
    ep = run(mem, 0, &st);
    check_episode(ep, &st);
    assert_int_equal(st.retrievals, 1);
    json_decref(ep);
    rt_memory_close(mem);
    ep = run(NULL, 1, &st);
    check_episode(ep, &st);
    assert_int_equal(st.retrievals, 0);
    json_decref(ep);
}

/* An agent's episode is a valid memory line: it can be added and found again. */
static void test_episode_goes_back_into_memory(void **state) {
    (void)state;
    rt_agent_stats st;
    json_t *ep = run(NULL, 0, &st);
    char *line = rt_env_dump_line(ep);
    rt_memory *mem;
    assert_int_equal(rt_memory_open(mem_dir, RT_MEMORY_WRITE, &mem), RT_OK);
    rt_memory_add_opts ao = {0};
    rt_memory_batch *b;
    assert_int_equal(rt_memory_batch_begin(mem, &ao, &b), RT_OK);
    assert_int_equal(rt_memory_batch_add(b, line, "agent episode"), RT_OK);
    rt_memory_add_stats as;
    assert_int_equal(rt_memory_batch_commit(b, &as), RT_OK);
    assert_int_equal(as.episodes_added, 1);
    rt_memory_results r;
    rt_memory_query q = rt_memory_query_default();
    q.k = 10, q.all_outcomes = 1;
    assert_int_equal(rt_memory_search(mem, json_string_value(json_object_get(ep, "task")), &q, &r), RT_OK);
    int found = 0;
    for (int i = 0; i < r.n_hits; i++) found |= !strcmp(r.hits[i].id, "agent-1");
    for (int i = 0; i < r.n_negatives; i++) found |= !strcmp(r.negatives[i].id, "agent-1");
    assert_true(found);
    rt_memory_results_free(&r);
    rt_memory_close(mem);
    free(line);
    json_decref(ep);
}

/* A budget too small for the task ends the episode as a failure, not the run. */
static void test_context_overflow(void **state) {
    (void)state;
    rt_env_config ec = rt_env_config_default();
    rt_env *env;
    assert_int_equal(rt_env_open("household", &ec, &env), RT_OK);
    rt_agent a = {model, tok, NULL, rt_agent_params_default()};
    a.params.budget_tokens = 8;
    json_t *ep;
    rt_agent_stats st;
    assert_int_equal(rt_agent_run_episode(&a, env, 3, "tiny-budget", &ep, &st), RT_OK);
    assert_int_equal(st.steps, 0);
    assert_string_equal(json_string_value(json_object_get(ep, "outcome")), "failure");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "meta"), "end_reason")), "context_overflow");
    json_decref(ep);
    rt_env_close(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamic_static_none),
        cmocka_unit_test(test_episode_goes_back_into_memory),
        cmocka_unit_test(test_context_overflow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
