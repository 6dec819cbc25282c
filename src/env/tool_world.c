/* tool_world.c: the toolapi world: finding and loading packs, drawing an episode (pack, task template,
 * API version, parameters), parsing calls ("NAME {json}" or "finish {...}"), and the pack check that
 * also runs the expert on every template and version before a pack is accepted. */
#include <ctype.h>
#include <dirent.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env/tool_internal.h"

void rt_ta_perr(json_t *errors, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define DRY_RUN_SEEDS 6
#define DRY_RUN_MAX_STEPS 40
#define TA_BUDGET_BASE 10
#define OBS_RESULT_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static void set_obs(ta_world *w, const char *s) {
    free(w->obs);
    w->obs = rt_strdup(s);
}

/* Picks the task (index) and version for a seed; -1 when the split has no template in this pack set. */
static int draw_task(ta_world *w, int *pack, int *task) {
    const char *want = w->task_split_test ? "test" : "train";
    int n = 0;
    for (int p = 0; p < w->n_packs; p++) {
        size_t i;
        json_t *t;
        json_array_foreach(w->packs[p]->tasks, i, t) n += !strcmp(json_string_value(json_object_get(t, "split")), want);
    }
    if (n == 0) return 0;
    int k = (int)rt_rng_below(&w->rng, (uint64_t)n);
    for (int p = 0; p < w->n_packs; p++) {
        size_t i;
        json_t *t;
        json_array_foreach(w->packs[p]->tasks, i, t) {
            if (strcmp(json_string_value(json_object_get(t, "split")), want) != 0) continue;
            if (k-- == 0) {
                *pack = p;
                *task = (int)i;
                return 1;
            }
        }
    }
    return 0;
}

static void clear_episode(ta_world *w) {
    json_decref(w->bind), json_decref(w->xbind), json_decref(w->tables), json_decref(w->last_result), json_decref(w->answer);
    w->bind = w->xbind = w->tables = w->last_result = w->answer = NULL;
    json_decref(w->adm_strings);
    w->adm_strings = NULL;
    w->adm_valid = 0;
}

/* Sets up an episode of a given pack, template and version (the dry run uses it directly). */
static rt_status start_episode(ta_world *w, int pack, int task, int version) {
    char err[256];
    clear_episode(w);
    w->pk = w->packs[pack];
    w->task = json_array_get(w->pk->tasks, (size_t)task);
    w->version = version;
    w->tables = json_deep_copy(w->pk->tables);
    if (!rt_ta_bind_params(w->pk, w->task, &w->rng, w->tables, &w->bind, err, sizeof err))
        return rt_fail(RT_ERR_FORMAT, "%s: task '%s': %s", w->pk->path, json_string_value(json_object_get(w->task, "id")), err);
    w->xbind = json_deep_copy(w->bind);
    ta_scope sc = {w->bind};
    if (!rt_ta_render_text(json_string_value(json_object_get(w->task, "text")), &sc, w->task_text, sizeof w->task_text, err, sizeof err))
        return rt_fail(RT_ERR_FORMAT, "%s: task '%s' text: %s", w->pk->path, json_string_value(json_object_get(w->task, "id")), err);
    w->finished = 0;
    memset(&w->pc, 0, sizeof w->pc);
    w->pending_valid = 0;
    w->flaw = RT_FLAW_NONE;
    w->flaw_spent = 0;
    w->slip_action[0] = '\0';
    w->note_ready = 0;
    char obs[4096];
    size_t len = 0;
    rt_env_appendf(obs, sizeof obs, &len, "Task: %s\nTools (%s API v%d):", w->task_text, w->pk->domain, version + 1);
    size_t i;
    json_t *t;
    int first = 1;
    json_array_foreach(w->pk->tools[version], i, t) {
        if (json_is_true(json_object_get(t, "deprecated"))) continue;
        rt_env_appendf(obs, sizeof obs, &len, "%s %s", first ? "" : ",", json_string_value(json_object_get(t, "name")));
        first = 0;
    }
    rt_env_appendf(obs, sizeof obs, &len, ".\nCall a tool as NAME {JSON arguments}; when done, call finish {} or finish {\"answer\": ...}.");
    set_obs(w, obs);
    return RT_OK;
}

/* The API version in force: pinned by the config, else the newest for the drifted splits, else one of
 * the older ones drawn per episode, as an agent's logs span an API's life while the newest version
 * stays held out for evaluation (a pack with two versions trains on version 1 only). */
static int pick_version(ta_world *w, const ta_pack *p) {
    if (w->version_fixed) return w->version_fixed - 1;
    if (w->api_newest || p->n_versions == 1) return p->n_versions - 1;
    return p->n_versions > 2 ? (int)rt_rng_below(&w->rng, (uint64_t)(p->n_versions - 1)) : 0;
}

