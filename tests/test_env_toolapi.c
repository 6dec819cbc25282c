/* test_env_toolapi.c: the toolapi world and its scenario packs: the expert solves every template of
 * every shipped pack under every API version; each drift rule makes the old call fail with a real API
 * error and the new one succeed; broken packs are rejected with the JSON path of every problem; bad
 * calls are observations; the same seed gives the same episode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

#define PACKS RT_FIXTURES_DIR "/../../packs"
#define EPISODES_PER_SPLIT 600
static const char *const PACK_NAMES[] = {"calendar", "shop", "bank", "helpdesk", "shipping"};
#define N_PACKS 5

static char *pack_path(const char *name) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s.json", PACKS, name);
    return strdup(buf);
}

static rt_env *open_pack(const char *name, int version, const char *split) {
    rt_env_config cfg = rt_env_config_default();
    cfg.api_version = version;
    cfg.split = split;
    char *p = pack_path(name);
    rt_env *env = NULL;
    if (rt_env_open(p, &cfg, &env) != RT_OK) fail_msg("%s", rt_errmsg());
    free(p);
    return env;
}

static void test_expert_solves_every_template(void **state) {
    (void)state;
    rt_policy pol = rt_policy_default();
    int templates = 0;
    for (int p = 0; p < N_PACKS; p++)
        for (int v = 1; v <= 3; v++)
            for (int sp = 0; sp < 2; sp++) {
                rt_env *env = open_pack(PACK_NAMES[p], v, sp ? "unseen_task" : "train");
                json_t *seen = json_object();
                for (int s = 0; s < EPISODES_PER_SPLIT; s++) {
                    json_t *ep;
                    assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(3, (uint64_t)s), "x", &ep), RT_OK);
                    if (strcmp(json_string_value(json_object_get(ep, "outcome")), "success") != 0) {
                        char *line = rt_env_dump_line(ep);
                        fail_msg("expert failed: %s", line);
                    }
                    json_t *meta = json_object_get(ep, "meta");
                    assert_int_equal(json_integer_value(json_object_get(meta, "api_version")), v);
                    const char *t = json_string_value(json_object_get(ep, "task_type"));
                    json_object_set_new(seen, t, json_integer(json_integer_value(json_object_get(seen, t)) + 1));
                    json_decref(ep);
                }
                const char *k;
                json_t *n;
                json_object_foreach(seen, k, n) assert_true(json_integer_value(n) >= 100);
                if (v == 1) templates += (int)json_object_size(seen);
                json_decref(seen);
                rt_env_close(env);
            }
    assert_true(templates >= 30);
}

/* Runs `call` as the first step of a fresh episode and returns the observation (a copy). */
static char *call_in(const char *pack, int version, const char *call) {
    rt_env *env = open_pack(pack, version, "train");
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, 1, &st), RT_OK);
    rt_env_result r;
    assert_int_equal(rt_env_step(env, call, &r), RT_OK);
    char *obs = strdup(r.observation);
    rt_env_close(env);
    return obs;
}

