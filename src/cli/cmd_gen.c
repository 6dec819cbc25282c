/* cmd_gen.c: `retrace gen` runs a policy in an environment and writes the episodes (and, for toolapi,
 * the docs of every API version) as JSON lines, atomically. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_gen_summary[] = "generate episodes from an environment with an expert, noisy or random policy";

static void usage(void) {
    printf(
            "usage: retrace gen --env ENV --episodes N -o FILE [options]\n\n"
            "ENV is household, toolapi (every pack in packs/), PACK.json, or exec:CMD (an external environment\n"
            "speaking the JSON-lines protocol of docs/environments.md).\n\n"
            "options:\n"
            "  --episodes N         how many episodes (required)\n"
            "  -s, --seed S         run seed (default 1); the same seed gives byte-identical files\n"
            "  --policy P           expert (default), noisy or random\n"
            "  --noise X            noisy: probability in [0,1] of a committed mistake per episode (default 0.3)\n"
            "  --split S            train (default), unseen_task, unseen_scene, unseen_api, unseen\n"
            "  --held-out A,B       household: task types held out (default pick_cool_then_place_in_recep,\n"
            "                       look_at_obj_in_light)\n"
            "  --max-steps N        step budget (default: the world's own)\n"
            "  --api-version N      toolapi: the API version to use (default: by split)\n"
            "  --step-timeout-ms N  exec: how long one reply may take (default 10000)\n"
            "  --packs DIR          toolapi: where the packs are (default $RETRACE_PACKS or packs/)\n"
            "  --docs FILE          toolapi: where the docs go (default FILE with .docs.jsonl)\n"
            "  -o, --output FILE    episodes, one JSON object per line (- for stdout)\n");
}

typedef struct {
    const char *env, *out, *docs, *policy;
    long long episodes, seed;
    double noise;
    rt_env_config cfg;
} gen_args;

/* Returns 0, a usage exit code, or RT_ARGS_HELP. */
static int parse_args(int argc, char **argv, gen_args *a) {
    const rt_arg args[] = {
        RT_ARG_S("--env", &a->env), RT_ARG_S("-o|--output", &a->out), RT_ARG_S("--docs", &a->docs),
        RT_ARG_S("--policy", &a->policy), RT_ARG_S("--split", &a->cfg.split), RT_ARG_S("--held-out", &a->cfg.held_out),
        RT_ARG_S("--packs", &a->cfg.packs_dir), RT_ARG_I("--episodes", &a->episodes, 1, 1e18),
        RT_ARG_I("-s|--seed", &a->seed, 0, 1e18), RT_ARG_F("--noise", &a->noise, 0, 1),
        RT_ARG_I32("--max-steps", &a->cfg.max_steps, 1, 1000000), RT_ARG_I32("--api-version", &a->cfg.api_version, 1, 1000000),
        RT_ARG_I32("--step-timeout-ms", &a->cfg.step_timeout_ms, 1, 1000000), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"gen", usage, args, 0, 0, 0};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (!a->env) return rt_cli_usage_error("gen", "--env is required");
    if (!a->out) return rt_cli_usage_error("gen", "-o FILE is required");
    if (a->episodes < 1) return rt_cli_usage_error("gen", "--episodes must be at least 1");
    return RT_EXIT_OK;
}

static char *default_docs_path(const char *out) {
    size_t n = strlen(out);
    if (n > 6 && strcmp(out + n - 6, ".jsonl") == 0) n -= 6;
    char *p = rt_malloc(n + 12);
    memcpy(p, out, n);
    strcpy(p + n, ".docs.jsonl");
    return p;
}

/* One JSON line to an atomic file, or to stdout when f is NULL (`-o -`). */
static rt_status write_line(rt_atomic_file *f, const json_t *obj) {
    char *line = rt_episode_line(obj);
    if (!line) return rt_fail(RT_ERR_NOMEM, "%s: cannot serialise an episode", f ? f->path : "stdout");
    rt_status s = RT_OK;
    if (f) {
        s = rt_atomic_write(f, line, strlen(line));
        if (s == RT_OK) s = rt_atomic_write(f, "\n", 1);
    } else if (puts(line) == EOF) {
        s = rt_fail(RT_ERR_IO, "stdout: write failed");
    }
    free(line);
    return s;
}