static rt_status ta_reset(void *world, uint64_t seed, rt_env_start *out) {
    ta_world *w = world;
    w->seed = seed;
    rt_rng_seed(&w->rng, seed);
    int pack, task;
    if (!draw_task(w, &pack, &task))
        return rt_fail(RT_ERR_ARG, "toolapi: no task template in split '%s'", w->task_split_test ? "test" : "train");
    ta_pack *p = w->packs[pack];
    RT_TRY(start_episode(w, pack, task, pick_version(w, p)));
    out->task = w->task_text;
    out->task_type = json_string_value(json_object_get(w->task, "id"));
    out->observation = w->obs;
    return RT_OK;
}

/* "NAME {json}" -> name and arguments; 0 with the API's error when it does not parse. */
static int parse_call(const char *action, char *name, size_t cap, json_t **args, char *err, size_t errcap) {
    while (isspace((unsigned char)*action)) action++;
    size_t n = 0;
    while (action[n] && (isalnum((unsigned char)action[n]) || action[n] == '_' || action[n] == '.' || action[n] == '-')) n++;
    if (n == 0 || n >= cap) return snprintf(err, errcap, "400 Bad Request: malformed call"), 0;
    memcpy(name, action, n);
    name[n] = '\0';
    const char *rest = action + n;
    while (isspace((unsigned char)*rest)) rest++;
    if (!*rest) {
        *args = json_object();
        return 1;
    }
    json_error_t je;
    *args = json_loads(rest, JSON_REJECT_DUPLICATES, &je);
    if (!*args) return snprintf(err, errcap, "400 Bad Request: invalid JSON in arguments: %s", je.text), 0;
    if (!json_is_object(*args)) {
        json_decref(*args);
        *args = NULL;
        return snprintf(err, errcap, "400 Bad Request: arguments must be a JSON object"), 0;
    }
    return 1;
}

static int goal_met_all(ta_world *w) {
    int met, total;
    rt_ta_goal_count(w, &met, &total);
    return met == total;
}

static rt_status ta_step(void *world, const char *action, rt_env_result *out) {
    ta_world *w = world;
    char name[128], err[512];
    json_t *args = NULL, *result = NULL;
    int ok = 0;
    w->adm_valid = 0;
    w->note_ready = w->slip_action[0] && !strcmp(action, w->slip_action);
    w->slip_action[0] = '\0';
    out->done = out->success = 0;
    out->reward = 0;
    if (w->finished) {
        set_obs(w, "400 Bad Request: the task is already finished");
    } else if (!parse_call(action, name, sizeof name, &args, err, sizeof err)) {
        set_obs(w, err);
    } else if (!strcmp(name, "finish")) {
        const char *k;
        json_t *v;
        int bad = 0;
        json_object_foreach(args, k, v) if (strcmp(k, "answer") != 0) {
            snprintf(err, sizeof err, "TypeError: finish() got an unexpected keyword argument '%s'", k);
            bad = 1;
        }
        if (bad) set_obs(w, err);
        else {
            w->finished = ok = 1;
            json_decref(w->answer);
            w->answer = json_incref(json_object_get(args, "answer"));
            set_obs(w, "Task submitted.");
            out->done = 1;
            out->success = goal_met_all(w);
            out->reward = out->success ? 1.0 : 0.0;
        }
    } else if (rt_ta_call(w, name, args, &result, err, sizeof err)) {
        ok = 1;
        json_t *shown = rt_ta_result_out(w, rt_ta_find_tool(w->pk, w->version, name), result);
        char *s = json_dumps(shown, OBS_RESULT_FLAGS | JSON_ENCODE_ANY);
        set_obs(w, s ? s : "null");
        free(s);
        json_decref(shown);
        json_decref(w->last_result);
        w->last_result = result;
    } else {
        set_obs(w, err);
    }
    json_decref(args);
    rt_ta_expert_observe(w, action, ok);
    out->observation = w->obs;
    return RT_OK;
}

/* Sub-goals are the goal checks, the answer, and submitting; full credit needs all of them. */
static double ta_score(void *world) {
    ta_world *w = world;
    int met, total;
    rt_ta_goal_count(w, &met, &total);
    if (w->finished && met == total) return 1.0;
    return (double)met / (double)(total + 1);
}

/* Enough for the plan with room for mistakes; a split tool makes a step cost more than one call. */
static int ta_max_steps(void *world) {
    ta_world *w = world;
    return TA_BUDGET_BASE + 3 * (int)json_array_size(json_object_get(w->task, "plan"));
}

