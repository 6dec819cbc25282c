/* test_env_household.c: the household world: the expert solves every task type, the same seed gives the
 * same episode, admissible actions are all valid, bad actions are harmless, splits hold out what they
 * claim (the paper's split by default), partial credit and the step budget work, and noisy slips are
 * plausible, marked, harmless and followed by the expert's recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "env_test_util.h"
#include "retrace.h"

/* 1,000 seeds of every task type in each of its two splits (the bar); fast even under ASan. */
#define SEEDS_PER_TYPE 2000
static const char *const TYPES[] = {
    "pick_and_place_simple",         "look_at_obj_in_light",          "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place",
};
static const char *const HELD_OUT_OBJECTS[] = {"candle", "cd", "cup", "ladle", "potato", "watch"};

static rt_env *open_env(const char *split, const char *held_out) {
    rt_env_config cfg = rt_env_config_default();
    cfg.split = split;
    cfg.held_out = held_out;
    rt_env *env;
    assert_int_equal(rt_env_open("household", &cfg, &env), RT_OK);
    return env;
}

/* The expert has no secret knowledge: whatever it takes or goes to fetch was shown in an earlier
 * observation (ALFWorld's expert searches the same way). */
static void assert_expert_takes_only_seen(const json_t *ep) {
    const json_t *steps = json_object_get(ep, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const char *act = json_string_value(json_object_get(json_array_get(steps, i), "action"));
        char obj[64];
        if (sscanf(act, "take %63[a-z] ", obj) != 1) continue;
        const char *num = act + 5 + strlen(obj) + 1;
        char needle[96];
        snprintf(needle, sizeof needle, "a %s %.*s", obj, (int)strcspn(num, " "), num);
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++) {
            const char *obs = json_string_value(json_object_get(json_array_get(steps, k), "observation"));
            const char *at = strstr(obs, needle);
            /* "a apple 1" must not match inside "a apple 10". */
            while (at && (at[strlen(needle)] >= '0' && at[strlen(needle)] <= '9')) at = strstr(at + 1, needle);
            seen = at != NULL;
        }
        if (!seen) fail_msg("the expert took '%s' before any observation showed it", needle);
    }
}

/* How many receptacles the agent went to until an observation first showed the task's object type. */
static int visits_before_seeing(const json_t *ep) {
    const char *type = json_string_value(json_object_get(json_object_get(ep, "meta"), "object"));
    char needle[64];
    snprintf(needle, sizeof needle, "a %s ", type);
    const json_t *steps = json_object_get(ep, "steps");
    int visits = 0;
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *st = json_array_get(steps, i);
        visits += strncmp(json_string_value(json_object_get(st, "action")), "go to ", 6) == 0;
        if (strstr(json_string_value(json_object_get(st, "observation")), needle)) return visits;
    }
    return visits;
}

/* Holding out exactly one type and asking for the unseen splits gives episodes of that type only. */
static void test_expert_solves_every_type(void **state) {
    (void)state;
    rt_policy pol = rt_policy_default();
    int searched = 0, total = 0;
    for (int t = 0; t < 6; t++) {
        for (int sp = 0; sp < 2; sp++) {
            rt_env *env = open_env(sp ? "unseen" : "unseen_task", TYPES[t]);
            for (int s = 0; s < SEEDS_PER_TYPE / 2; s++) {
                json_t *ep;
                assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(7, (uint64_t)s), "x", &ep), RT_OK);
                assert_string_equal(json_string_value(json_object_get(ep, "task_type")), TYPES[t]);
                if (strcmp(json_string_value(json_object_get(ep, "outcome")), "success") != 0) {
                    char *line = rt_env_dump_line(ep);
                    fail_msg("expert failed: %s", line);
                }
                assert_true(json_real_value(json_object_get(ep, "reward")) == 1.0);
                assert_expert_takes_only_seen(ep);
                searched += visits_before_seeing(ep) > 1;
                total++;
                json_decref(ep);
            }
            rt_env_close(env);
        }
    }
    /* An expert that knew where things are would always walk straight to them. */
    if (searched * 5 < total) fail_msg("the expert found the object on its first visit in %d of %d episodes", total - searched, total);
}

static char *episode_line(rt_env *env, const rt_policy *pol, uint64_t seed) {
    json_t *ep;
    assert_int_equal(rt_env_run_episode(env, pol, seed, "id", &ep), RT_OK);
    char *line = rt_env_dump_line(ep);
    json_decref(ep);
    return line;
}