static void expect_obs(const char *pack, int version, const char *call, const char *want_prefix) {
    char *obs = call_in(pack, version, call);
    if (strncmp(obs, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("v%d %s\n  got:  %s\n  want: %s...", version, call, obs, want_prefix);
    free(obs);
}

static void test_drift_rename_tool(void **state) {
    (void)state;
    const char *v1 = "create_event {\"title\": \"X\", \"date\": \"2024-07-02\", \"start\": \"09:00\", \"duration\": 30, \"room\": \"Aurora\"}";
    expect_obs("calendar", 1, v1, "{\"id\":\"EV-11\"");
    expect_obs("calendar", 2, v1, "404 Not Found: unknown function 'create_event'");
    expect_obs("calendar", 2, "add_event {\"title\": \"X\", \"date\": \"02/07/2024\", \"start\": \"09:00\", \"duration\": 0.5, \"room\": \"Aurora\"}",
               "{\"id\":\"EV-11\",\"title\":\"X\",\"date\":\"02/07/2024\",\"start\":\"09:00\",\"duration\":0.5");
}

static void test_drift_rename_arg(void **state) {
    (void)state;
    expect_obs("shop", 1, "search_products {\"name\": \"Stapler\"}", "[{\"sku\":\"OF-301\"");
    expect_obs("shop", 2, "search_products {\"name\": \"Stapler\"}",
               "TypeError: search_products() got an unexpected keyword argument 'name'");
    expect_obs("shop", 2, "search_products {\"query\": \"Stapler\"}", "[{\"sku\":\"OF-301\"");
}

static void test_drift_change_format(void **state) {
    (void)state;
    /* Dates: ISO in v1, DD/MM/YYYY in v2, and the results follow. */
    expect_obs("calendar", 1, "find_events {\"date\": \"2024-06-03\"}", "[{\"id\":\"EV-1\",\"title\":\"Design review\",\"date\":\"2024-06-03\"");
    expect_obs("calendar", 2, "find_events {\"date\": \"2024-06-03\"}", "ValueError: invalid value for argument 'date'");
    expect_obs("calendar", 2, "find_events {\"date\": \"03/06/2024\"}", "[{\"id\":\"EV-1\",\"title\":\"Design review\",\"date\":\"03/06/2024\"");
    expect_obs("calendar", 2, "find_events {\"date\": \"31/06/2024\"}", "ValueError: invalid value for argument 'date'");
    /* Units: dollars in v1, integer cents in v2. */
    expect_obs("bank", 1, "transfer {\"from_account\": \"AC-1001\", \"to_account\": \"AC-1002\", \"amount\": 12.5, \"date\": \"2024-08-01\"}",
               "{\"id\":\"TR-3\",\"from_account\":\"AC-1001\",\"to_account\":\"AC-1002\",\"amount\":12.5");
    expect_obs("bank", 2, "create_transfer {\"from_account\": \"AC-1001\", \"to_account\": \"AC-1002\", \"amount\": 12.5, \"date\": \"08/01/2024\"}",
               "TypeError: argument 'amount' must be integer, not number");
    expect_obs("bank", 2, "create_transfer {\"from_account\": \"AC-1001\", \"to_account\": \"AC-1002\", \"amount\": 1250, \"date\": \"08/01/2024\"}",
               "{\"id\":\"TR-3\",\"from_account\":\"AC-1001\",\"to_account\":\"AC-1002\",\"amount\":1250,\"date\":\"08/01/2024\"");
    expect_obs("bank", 1, "transfer {\"from_account\": \"AC-1001\", \"to_account\": \"AC-1002\", \"amount\": 12.345, \"date\": \"2024-08-01\"}",
               "ValueError: invalid value for argument 'amount'");
}

static void test_drift_add_required_arg(void **state) {
    (void)state;
    expect_obs("calendar", 1, "delete_event {\"event_id\": \"EV-2\"}", "{\"id\":\"EV-2\",\"deleted\":true}");
    expect_obs("calendar", 2, "delete_event {\"event_id\": \"EV-2\"}", "TypeError: delete_event() missing required argument 'calendar'");
    expect_obs("calendar", 2, "delete_event {\"event_id\": \"EV-2\", \"calendar\": \"work\"}", "404 Not Found: no event with event_id 'EV-2'");
    expect_obs("calendar", 2, "delete_event {\"event_id\": \"EV-2\", \"calendar\": \"personal\"}", "{\"id\":\"EV-2\",\"deleted\":true}");
    expect_obs("calendar", 2, "delete_event {\"event_id\": \"EV-2\", \"calendar\": \"holiday\"}", "ValueError: invalid value for argument 'calendar'");
}

static void test_drift_split_tool(void **state) {
    (void)state;
    expect_obs("calendar", 1, "update_event {\"event_id\": \"EV-3\", \"date\": \"2024-07-09\", \"room\": \"Cirrus\"}",
               "{\"id\":\"EV-3\",\"title\":\"Sprint planning\",\"date\":\"2024-07-09\",\"start\":\"09:00\",\"room\":\"Cirrus\"}");
    expect_obs("calendar", 2, "update_event {\"event_id\": \"EV-3\", \"date\": \"09/07/2024\"}", "404 Not Found: unknown function 'update_event'");
    expect_obs("calendar", 2, "reschedule_event {\"event_id\": \"EV-3\", \"date\": \"09/07/2024\"}", "{\"id\":\"EV-3\",\"title\":\"Sprint planning\",\"date\":\"09/07/2024\"");
    expect_obs("calendar", 2, "edit_event {\"event_id\": \"EV-3\", \"date\": \"09/07/2024\"}",
               "TypeError: edit_event() got an unexpected keyword argument 'date'");
    expect_obs("calendar", 2, "edit_event {\"event_id\": \"EV-3\", \"room\": \"Cirrus\"}", "{\"id\":\"EV-3\",\"title\":\"Sprint planning\",\"date\":\"05/06/2024\",\"start\":\"09:00\",\"room\":\"Cirrus\"}");
}

static void test_drift_deprecate_tool(void **state) {
    (void)state;
    expect_obs("bank", 1, "get_balance {\"account_id\": \"AC-1002\"}", "{\"id\":\"AC-1002\",\"balance\":1299}");
    expect_obs("bank", 2, "get_balance {\"account_id\": \"AC-1002\"}", "410 Gone: function 'get_balance' is deprecated");
    expect_obs("bank", 2, "get_account {\"account_id\": \"AC-1002\"}", "{\"id\":\"AC-1002\",\"owner\":\"Tom Becker\",\"balance\":1299");
}

static void test_bad_calls_are_observations(void **state) {
    (void)state;
    char *huge = malloc(30001);
    memset(huge, '{', 30000);
    huge[30000] = '\0';
    const char *calls[][2] = {
        {"", "400 Bad Request: malformed call"},
        {"   ", "400 Bad Request: malformed call"},
        {"{\"tool\": \"find_events\"}", "400 Bad Request: malformed call"},
        {"find_events {\"title\": ", "400 Bad Request: invalid JSON in arguments"},
        {"find_events [1, 2]", "400 Bad Request: arguments must be a JSON object"},
        {"find_events {\"title\": 5}", "TypeError: argument 'title' must be string, not integer"},
        {"find_events {\"title\": \"a\", \"title\": \"b\"}", "400 Bad Request: invalid JSON in arguments"},
        {"get_event {}", "TypeError: get_event() missing required argument 'event_id'"},
        {"get_event {\"event_id\": \"EV-999\"}", "404 Not Found: no event with event_id 'EV-999'"},
        {"finish {\"answr\": 1}", "TypeError: finish() got an unexpected keyword argument 'answr'"},
        {huge, "400 Bad Request: malformed call"},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) expect_obs("calendar", 1, calls[i][0], calls[i][1]);
    free(huge);
}

static void test_same_seed_same_episode_and_docs(void **state) {
    (void)state;
    rt_env_config cfg = rt_env_config_default();
    cfg.packs_dir = PACKS;
    cfg.split = "unseen";
    rt_env *a, *b;
    assert_int_equal(rt_env_open("toolapi", &cfg, &a), RT_OK);
    assert_int_equal(rt_env_open("toolapi", &cfg, &b), RT_OK);
    rt_policy pol = {RT_POLICY_NOISY, 0.5};
    for (uint64_t s = 0; s < 50; s++) {
        json_t *x, *y;
        assert_int_equal(rt_env_run_episode(a, &pol, s, "i", &x), RT_OK);
        assert_int_equal(rt_env_run_episode(b, &pol, s, "i", &y), RT_OK);
        char *lx = rt_env_dump_line(x), *ly = rt_env_dump_line(y);
        assert_string_equal(lx, ly);
        free(lx), free(ly), json_decref(x), json_decref(y);
    }
    json_t *docs = json_array();
    assert_int_equal(rt_env_docs(a, docs), RT_OK);
    int found = 0;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        const char *tool = json_string_value(json_object_get(d, "tool"));
        const char *text = json_string_value(json_object_get(d, "text"));
        json_int_t v = json_integer_value(json_object_get(d, "version"));
        assert_true(v >= 1 && v <= 3);
        if (!strcmp(tool, "add_event")) {
            assert_int_equal(v, 2);
            assert_non_null(strstr(text, "date (date, required, format DD/MM/YYYY)"));
            assert_non_null(strstr(text, "duration (duration, required, a number of hours)"));
            found++;
        }
        if (!strcmp(tool, "book_event")) { /* v3: other names and formats than v1 and v2 */
            assert_int_equal(v, 3);
            assert_non_null(strstr(text, "subject (string, required"));
            assert_non_null(strstr(text, "date (date, required, format YYYYMMDD)"));
            assert_non_null(strstr(text, "calendar (enum, required"));
            found++;
        }
        if (!strcmp(tool, "get_balance") && v == 2) {
            assert_non_null(strstr(text, "Deprecated"));
            found++;
        }
    }
    assert_int_equal(found, 3);
    json_decref(docs);
    rt_env_close(a);
    rt_env_close(b);
}

/* Loads calendar.json, lets `mutate` break it, and returns the errors rt_pack_check gives. */
static json_t *check_broken(void (*mutate)(json_t *)) {
    char *src = pack_path("calendar");
    json_t *root = json_load_file(src, 0, NULL);
    free(src);
    assert_non_null(root);
    mutate(root);
    char tmp[] = "/tmp/rt_pack_XXXXXX.json";
    int fd = mkstemps(tmp, 5);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(json_dump_file(root, tmp, JSON_INDENT(1)), 0);
    json_decref(root);
    json_t *errors = json_array();
    assert_int_equal(rt_pack_check(tmp, errors), RT_ERR_FORMAT);
    unlink(tmp);
    return errors;
}

static int has_error(const json_t *errors, const char *want) {
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) if (strstr(json_string_value(e), want)) return 1;
    return 0;
}