static void ta_describe(void *world, json_t *meta, json_t *api_versions) {
    ta_world *w = world;
    json_object_set_new(meta, "domain", json_string(w->pk->domain));
    json_object_set_new(meta, "template", json_object_get(w->task, "id") ? json_copy(json_object_get(w->task, "id")) : json_null());
    json_object_set_new(meta, "api_version", json_integer(w->version + 1));
    size_t i;
    json_t *t;
    json_array_foreach(w->pk->tools[w->version], i, t) if (!json_is_true(json_object_get(t, "deprecated")))
        json_object_set_new(api_versions, json_string_value(json_object_get(t, "name")), json_integer(w->version + 1));
}

/* One plausible call per live tool (required arguments filled from the tables), and finish. */
static size_t ta_admissible(void *world, const char *const **out) {
    ta_world *w = world;
    if (!w->adm_valid) {
        json_decref(w->adm_strings);
        w->adm_strings = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(w->pk->tools[w->version], i, t) {
            if (json_is_true(json_object_get(t, "deprecated"))) continue;
            const char *table = json_string_value(json_object_get(json_object_get(t, "effect"), "table"));
            json_t *rows = json_object_get(json_object_get(w->tables, table), "rows");
            json_t *args = json_object();
            size_t k;
            json_t *a;
            json_array_foreach(json_object_get(t, "args"), k, a) {
                if (!json_is_true(json_object_get(a, "required"))) continue;
                json_t *row = json_array_size(rows) ? json_array_get(rows, rt_rng_below(&w->rng, json_array_size(rows))) : NULL;
                json_t *canon = row ? json_object_get(row, json_string_value(json_object_get(a, "column"))) : NULL;
                if (!canon || json_is_null(canon)) continue;
                json_object_set_new(args, json_string_value(json_object_get(a, "name")),
                                    rt_ta_value_out(canon, rt_ta_type_parse(json_string_value(json_object_get(a, "type"))),
                                                 json_string_value(json_object_get(a, "format"))));
            }
            char *s = json_dumps(args, JSON_REAL_PRECISION(15));
            char buf[RT_ENV_TEXT_MAX];
            snprintf(buf, sizeof buf, "%s %s", json_string_value(json_object_get(t, "name")), s ? s : "{}");
            free(s);
            json_decref(args);
            json_array_append_new(w->adm_strings, json_string(buf));
        }
        json_array_append_new(w->adm_strings, json_string("finish {}"));
        w->n_adm = json_array_size(w->adm_strings);
        w->adm = rt_realloc(w->adm, w->n_adm * sizeof *w->adm);
        for (i = 0; i < w->n_adm; i++) w->adm[i] = json_string_value(json_array_get(w->adm_strings, i));
        w->adm_valid = 1;
    }
    *out = w->adm;
    return w->n_adm;
}

static void ta_destroy(void *world) {
    ta_world *w = world;
    clear_episode(w);
    for (int i = 0; i < w->n_packs; i++) rt_ta_pack_free(w->packs[i]);
    free(w->obs);
    free(w->adm);
    free(w);
}

static const rt_env_vtable TA_VT = {
    .name = "toolapi",
    .reset = ta_reset,
    .step = ta_step,
    .admissible = ta_admissible,
    .score = ta_score,
    .expert = rt_ta_expert,
    .set_flaw = rt_ta_set_flaw,
    .slip = rt_ta_slip,
    .default_max_steps = ta_max_steps,
    .describe = ta_describe,
    .docs = rt_ta_docs,
    .destroy = ta_destroy,
};

/* Runs the expert on every template under every version for a few seeds: a pack whose plans do not
 * reach their goals, or whose goals hold before anything is done, is rejected here. */
/* One template: returns after its first problem, so each template reports at most one. */
static void dry_run_task(ta_world *w, size_t t, json_t *errors) {
    ta_pack *p = w->packs[0];
    char path[64];
    snprintf(path, sizeof path, "$.tasks[%zu]", t);
    for (int v = 0; v < p->n_versions; v++)
        for (uint64_t s = 0; s < DRY_RUN_SEEDS; s++) {
            rt_rng_seed(&w->rng, s);
            if (start_episode(w, 0, (int)t, v) != RT_OK) {
                rt_ta_perr(errors, path, "%s", rt_errmsg());
                return;
            }
            if (json_array_size(json_object_get(w->task, "goal")) && !json_object_get(w->task, "answer") && goal_met_all(w)) {
                rt_ta_perr(errors, path, "the goal already holds before any call (seed %llu)", (unsigned long long)s);
                return;
            }
            rt_env_result r = {0};
            rt_env_advice adv;
            adv.action[0] = '\0';
            for (int steps = 0; steps < DRY_RUN_MAX_STEPS && rt_ta_expert(w, &adv) == 1; steps++) {
                ta_step(w, adv.action, &r);
                if (r.done) break;
            }
            if (!r.success) {
                rt_ta_perr(errors, path, "the plan fails under version %d (seed %llu): after '%s' the API said: %s", v + 1,
                        (unsigned long long)s, adv.action, w->obs ? w->obs : "");
                return;
            }
        }
}

