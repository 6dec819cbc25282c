/* test_env_drift.c: API drift a model can learn to read, and the noisy policy's slips, in the toolapi
 * world: every pack has a version 3 with names and formats that neither version 1 nor 2 has; training
 * splits draw versions 1 and 2 and never 3, the drifted splits run 3; every action that is not a slip
 * uses the tool and argument names of the docs of the version its episode records (so no training
 * example's docs and target disagree), and no training episode shows a version-3 name; slips get the
 * API's real error, change nothing, and the next step is the expert's recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "env_test_util.h"
#include "retrace.h"

#define PACKS RT_FIXTURES_DIR "/../../packs"
static const char *const PACK_NAMES[] = {"bank", "calendar", "helpdesk", "shipping", "shop"};
#define N_PACKS 5

static rt_env *open_toolapi(const char *split, int version) {
    rt_env_config cfg = rt_env_config_default();
    cfg.packs_dir = PACKS;
    cfg.split = split;
    cfg.api_version = version;
    rt_env *env = NULL;
    if (rt_env_open("toolapi", &cfg, &env) != RT_OK) fail_msg("%s", rt_errmsg());
    return env;
}

/* The docs of one tool version, or NULL. */
static const char *doc_text(const json_t *docs, const char *domain, int version, const char *tool) {
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) if (!strcmp(json_string_value(json_object_get(d, "domain")), domain) &&
                                       json_integer_value(json_object_get(d, "version")) == version &&
                                       !strcmp(json_string_value(json_object_get(d, "tool")), tool)) return json_string_value(json_object_get(d, "text"));
    return NULL;
}

/* Adds the names a doc text defines (the tool's and its arguments', from "\n- NAME (") to `names`. */
static void doc_names(const json_t *doc, json_t *names) {
    json_object_set_new(names, json_string_value(json_object_get(doc, "tool")), json_true());
    for (const char *p = strstr(json_string_value(json_object_get(doc, "text")), "\n- "); p; p = strstr(p + 1, "\n- ")) {
        const char *end = strstr(p + 3, " (");
        if (!end) break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 3), p + 3);
        json_object_set_new(names, name, json_true());
    }
}

/* Names (tools and arguments) of a domain's version-3 docs that no version-1 or 2 doc has. */
static json_t *v3_only_names(const json_t *docs, const char *domain) {
    json_t *old = json_object(), *v3 = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "domain")), domain) != 0) continue;
        doc_names(d, json_integer_value(json_object_get(d, "version")) == 3 ? v3 : old);
    }
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(v3, tmp, k, v) if (json_object_get(old, k)) json_object_del(v3, k);
    json_decref(old);
    return v3;
}

/* Every pack's v3 exists, has a doc for every tool it lists, and brings names no earlier version had;
 * across the packs, v3 uses all six drift rules. */
static void test_v3_in_every_pack(void **state) {
    (void)state;
    rt_env *env = open_toolapi("train", 0);
    json_t *docs = json_array();
    assert_int_equal(rt_env_docs(env, docs), RT_OK);
    for (int p = 0; p < N_PACKS; p++) {
        json_t *fresh = v3_only_names(docs, PACK_NAMES[p]);
        if (json_object_size(fresh) < 5) fail_msg("%s: v3 brings only %zu new names", PACK_NAMES[p], json_object_size(fresh));
        json_decref(fresh);
    }
    for (int v = 1; v <= 3; v++) {
        rt_env *pinned = open_toolapi("train", v);
        for (uint64_t s = 0; s < 200; s++) {
            rt_env_start st;
            assert_int_equal(rt_env_reset(pinned, s, &st), RT_OK);
            const char *list = strstr(st.observation, "): ") + 3, *domain_end = strstr(st.observation, " API v");
            char domain[32], tool[64];
            const char *dstart = strstr(st.observation, "Tools (") + 7;
            snprintf(domain, sizeof domain, "%.*s", (int)(domain_end - dstart), dstart);
            while (sscanf(list, "%63[a-z_]", tool) == 1) {
                if (!doc_text(docs, domain, v, tool)) fail_msg("no v%d docs for %s in %s", v, tool, domain);
                list += strlen(tool);
                if (*list != ',') break;
                list += 2;
            }
        }
        rt_env_close(pinned);
    }
    json_t *rules = json_object();
    for (int p = 0; p < N_PACKS; p++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.json", PACKS, PACK_NAMES[p]);
        json_t *pack = json_load_file(path, 0, NULL);
        assert_non_null(pack);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(json_array_get(json_object_get(pack, "versions"), 1), "drift"), i, r)
            json_object_set(rules, json_string_value(json_object_get(r, "rule")), json_true());
        json_decref(pack);
    }
    assert_int_equal(json_object_size(rules), 6);
    json_decref(rules);
    json_decref(docs);
    rt_env_close(env);
}

