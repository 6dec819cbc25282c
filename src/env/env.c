/* env.c: the environment interface: opening a world from a spec, the step budget, dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env_internal.h"

static const char *const SPLITS[] = {"train", "unseen_task", "unseen_scene", "unseen_api", "unseen"};
#define DEFAULT_STEP_TIMEOUT_MS 10000

rt_env_config rt_env_config_default(void) {
    rt_env_config c;
    memset(&c, 0, sizeof c);
    c.split = RT_ENV_SPLIT_TRAIN;
    c.step_timeout_ms = DEFAULT_STEP_TIMEOUT_MS;
    return c;
}

void rt_env_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    *len += (size_t)n;
    if (*len >= cap) *len = cap - 1;
}

void rt_env_prefix(char *buf, size_t cap, const char *prefix) {
    size_t n = strlen(prefix), len = strlen(buf);
    if (n == 0 || cap < 2) return;
    if (n + 1 >= cap) n = cap - 2;
    if (len > cap - n - 2) len = cap - n - 2;
    memmove(buf + n + 1, buf, len);
    buf[n + 1 + len] = '\0';
    memcpy(buf, prefix, n);
    buf[n] = ' ';
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

rt_status rt_env_open(const char *spec, const rt_env_config *cfg_in, rt_env **out) {
    *out = NULL;
    rt_env_config cfg = cfg_in ? *cfg_in : rt_env_config_default();
    if (!cfg.split) cfg.split = RT_ENV_SPLIT_TRAIN;
    if (cfg.step_timeout_ms <= 0) cfg.step_timeout_ms = DEFAULT_STEP_TIMEOUT_MS;
    if (cfg.max_steps < 0) return rt_fail(RT_ERR_ARG, "step budget must be positive, got %d", cfg.max_steps);
    int known = 0;
    for (size_t i = 0; i < sizeof SPLITS / sizeof SPLITS[0]; i++) known |= strcmp(cfg.split, SPLITS[i]) == 0;
    if (!known)
        return rt_fail(RT_ERR_ARG, "unknown split '%s' (train, unseen_task, unseen_scene, unseen_api, unseen)",
                       cfg.split);
    if (!spec || !*spec) return rt_fail(RT_ERR_ARG, "no environment given");
    void *world = NULL;
    const rt_env_vtable *vt = NULL;
    if (strcmp(spec, "household") == 0) {
        RT_TRY(rt_household_open(&cfg, &world, &vt));
    } else if (strncmp(spec, "exec:", 5) == 0) {
        RT_TRY(rt_exec_open(spec + 5, &cfg, &world, &vt));
    } else if (strcmp(spec, "toolapi") == 0 || ends_with(spec, ".json")) {
        RT_TRY(rt_toolapi_open(spec, &cfg, &world, &vt));
    } else {
        return rt_fail(RT_ERR_ARG, "unknown environment '%s' (household, toolapi, PACK.json or exec:CMD)", spec);
    }
    rt_env *e = rt_calloc(1, sizeof *e);
    e->vt = vt;
    e->world = world;
    e->split = rt_strdup(cfg.split);
    e->cfg = cfg;
    e->cfg.split = e->split;
    e->done = 1;
    *out = e;
    return RT_OK;
}

void rt_env_close(rt_env *env) {
    if (!env) return;
    env->vt->destroy(env->world);
    free(env->split);
    free(env->budget_obs);
    free(env);
}

rt_status rt_env_reset(rt_env *env, uint64_t seed, rt_env_start *out) {
    env->steps = 0;
    env->done = 1;
    RT_TRY(env->vt->reset(env->world, seed, out));
    env->max_steps = env->cfg.max_steps > 0 ? env->cfg.max_steps : env->vt->default_max_steps(env->world);
    env->done = 0;
    return RT_OK;
}

rt_status rt_env_step(rt_env *env, const char *action, rt_env_result *out) {
    if (env->done) return rt_fail(RT_ERR_STATE, "%s: step after the episode ended (reset first)", env->vt->name);
    rt_status s = env->vt->step(env->world, action ? action : "", out);
    if (s != RT_OK) {
        env->done = 1;
        return s;
    }
    env->steps++;
    if (out->success) out->done = 1;
    if (!out->done && env->steps >= env->max_steps) out->done = 1;
    env->done = out->done;
    return RT_OK;
}

size_t rt_env_admissible(rt_env *env, const char *const **out) { return env->vt->admissible(env->world, out); }

double rt_env_score(rt_env *env) { return env->vt->score(env->world); }

int rt_env_expert(rt_env *env, rt_env_advice *out) {
    out->thought[0] = out->action[0] = '\0';
    out->slip = 0;
    if (!env->vt->expert) return -1;
    return env->vt->expert(env->world, out);
}

int rt_env_slip(rt_env *env, uint64_t draw, rt_env_advice *out) {
    out->thought[0] = out->action[0] = '\0';
    out->slip = 0;
    if (!env->vt->slip) return -1;
    int r = env->vt->slip(env->world, draw, out);
    out->slip = r == 1;
    return r;
}

int rt_env_set_flaw(rt_env *env, rt_env_flaw flaw) {
    if (!env->vt->set_flaw) return 0;
    return env->vt->set_flaw(env->world, flaw);
}

const char *rt_env_name(const rt_env *env) { return env->vt->name; }
const char *rt_env_split(const rt_env *env) { return env->split; }
int rt_env_steps_taken(const rt_env *env) { return env->steps; }
int rt_env_max_steps(const rt_env *env) { return env->max_steps; }

void rt_env_describe(rt_env *env, json_t *meta, json_t *api_versions) {
    if (env->vt->describe) env->vt->describe(env->world, meta, api_versions);
}

rt_status rt_env_docs(rt_env *env, json_t *docs) {
    if (!env->vt->docs) return RT_OK;
    return env->vt->docs(env->world, docs);
}