/* Runs the expert on every template under every version for a few seeds: a pack whose plans do not
 * reach their goals, or whose goals hold before anything is done, is rejected here. */
static void dry_run(ta_pack *p, json_t *errors) {
    ta_world *w = rt_calloc(1, sizeof *w);
    w->packs[0] = p;
    w->n_packs = 1;
    for (size_t t = 0; t < json_array_size(p->tasks); t++) dry_run_task(w, t, errors);
    w->packs[0] = NULL;
    w->n_packs = 0;
    ta_destroy(w);
}

rt_status rt_pack_check(const char *path, json_t *errors) {
    ta_pack *p;
    size_t before = json_array_size(errors);
    rt_status s = rt_ta_pack_load(path, errors, &p);
    if (s != RT_OK) return s;
    dry_run(p, errors);
    rt_ta_pack_free(p);
    if (json_array_size(errors) != before)
        return rt_fail(RT_ERR_FORMAT, "%s: %s", path, json_string_value(json_array_get(errors, before)));
    return RT_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Where `--env toolapi` finds its packs: the option, $RETRACE_PACKS, then packs/ beside the binary's
 * build or install folder. */
static char *packs_dir(const rt_env_config *cfg) {
    if (cfg->packs_dir) return rt_strdup(cfg->packs_dir);
    const char *env = getenv("RETRACE_PACKS");
    if (env && *env) return rt_strdup(env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        static const char *const REL[] = {"../packs", "../../packs", "../share/retrace/packs"};
        for (int i = 0; i < 3; i++) {
            char *cand = rt_path_join(dir, REL[i]);
            if (rt_is_dir(cand)) return cand;
            free(cand);
        }
    }
    return rt_strdup("packs");
}

static rt_status load_one(ta_world *w, const char *path) {
    if (w->n_packs == TA_MAX_PACKS) return rt_fail(RT_ERR_ARG, "toolapi: more than %d packs", TA_MAX_PACKS);
    json_t *errors = json_array();
    ta_pack *p;
    rt_status s = rt_ta_pack_load(path, errors, &p);
    if (s == RT_OK) {
        dry_run(p, errors);
        if (json_array_size(errors)) {
            rt_ta_pack_free(p);
            s = rt_fail(RT_ERR_FORMAT, "%s: %s", path, json_string_value(json_array_get(errors, 0)));
        } else {
            w->packs[w->n_packs++] = p;
        }
    }
    json_decref(errors);
    return s;
}

static rt_status load_dir(ta_world *w, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return rt_fail(RT_ERR_IO, "toolapi: cannot open the packs folder %s (use --packs DIR or RETRACE_PACKS)", dir);
    char *names[TA_MAX_PACKS + 1];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n <= TA_MAX_PACKS) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) names[n++] = rt_path_join(dir, e->d_name);
    }
    closedir(d);
    /* Sorted by name so that the same packs give the same episodes on every file system. */
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    rt_status s = n ? RT_OK : rt_fail(RT_ERR_NOT_FOUND, "toolapi: no packs (*.json) in %s", dir);
    for (int i = 0; i < n; i++) {
        if (s == RT_OK) s = load_one(w, names[i]);
        free(names[i]);
    }
    return s;
}

rt_status rt_toolapi_open(const char *spec, const rt_env_config *cfg, void **world, const rt_env_vtable **vt) {
    const char *sp = cfg->split;
    if (!strcmp(sp, "unseen_scene")) return rt_fail(RT_ERR_ARG, "toolapi has no split 'unseen_scene' (a household split)");
    ta_world *w = rt_calloc(1, sizeof *w);
    w->cfg = *cfg;
    w->task_split_test = !strcmp(sp, "unseen_task") || !strcmp(sp, "unseen");
    w->api_newest = !strcmp(sp, "unseen_api") || !strcmp(sp, "unseen");
    w->version_fixed = cfg->api_version;
    rt_status s;
    if (!strcmp(spec, "toolapi")) {
        char *dir = packs_dir(cfg);
        s = load_dir(w, dir);
        free(dir);
    } else {
        s = load_one(w, spec);
    }
    for (int i = 0; s == RT_OK && i < w->n_packs; i++)
        if (w->version_fixed > w->packs[i]->n_versions)
            s = rt_fail(RT_ERR_ARG, "%s: no API version %d (it has %d)", w->packs[i]->path, w->version_fixed, w->packs[i]->n_versions);
    if (s != RT_OK) {
        ta_destroy(w);
        return s;
    }
    *world = w;
    *vt = &TA_VT;
    return RT_OK;
}