/* Training draws versions 1 and 2 (both often, never 3), the drifted splits always run version 3, and
 * api_versions records the version in force. */
static void test_versions_by_split(void **state) {
    (void)state;
    const char *splits[] = {"train", "unseen_task", "unseen_api", "unseen"};
    rt_policy pol = rt_policy_default();
    for (int sp = 0; sp < 4; sp++) {
        rt_env *env = open_toolapi(splits[sp], 0);
        int count[4] = {0}, n = 400;
        for (uint64_t s = 0; s < (uint64_t)n; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(21, s), "x", &ep), RT_OK);
            json_int_t v = json_integer_value(json_object_get(json_object_get(ep, "meta"), "api_version"));
            assert_true(v >= 1 && v <= 3);
            count[v]++;
            const char *k;
            json_t *x;
            json_object_foreach(json_object_get(ep, "api_versions"), k, x) assert_int_equal(json_integer_value(x), v);
            assert_string_equal(json_string_value(json_object_get(ep, "outcome")), "success");
            json_decref(ep);
        }
        if (sp < 2) assert_true(count[3] == 0 && count[1] > n * 35 / 100 && count[2] > n * 35 / 100);
        else assert_int_equal(count[3], n);
        rt_env_close(env);
    }
}

/* "name {args}" -> name and parsed args (NULL for finish or a malformed call). */
static json_t *parse_action(const char *action, char *name, size_t cap) {
    const char *sp = strchr(action, ' ');
    snprintf(name, cap, "%.*s", sp ? (int)(sp - action) : (int)strlen(action), action);
    return sp && strcmp(name, "finish") ? json_loads(sp + 1, 0, NULL) : NULL;
}

/* The call names a live tool of the version and only its documented arguments, and gives every
 * argument its doc calls required. */
static void assert_call_matches_docs(const json_t *docs, const json_t *ep, const char *action) {
    const json_t *meta = json_object_get(ep, "meta");
    const char *domain = json_string_value(json_object_get(meta, "domain"));
    int v = (int)json_integer_value(json_object_get(meta, "api_version"));
    char name[128], needle[160];
    json_t *args = parse_action(action, name, sizeof name);
    if (!strcmp(name, "finish")) return;
    if (!args) fail_msg("malformed call: %s", action);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ep, "api_versions"), name)), v);
    const char *text = doc_text(docs, domain, v, name);
    if (!text || strstr(text, "Deprecated")) fail_msg("%s: no live v%d docs for %s", domain, v, action);
    const char *k;
    json_t *x;
    json_object_foreach(args, k, x) {
        snprintf(needle, sizeof needle, "\n- %s (", k);
        if (!strstr(text, needle)) fail_msg("v%d docs of %s have no argument '%s': %s", v, name, k, action);
    }
    for (const char *p = strstr(text, "\n- "); p; p = strstr(p + 1, "\n- ")) {
        const char *end = strstr(p + 3, " (");
        char arg[64];
        snprintf(arg, sizeof arg, "%.*s", (int)(end - p - 3), p + 3);
        if (strstr(end, ", required") == strchr(end, ',') && !json_object_get(args, arg))
            fail_msg("v%d %s requires '%s': %s", v, name, arg, action);
    }
    json_decref(args);
}

/* The invariant of the training data: every action that is not a slip agrees with the docs of the
 * version its episode records; training episodes never name anything that only version 3 has. */