#define EXPECT_ERROR(errors, want)                                                            \
    do {                                                                                      \
        if (!has_error(errors, want)) {                                                       \
            char *all_ = json_dumps(errors, JSON_INDENT(1));                                  \
            fail_msg("missing error '%s' in %s", want, all_);                                 \
        }                                                                                     \
    } while (0)

static json_t *at(json_t *root, const char *a, size_t i) { return json_array_get(json_object_get(root, a), i); }

static void break_schema(json_t *r) {
    json_object_set_new(json_array_get(json_object_get(at(r, "tools", 0), "args"), 0), "type", json_string("text"));
    json_t *row = json_array_get(json_object_get(json_object_get(json_object_get(r, "tables"), "events"), "rows"), 0);
    json_object_set_new(row, "date", json_string("2024-13-01"));
    json_object_set_new(row, "colour", json_string("red"));
}
static void break_reference(json_t *r) {
    json_object_set_new(json_array_get(json_object_get(at(r, "tasks", 1), "plan"), 0), "tool", json_string("create_evnt"));
    json_object_set_new(json_object_get(json_array_get(json_object_get(at(r, "tasks", 0), "plan"), 1), "args"), "colour", json_string("x"));
}
static void break_drift_arg(json_t *r) {
    json_t *rule = json_array_get(json_object_get(at(r, "versions", 0), "drift"), 1);
    json_object_set_new(rule, "arg", json_string("day"));
}
static void break_drift_unit(json_t *r) {
    json_t *rule = json_array_get(json_object_get(at(r, "versions", 0), "drift"), 2);
    json_object_set_new(rule, "unit", json_string("kilograms"));
}
static void break_drift_split(json_t *r) {
    json_t *rule = json_array_get(json_object_get(at(r, "versions", 0), "drift"), 5);
    json_array_remove(json_object_get(json_array_get(json_object_get(rule, "into"), 1), "args"), 2);
}
static void break_goal(json_t *r) {
    json_t *g = json_array_get(json_object_get(at(r, "tasks", 0), "goal"), 0);
    json_object_set_new(json_object_get(g, "expect"), "start", json_string("23:59"));
}