static void test_same_seed_same_episode(void **state) {
    (void)state;
    rt_env *a = open_env("train", NULL), *b = open_env("train", NULL);
    rt_policy pols[3] = {{RT_POLICY_EXPERT, 0}, {RT_POLICY_NOISY, 0.5}, {RT_POLICY_RANDOM, 0}};
    for (int p = 0; p < 3; p++)
        for (uint64_t s = 0; s < 20; s++) {
            char *x = episode_line(a, &pols[p], s), *y = episode_line(b, &pols[p], s);
            assert_string_equal(x, y);
            char *z = episode_line(a, &pols[p], s + 1000);
            assert_string_not_equal(x, z);
            free(x), free(y), free(z);
        }
    rt_env_close(a);
    rt_env_close(b);
}

/* Every admissible action does something: none of them answers "Nothing happens.". */
static void test_admissible_actions_are_valid(void **state) {
    (void)state;
    rt_env *env = open_env("train", "");
    rt_rng rng;
    rt_rng_seed(&rng, 5);
    int checked = 0;
    for (uint64_t s = 0; s < 60; s++) {
        rt_env_start st;
        assert_int_equal(rt_env_reset(env, s, &st), RT_OK);
        assert_non_null(strstr(st.observation, "Your task is to: "));
        assert_non_null(strstr(st.observation, st.task));
        for (;;) {
            const char *const *acts;
            size_t n = rt_env_admissible(env, &acts);
            assert_true(n > 0);
            char action[256];
            snprintf(action, sizeof action, "%s", acts[rt_rng_below(&rng, n)]);
            rt_env_result r;
            assert_int_equal(rt_env_step(env, action, &r), RT_OK);
            if (strcmp(r.observation, "Nothing happens.") == 0) fail_msg("admissible '%s' did nothing", action);
            checked++;
            if (r.done) break;
        }
        assert_true(rt_env_steps_taken(env) <= rt_env_max_steps(env));
    }
    assert_true(checked > 1000);
    rt_env_close(env);
}

static void test_bad_actions_are_observations(void **state) {
    (void)state;
    rt_env *env = open_env("train", NULL);
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, 3, &st), RT_OK);
    char *huge = malloc(20001);
    memset(huge, 'a', 20000);
    huge[20000] = '\0';
    const char *bad[] = {"", "   ", "fly to the moon", "go to", "go to cabinet", "go to cabinet 999", "take",
                         "take apple 1 from", "put x in/on y", "open fridge 1 now", "heat", "use", "examine 1",
                         "go to cabinet 99999999999", "GO TO cabinet 1", "take desklamp 1 from desk 1", huge};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rt_env_result r;
        assert_int_equal(rt_env_step(env, bad[i], &r), RT_OK);
        assert_string_equal(r.observation, "Nothing happens.");
        assert_false(r.success);
    }
    free(huge);
    /* Random word salad from the command vocabulary: always an observation, never a crash. */
    static const char *const VOCAB[] = {"go", "to", "take", "from", "put", "in/on", "in", "on", "open", "close", "use",
                                        "clean", "heat", "cool", "with", "examine", "look", "inventory", "cabinet",
                                        "fridge", "desklamp", "apple", "1", "2", "0", "-1", "999", "", "\t"};
    rt_rng rng;
    rt_rng_seed(&rng, 17);
    for (int i = 0; i < 3000; i++) {
        char a[256] = "";
        size_t len = 0;
        int n = 1 + (int)rt_rng_below(&rng, 7);
        for (int k = 0; k < n; k++)
            len += (size_t)snprintf(a + len, sizeof a - len, "%s%s", k ? " " : "", VOCAB[rt_rng_below(&rng, sizeof VOCAB / sizeof VOCAB[0])]);
        rt_env_result rr;
        assert_int_equal(rt_env_step(env, a, &rr), RT_OK);
        assert_true(strlen(rr.observation) > 0);
        if (rr.done) assert_int_equal(rt_env_reset(env, (uint64_t)i, &st), RT_OK);
    }
    assert_int_equal(rt_env_reset(env, 3, &st), RT_OK);
    rt_env_result r;
    assert_int_equal(rt_env_step(env, "inventory", &r), RT_OK);
    assert_string_equal(r.observation, "You are not carrying anything.");
    rt_env_close(env);
}

static int is_held_out_object(const char *name) {
    for (size_t i = 0; i < sizeof HELD_OUT_OBJECTS / sizeof HELD_OUT_OBJECTS[0]; i++)
        if (strcmp(name, HELD_OUT_OBJECTS[i]) == 0) return 1;
    return 0;
}