static rt_status write_docs(rt_env *env, const char *path) {
    json_t *docs = json_array();
    rt_status s = rt_env_docs(env, docs);
    if (s == RT_OK && json_array_size(docs) > 0) {
        rt_atomic_file f;
        s = rt_atomic_open(&f, path);
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) if (s == RT_OK) s = write_line(&f, d);
        if (s == RT_OK) s = rt_atomic_commit(&f);
        else rt_atomic_abort(&f);
        if (s == RT_OK) rt_info("wrote %zu docs to %s", json_array_size(docs), path);
    }
    json_decref(docs);
    return s;
}

/* Each episode as it ends: its line, the counts, the progress line. */
typedef struct {
    rt_atomic_file f;
    int to_stdout;
    rt_progress pg;
    long long wins, env_errors;
    char *first_error; /* the environment's first error, for the run's verdict */
    double reward_sum;
} gen_sink;

static rt_status on_episode(void *ctx, const json_t *ep, long long i) {
    gen_sink *k = ctx;
    k->wins += rt_episode_succeeded(ep);
    k->reward_sum += json_real_value(json_object_get(ep, "reward"));
    const char *err = json_string_value(json_object_get(json_object_get(ep, "meta"), "error"));
    if (err && k->env_errors++ == 0) k->first_error = rt_strdup(err);
    rt_status s = write_line(k->to_stdout ? NULL : &k->f, ep);
    char extra[64];
    snprintf(extra, sizeof extra, "success %.1f%%", 100.0 * (double)k->wins / (double)(i + 1));
    rt_progress_update(&k->pg, i + 1, extra);
    return s;
}

static rt_status generate(const gen_args *a, rt_env *env, const rt_policy *pol) {
    gen_sink k = {.to_stdout = !strcmp(a->out, "-")};
    if (!k.to_stdout) RT_TRY(rt_atomic_open(&k.f, a->out));
    rt_progress_begin(&k.pg, "gen", a->episodes);
    rt_status s = rt_env_run_episodes(env, pol, (uint64_t)a->seed, a->episodes, on_episode, &k);
    rt_progress_end(&k.pg);
    /* An environment that failed every episode is a broken run, not a dataset of failures. */
    if (s == RT_OK && k.env_errors == a->episodes)
        s = rt_fail(RT_ERR_IO, "the environment failed on every episode (%lld); the first error: %s", a->episodes,
                    k.first_error);
    else if (k.env_errors)
        rt_warn("the environment failed on %lld of %lld episodes (kept as failures); the first error: %s", k.env_errors,
                a->episodes, k.first_error);
    free(k.first_error);
    if (k.to_stdout && s == RT_OK && fflush(stdout) != 0) s = rt_fail(RT_ERR_IO, "stdout: write failed");
    else if (!k.to_stdout && s == RT_OK) s = rt_atomic_commit(&k.f);
    else if (!k.to_stdout) rt_atomic_abort(&k.f);
    /* With the episodes on stdout, the summary is a log line on stderr (--quiet drops it). */
    double rate = 100.0 * (double)k.wins / (double)a->episodes, mean = k.reward_sum / (double)a->episodes;
    if (s == RT_OK && k.to_stdout)
        rt_info("wrote %lld episodes to stdout: success %.1f%%, mean reward %.4f", a->episodes, rate, mean);
    else if (s == RT_OK)
        printf("wrote %lld episodes to %s: success %.1f%%, mean reward %.4f\n", a->episodes, a->out, rate, mean);
    return s;
}

int rt_cmd_gen(int argc, char **argv) {
    gen_args a;
    memset(&a, 0, sizeof a);
    a.cfg = rt_env_config_default();
    a.policy = "expert";
    a.seed = 1;
    a.noise = rt_policy_default().noise;
    int rc = parse_args(argc, argv, &a);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_policy pol = rt_policy_default();
    pol.noise = a.noise;
    if (rt_policy_parse(a.policy, &pol.kind) != RT_OK) return rt_cli_usage_error("gen", "%s", rt_errmsg());
    rt_env *env;
    if (rt_env_open(a.env, &a.cfg, &env) != RT_OK) return rt_cli_fail("gen");
    /* Episodes on stdout get docs only where --docs says. */
    char *docs = a.docs ? rt_strdup(a.docs) : strcmp(a.out, "-") ? default_docs_path(a.out) : NULL;
    rt_status s = generate(&a, env, &pol);
    if (s == RT_OK && docs) s = write_docs(env, docs);
    free(docs);
    rt_env_close(env);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("gen");
}