static void test_broken_packs_are_rejected_with_paths(void **state) {
    (void)state;
    json_t *e = check_broken(break_schema);
    EXPECT_ERROR(e, "$.tools[0].args[0].type: unknown type 'text'");
    EXPECT_ERROR(e, "$.tables.events.rows[0].date: not a valid date value");
    EXPECT_ERROR(e, "$.tables.events.rows[0].colour: no such column");
    json_decref(e);
    e = check_broken(break_reference);
    EXPECT_ERROR(e, "$.tasks[1].plan[0]: names no tool 'create_evnt' of version 1");
    EXPECT_ERROR(e, "$.tasks[0].plan[1]: 'update_event' takes no argument 'colour' in any version");
    json_decref(e);
    e = check_broken(break_drift_arg);
    EXPECT_ERROR(e, "$.versions[0].drift[1]: tool 'add_event' has no argument 'day'");
    json_decref(e);
    e = check_broken(break_drift_unit);
    EXPECT_ERROR(e, "$.versions[0].drift[2]: 'kilograms' is not a format of argument 'duration' (type duration)");
    json_decref(e);
    e = check_broken(break_drift_split);
    EXPECT_ERROR(e, "$.versions[0].drift[5]: argument 'room' of 'update_event' is in none of the new tools");
    json_decref(e);
    e = check_broken(break_goal);
    EXPECT_ERROR(e, "$.tasks[0]: the plan fails under version 1");
    json_decref(e);
    /* A file that is not JSON names its line and column. */
    char tmp[] = "/tmp/rt_pack_XXXXXX.json";
    int fd = mkstemps(tmp, 5);
    assert_int_equal(write(fd, "{\n \"domain\": }", 14), 14);
    close(fd);
    e = json_array();
    assert_int_equal(rt_pack_check(tmp, e), RT_ERR_FORMAT);
    EXPECT_ERROR(e, ":2:");
    unlink(tmp);
    json_decref(e);
    rt_env *env;
    assert_int_equal(rt_env_open("/nonexistent/pack.json", NULL, &env), RT_ERR_IO);
}