/* The paper's split (ExpRAG after ALFWorld): these three are held out, the other three are trained on. */
static int is_paper_held_out(const char *type) {
    return !strcmp(type, "pick_cool_then_place_in_recep") || !strcmp(type, "pick_heat_then_place_in_recep") ||
           !strcmp(type, "pick_two_obj_and_place");
}

/* With the default config, train draws exactly the paper's three training types (each of them) and never
 * a held-out one; unseen_task draws exactly the three held-out types, and the expert solves them all. */
static void test_paper_split_is_the_default(void **state) {
    (void)state;
    rt_policy pol = rt_policy_default();
    for (int sp = 0; sp < 2; sp++) {
        rt_env *env = open_env(sp ? "unseen_task" : "train", NULL);
        int count[6] = {0};
        for (uint64_t s = 0; s < 900; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(11, s), "x", &ep), RT_OK);
            const char *type = json_string_value(json_object_get(ep, "task_type"));
            assert_int_equal(is_paper_held_out(type), sp);
            assert_string_equal(json_string_value(json_object_get(ep, "outcome")), "success");
            for (int t = 0; t < 6; t++) count[t] += !strcmp(type, TYPES[t]);
            json_decref(ep);
        }
        for (int t = 0; t < 6; t++)
            if (is_paper_held_out(TYPES[t]) == sp && count[t] < 200) fail_msg("%s: only %d of 900 episodes", TYPES[t], count[t]);
        rt_env_close(env);
    }
}

/* Noisy slips are plausible (a receptacle the room lacks, an object not there), get the world's real
 * answer, change nothing, are counted in meta.slips, and the next step is the expert's recovery, whose
 * thought says what went wrong; a slip is never the last step of a success. */
static void test_slips_are_marked_and_recovered(void **state) {
    (void)state;
    rt_policy pol = {RT_POLICY_NOISY, 0.6};
    int slips = 0, wrong_recep = 0, wrong_obj = 0;
    for (int sp = 0; sp < 2; sp++) {
        rt_env *env = open_env(sp ? "unseen_task" : "train", NULL), *replay = open_env(sp ? "unseen_task" : "train", NULL);
        for (uint64_t s = 0; s < 300; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(5, s), "x", &ep), RT_OK);
            const json_t *steps = json_object_get(ep, "steps");
            size_t n = json_array_size(steps);
            int here = 0;
            for (size_t i = 0; i < n; i++) {
                const json_t *st = json_array_get(steps, i);
                if (!json_is_true(json_object_get(st, "slip"))) continue;
                here++;
                const char *act = json_string_value(json_object_get(st, "action"));
                assert_string_equal(json_string_value(json_object_get(st, "observation")), "Nothing happens.");
                wrong_recep += !strncmp(act, "go to ", 6) || !strncmp(act, "open ", 5);
                wrong_obj += !strncmp(act, "take ", 5);
                assert_true(i + 1 < n); /* never the last step */
                const json_t *next = json_array_get(steps, i + 1);
                assert_false(json_is_true(json_object_get(next, "slip")));
                assert_string_not_equal(json_string_value(json_object_get(next, "observation")), "Nothing happens.");
                assert_int_equal(strncmp(json_string_value(json_object_get(next, "thought")), "Nothing happened: ", 18), 0);
            }
            assert_int_equal(json_integer_value(json_object_get(json_object_get(ep, "meta"), "slips")), here);
            slips += here;
            if (here) assert_slips_change_nothing(replay, ep);
            json_decref(ep);
        }
        rt_env_close(env);
        rt_env_close(replay);
    }
    if (slips < 200 || wrong_recep < 30 || wrong_obj < 30)
        fail_msg("too few slips of each kind: %d in all, %d receptacles, %d objects", slips, wrong_recep, wrong_obj);
}

/* Train never shows held-out types, objects or layouts; the unseen splits only those. */
static void test_splits_hold_out(void **state) {
    (void)state;
    const char *splits[] = {"train", "unseen_task", "unseen_scene", "unseen"};
    rt_policy pol = rt_policy_default();
    for (int sp = 0; sp < 4; sp++) {
        rt_env *env = open_env(splits[sp], NULL);
        int unseen_task = sp == 1 || sp == 3, unseen_scene = sp >= 2;
        for (uint64_t s = 0; s < 150; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, s, "x", &ep), RT_OK);
            const char *type = json_string_value(json_object_get(ep, "task_type"));
            int held_type = is_paper_held_out(type);
            assert_int_equal(held_type, unseen_task);
            json_t *meta = json_object_get(ep, "meta");
            assert_int_equal(json_integer_value(json_object_get(meta, "layout")) % 4 == 3, unseen_scene);
            assert_int_equal(is_held_out_object(json_string_value(json_object_get(meta, "object"))), unseen_scene);
            if (!unseen_scene) {
                char *line = rt_env_dump_line(ep);
                for (size_t k = 0; k < sizeof HELD_OUT_OBJECTS / sizeof HELD_OUT_OBJECTS[0]; k++) {
                    char needle[32];
                    snprintf(needle, sizeof needle, "a %s ", HELD_OUT_OBJECTS[k]);
                    assert_null(strstr(line, needle));
                }
                free(line);
            }
            json_decref(ep);
        }
        rt_env_close(env);
    }
}

