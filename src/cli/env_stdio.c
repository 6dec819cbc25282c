/* env_stdio.c: `retrace env serve ENV`: a built-in world (household, toolapi, a pack) served over the
 * external-environment protocol of docs/environments.md, one JSON object per line on stdin and stdout,
 * so that any program that speaks it (an agent in Python, `retrace gen --env exec:...`) can play it:
 *
 *   -> {"op":"reset","seed":N}      <- {"task","task_type","observation","admissible","expert","thought"}
 *   -> {"op":"step","action":"..."} <- {"observation","reward","done","success","admissible","expert","thought"}
 *
 * A step's reward is the change in the world's score (partial credit by sub-goal), so the rewards of an
 * episode add up to its score, which is what an exec client reports as the episode's reward. "expert"
 * and "thought" are the world's expert's next decision, left out when it has none. A request that
 * cannot be understood gets {"error": "..."} and the server goes on. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int rt_cli_env_serve(int argc, char **argv);
int rt_cli_env_args(const char *cmd, rt_env_config *cfg, long long *seed, const char **spec, int argc, char **argv);

typedef struct {
    rt_env *env;
    int started; /* a reset has happened */
    double score;
} served;

static void add_extras(served *w, json_t *o) {
    const char *const *acts;
    size_t n = rt_env_admissible(w->env, &acts);
    json_t *adm = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(adm, json_string(acts[i]));
    json_object_set_new(o, "admissible", adm);
    rt_env_advice adv;
    if (rt_env_expert(w->env, &adv) == 1) {
        json_object_set_new(o, "expert", json_string(adv.action));
        json_object_set_new(o, "thought", json_string(adv.thought));
    }
}

static json_t *error_reply(const char *fmt, const char *detail) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    return json_pack("{s:s}", "error", msg);
}

static json_t *answer(served *w, json_t *req) {
    const char *op = json_string_value(json_object_get(req, "op"));
    if (!op) return error_reply("a request needs \"op\": \"reset\" or \"step\"%s", "");
    if (!strcmp(op, "reset")) {
        json_t *seed = json_object_get(req, "seed");
        if (seed && (!json_is_integer(seed) || json_integer_value(seed) < 0)) return error_reply("reset: \"seed\" must be a non-negative integer%s", "");
        rt_env_start st;
        if (rt_env_reset(w->env, seed ? (uint64_t)json_integer_value(seed) : 0, &st) != RT_OK) return error_reply("reset: %s", rt_errmsg());
        w->started = 1, w->score = rt_env_score(w->env);
        json_t *o = json_pack("{s:s, s:s, s:s}", "task", st.task, "task_type", st.task_type ? st.task_type : "", "observation", st.observation);
        add_extras(w, o);
        return o;
    }
    if (!strcmp(op, "step")) {
        const char *action = json_string_value(json_object_get(req, "action"));
        if (!w->started) return error_reply("step before the first reset%s", "");
        if (!action) return error_reply("step: \"action\" must be a string%s", "");
        rt_env_result r;
        if (rt_env_step(w->env, action, &r) != RT_OK) return error_reply("step: %s", rt_errmsg());
        double score = rt_env_score(w->env);
        json_t *o = json_pack("{s:s, s:f, s:b, s:b}", "observation", r.observation, "reward", score - w->score, "done", r.done,
                              "success", r.success);
        w->score = score;
        add_extras(w, o);
        return o;
    }
    return error_reply("unknown op '%s' (reset or step)", op);
}

static int serve_lines(rt_env *env) {
    served w = {env, 0, 0.0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (strspn(line, " \t\r\n") == (size_t)n) continue;
        json_error_t e;
        json_t *req = json_loadb(line, (size_t)n, 0, &e);
        json_t *o = json_is_object(req) ? answer(&w, req) : error_reply("not a JSON object: %s", req ? "" : e.text);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text ? text : "{\"error\":\"cannot encode the reply\"}");
        fflush(stdout);
        free(text), json_decref(o), json_decref(req);
    }
    free(line);
    return RT_EXIT_OK;
}

int rt_cli_env_serve(int argc, char **argv) {
    rt_env_config cfg = rt_env_config_default();
    const char *spec = NULL;
    int rc = rt_cli_env_args("env serve", &cfg, NULL, &spec, argc, argv);
    if (rc) return RT_ARGS_EXIT(rc);
    if (!strncmp(spec, "exec:", 5)) return rt_cli_usage_error("env", "serve serves a built-in world, not '%s'", spec);
    rt_env *env;
    if (rt_env_open(spec, &cfg, &env) != RT_OK) return rt_cli_fail("env");
    rc = serve_lines(env);
    rt_env_close(env);
    return rc;
}