/* The complete example in docs/scenario-packs.md is a valid pack whose expert succeeds. */
static void test_docs_example_pack(void **state) {
    (void)state;
    char *doc;
    size_t len;
    assert_int_equal(rt_file_read(RT_FIXTURES_DIR "/../../docs/scenario-packs.md", &doc, &len), RT_OK);
    char *start = strstr(doc, "```json\n");
    assert_non_null(start);
    start += 8;
    char *end = strstr(start, "```");
    assert_non_null(end);
    char tmp[] = "/tmp/rt_docpack_XXXXXX.json";
    int fd = mkstemps(tmp, 5);
    assert_int_equal(write(fd, start, (size_t)(end - start)), end - start);
    close(fd);
    free(doc);
    json_t *errors = json_array();
    if (rt_pack_check(tmp, errors) != RT_OK) fail_msg("%s", json_string_value(json_array_get(errors, 0)));
    json_decref(errors);
    rt_env_config cfg = rt_env_config_default();
    cfg.api_version = 2;
    rt_env *env;
    assert_int_equal(rt_env_open(tmp, &cfg, &env), RT_OK);
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, 1, &st), RT_OK);
    rt_env_result r;
    assert_int_equal(rt_env_step(env, "extend_loan {\"loan_id\": \"L-1\", \"due\": \"2024-07-17\"}", &r), RT_OK);
    assert_string_equal(r.observation, "TypeError: extend_loan() got an unexpected keyword argument 'due'");
    assert_int_equal(rt_env_step(env, "get_fine {\"loan_id\": \"L-1\"}", &r), RT_OK);
    assert_string_equal(r.observation, "410 Gone: function 'get_fine' is deprecated and no longer available");
    rt_env_close(env);
    unlink(tmp);
}

/* Replaces one random node of the tree (picked by a walk) with a random value of another kind. */
static void mutate_random(json_t *root, rt_rng *rng) {
    json_t *node = root;
    for (int depth = 0; depth < 12; depth++) {
        size_t n = json_is_object(node) ? json_object_size(node) : json_is_array(node) ? json_array_size(node) : 0;
        if (n == 0) return;
        size_t pick = rt_rng_below(rng, n);
        json_t *child;
        const char *key = NULL;
        if (json_is_object(node)) {
            void *it = json_object_iter(node);
            for (size_t i = 0; i < pick; i++) it = json_object_iter_next(node, it);
            key = json_object_iter_key(it);
            child = json_object_iter_value(it);
        } else {
            child = json_array_get(node, pick);
        }
        if ((json_is_object(child) || json_is_array(child)) && rt_rng_below(rng, 4) != 0) {
            node = child;
            continue;
        }
        json_t *repl;
        switch (rt_rng_below(rng, 7)) {
        case 0: repl = json_null(); break;
        case 1: repl = json_integer(-1); break;
        case 2: repl = json_string("x"); break;
        case 3: repl = json_array(); break;
        case 4: repl = json_object(); break;
        case 5: repl = json_real(1.5); break;
        default: repl = NULL; break; /* delete */
        }
        if (json_is_object(node)) {
            if (repl) json_object_set_new(node, key, repl);
            else json_object_del(node, key);
        } else {
            if (repl) json_array_set_new(node, pick, repl);
            else json_array_remove(node, pick);
        }
        return;
    }
}