static void test_actions_agree_with_docs(void **state) {
    (void)state;
    const char *splits[] = {"train", "unseen_api", "unseen_task"};
    rt_policy pols[] = {{RT_POLICY_EXPERT, 0}, {RT_POLICY_NOISY, 0.6}, {RT_POLICY_RANDOM, 0}};
    json_t *v3[N_PACKS];
    int checked = 0;
    for (int sp = 0; sp < 3; sp++) {
        rt_env *env = open_toolapi(splits[sp], 0);
        json_t *docs = json_array();
        assert_int_equal(rt_env_docs(env, docs), RT_OK);
        for (int p = 0; p < N_PACKS; p++) v3[p] = v3_only_names(docs, PACK_NAMES[p]);
        for (int k = 0; k < 3; k++)
            for (uint64_t s = 0; s < 300; s++) {
                json_t *ep;
                assert_int_equal(rt_env_run_episode(env, &pols[k], rt_env_episode_seed(8, s), "x", &ep), RT_OK);
                const char *domain = json_string_value(json_object_get(json_object_get(ep, "meta"), "domain"));
                int p = 0;
                while (strcmp(PACK_NAMES[p], domain) != 0) p++;
                size_t i;
                json_t *st;
                json_array_foreach(json_object_get(ep, "steps"), i, st) {
                    const char *action = json_string_value(json_object_get(st, "action"));
                    if (!json_is_true(json_object_get(st, "slip"))) {
                        assert_call_matches_docs(docs, ep, action);
                        checked++;
                    }
                    if (sp == 1) continue;
                    char name[128];
                    json_t *args = parse_action(action, name, sizeof name);
                    if (json_object_get(v3[p], name)) fail_msg("a %s episode calls v3's %s", splits[sp], action);
                    const char *key;
                    json_t *x;
                    json_object_foreach(args, key, x) if (json_object_get(v3[p], key)) fail_msg("a %s episode uses v3's '%s': %s", splits[sp], key, action);
                    json_decref(args);
                }
                json_decref(ep);
            }
        for (int p = 0; p < N_PACKS; p++) json_decref(v3[p]);
        json_decref(docs);
        rt_env_close(env);
    }
    assert_true(checked > 5000);
}

static int is_api_error(const char *obs) {
    static const char *const PREFIX[] = {"400 ", "404 ", "410 ", "TypeError: ", "ValueError: "};
    for (size_t i = 0; i < 5; i++)
        if (!strncmp(obs, PREFIX[i], strlen(PREFIX[i]))) return 1;
    return 0;
}

/* Slips of every kind get the API's error and change nothing; the next step recovers (the flawed
 * expert's stale call, also marked, is followed by its next call); a success never ends on a slip. */
static void test_slips_are_marked_and_recovered(void **state) {
    (void)state;
    rt_policy pol = {RT_POLICY_NOISY, 0.6};
    int kinds[4] = {0}, slips = 0;
    for (int sp = 0; sp < 2; sp++) {
        rt_env *env = open_toolapi(sp ? "unseen_api" : "train", 0), *replay = open_toolapi(sp ? "unseen_api" : "train", 0);
        for (uint64_t s = 0; s < 400; s++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, rt_env_episode_seed(13, s), "x", &ep), RT_OK);
            const json_t *meta = json_object_get(ep, "meta"), *steps = json_object_get(ep, "steps");
            int stale = !strcmp(json_string_value(json_object_get(meta, "flaw")), "stale_call"), marked = 0;
            size_t n = json_array_size(steps);
            for (size_t i = 0; i < n; i++) {
                const json_t *st = json_array_get(steps, i);
                if (!json_is_true(json_object_get(st, "slip"))) continue;
                marked++;
                const char *obs = json_string_value(json_object_get(st, "observation"));
                if (!is_api_error(obs)) fail_msg("a slip the API accepted: %s -> %s", json_string_value(json_object_get(st, "action")), obs);
                kinds[0] += strstr(obs, "unknown function") != NULL || strstr(obs, "deprecated") != NULL;
                kinds[1] += strstr(obs, "unexpected keyword") != NULL;
                kinds[2] += !strncmp(obs, "ValueError", 10) || strstr(obs, "must be") != NULL;
                kinds[3] += strstr(obs, "404 Not Found: no ") != NULL;
                int success = !strcmp(json_string_value(json_object_get(ep, "outcome")), "success");
                if (i + 1 == n && stale && !success) continue; /* a stale call can leave the expert with no answer */
                assert_true(i + 1 < n);
                const json_t *next = json_array_get(steps, i + 1);
                assert_false(json_is_true(json_object_get(next, "slip")));
                if (!stale) assert_false(is_api_error(json_string_value(json_object_get(next, "observation"))));
            }
            json_int_t counted = json_integer_value(json_object_get(meta, "slips"));
            assert_true(marked == counted || (stale && marked == counted + 1));
            slips += (int)counted;
            if (marked) assert_slips_change_nothing(replay, ep);
            json_decref(ep);
        }
        rt_env_close(env);
        rt_env_close(replay);
    }
    for (int k = 0; k < 4; k++)
        if (kinds[k] < 10) fail_msg("slip kind %d seen %d times of %d slips", k, kinds[k], slips);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_in_every_pack),          cmocka_unit_test(test_versions_by_split),
        cmocka_unit_test(test_actions_agree_with_docs),   cmocka_unit_test(test_slips_are_marked_and_recovered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