/* Taking the object and stopping earns the pick-up sub-goal only. */
static void test_partial_credit(void **state) {
    (void)state;
    for (int t = 0; t < 6; t++) {
        rt_env *env = open_env("unseen_task", TYPES[t]);
        rt_env_start st;
        assert_int_equal(rt_env_reset(env, 11, &st), RT_OK);
        assert_true(rt_env_score(env) == 0.0);
        for (int guard = 0; guard < 60; guard++) {
            rt_env_advice adv;
            assert_int_equal(rt_env_expert(env, &adv), 1);
            assert_true(strlen(adv.thought) > 10);
            rt_env_result r;
            assert_int_equal(rt_env_step(env, adv.action, &r), RT_OK);
            if (strncmp(r.observation, "You pick up", 11) == 0) break;
        }
        double want = t == 0 ? 0.5 : 1.0 / 3.0;
        assert_true(rt_env_score(env) > want - 1e-9 && rt_env_score(env) < want + 1e-9);
        rt_env_close(env);
    }
}

static void test_budget_and_config_errors(void **state) {
    (void)state;
    rt_env_config cfg = rt_env_config_default();
    cfg.max_steps = 5;
    rt_env *env;
    assert_int_equal(rt_env_open("household", &cfg, &env), RT_OK);
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, 1, &st), RT_OK);
    rt_env_result r;
    for (int i = 0; i < 5; i++) assert_int_equal(rt_env_step(env, "look", &r), RT_OK);
    assert_true(r.done && !r.success);
    assert_int_equal(rt_env_step(env, "look", &r), RT_ERR_STATE);
    rt_env_close(env);
    cfg = rt_env_config_default();
    cfg.held_out = "pick_and_fly";
    assert_int_equal(rt_env_open("household", &cfg, &env), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "pick_and_fly"));
    cfg.held_out = "pick";
    assert_int_equal(rt_env_open("household", &cfg, &env), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "ambiguous"));
    cfg.held_out = NULL;
    cfg.split = "validation";
    assert_int_equal(rt_env_open("household", &cfg, &env), RT_ERR_ARG);
    assert_non_null(strstr(rt_errmsg(), "validation"));
    assert_int_equal(rt_env_open("kitchen", NULL, &env), RT_ERR_ARG);
}

/* The noise rate sets the outcome rate; every failure carries its reason. */
static void test_noisy_rates(void **state) {
    (void)state;
    rt_env *env = open_env("train", NULL);
    double rates[] = {0.0, 0.5, 1.0};
    for (int k = 0; k < 3; k++) {
        rt_policy pol = {RT_POLICY_NOISY, rates[k]};
        int wins = 0, n = 200;
        for (int s = 0; s < n; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, (uint64_t)s, "x", &ep), RT_OK);
            int win = strcmp(json_string_value(json_object_get(ep, "outcome")), "success") == 0;
            wins += win;
            double reward = json_real_value(json_object_get(ep, "reward"));
            assert_true(reward >= 0.0 && reward <= 1.0);
            if (!win) {
                assert_true(reward < 1.0);
                const char *why = json_string_value(json_object_get(json_object_get(ep, "meta"), "end_reason"));
                assert_true(strcmp(why, "policy_stopped") == 0 || strcmp(why, "budget_exhausted") == 0);
            }
            json_decref(ep);
        }
        if (k == 0) assert_int_equal(wins, n);
        if (k == 1) assert_true(wins > n * 35 / 100 && wins < n * 70 / 100);
        if (k == 2) assert_true(wins < n * 5 / 100);
    }
    rt_env_close(env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expert_solves_every_type), cmocka_unit_test(test_same_seed_same_episode),
        cmocka_unit_test(test_admissible_actions_are_valid), cmocka_unit_test(test_bad_actions_are_observations),
        cmocka_unit_test(test_splits_hold_out), cmocka_unit_test(test_partial_credit),
        cmocka_unit_test(test_budget_and_config_errors), cmocka_unit_test(test_noisy_rates),
        cmocka_unit_test(test_paper_split_is_the_default), cmocka_unit_test(test_slips_are_marked_and_recovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