/* Bad input is an error with a path, never a crash: hundreds of randomly damaged packs. */
static void test_damaged_packs_never_crash(void **state) {
    (void)state;
    rt_rng rng;
    rt_rng_seed(&rng, 99);
    int rejected = 0;
    for (int round = 0; round < 400; round++) {
        char *src = pack_path(PACK_NAMES[round % N_PACKS]);
        json_t *root = json_load_file(src, 0, NULL);
        free(src);
        int edits = 1 + (int)rt_rng_below(&rng, 3);
        for (int e = 0; e < edits; e++) mutate_random(root, &rng);
        char tmp[] = "/tmp/rt_mut_XXXXXX.json";
        int fd = mkstemps(tmp, 5);
        close(fd);
        assert_int_equal(json_dump_file(root, tmp, JSON_ENCODE_ANY), 0);
        json_decref(root);
        json_t *errors = json_array();
        rt_status s = rt_pack_check(tmp, errors);
        if (s != RT_OK) {
            rejected++;
            assert_true(json_array_size(errors) > 0);
            size_t i;
            json_t *e;
            json_array_foreach(errors, i, e) assert_true(strlen(json_string_value(e)) > 3);
        } else {
            /* A damaged pack that still passes must still run. */
            rt_env *env;
            assert_int_equal(rt_env_open(tmp, NULL, &env), RT_OK);
            rt_policy pol = {RT_POLICY_NOISY, 0.5};
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, (uint64_t)round, "x", &ep), RT_OK);
            json_decref(ep);
            rt_env_close(env);
        }
        json_decref(errors);
        unlink(tmp);
    }
    assert_true(rejected > 100);
}

static void test_noisy_and_partial_credit(void **state) {
    (void)state;
    rt_env_config cfg = rt_env_config_default();
    cfg.packs_dir = PACKS;
    cfg.split = "unseen_api";
    rt_env *env;
    assert_int_equal(rt_env_open("toolapi", &cfg, &env), RT_OK);
    double rates[] = {0.0, 0.5, 1.0};
    for (int k = 0; k < 3; k++) {
        rt_policy pol = {RT_POLICY_NOISY, rates[k]};
        int wins = 0, partial = 0, n = 300;
        for (int s = 0; s < n; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, (uint64_t)s, "x", &ep), RT_OK);
            double r = json_real_value(json_object_get(ep, "reward"));
            int win = !strcmp(json_string_value(json_object_get(ep, "outcome")), "success");
            assert_true(r >= 0 && r <= 1 && (win ? r == 1.0 : r < 1.0));
            wins += win;
            partial += !win && r > 0;
            json_decref(ep);
        }
        if (k == 0) assert_int_equal(wins, n);
        if (k == 1) assert_true(wins > n * 35 / 100 && wins < n * 70 / 100 && partial > 0);
        if (k == 2) assert_true(wins < n * 12 / 100);
    }
    rt_env_close(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expert_solves_every_template), cmocka_unit_test(test_drift_rename_tool),
        cmocka_unit_test(test_drift_rename_arg),             cmocka_unit_test(test_drift_change_format),
        cmocka_unit_test(test_drift_add_required_arg),       cmocka_unit_test(test_drift_split_tool),
        cmocka_unit_test(test_drift_deprecate_tool),         cmocka_unit_test(test_bad_calls_are_observations),
        cmocka_unit_test(test_same_seed_same_episode_and_docs), cmocka_unit_test(test_broken_packs_are_rejected_with_paths),
        cmocka_unit_test(test_docs_example_pack),              cmocka_unit_test(test_damaged_packs_never_crash),              cmocka_unit_test(test_noisy_and_partial_credit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
