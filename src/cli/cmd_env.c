/* cmd_env.c: `retrace env play` lets a person play an episode in the terminal; `retrace env check`
 * validates scenario packs and prints every problem with its JSON path. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const char rt_cmd_env_summary[] = "play an environment in the terminal, serve it over JSON lines, or check scenario packs";

int rt_cli_env_serve(int argc, char **argv); /* env_stdio.c */
int rt_cli_env_args(const char *cmd, rt_env_config *cfg, long long *seed, const char **spec, int argc, char **argv);

static const char PLAY[] =
    "play --env ENV [-s|--seed S] [--split S] [--held-out A,B] [--api-version N] [--max-steps N]\n"
    "             [--packs DIR] [--step-timeout-ms N]\n"
    "  prints the task and each observation and reads one action per line from stdin. Besides actions:\n"
    "  :help, :admissible (what can be done), :expert (what the expert would do), :docs (toolapi: the docs\n"
    "  of the API version in use), :quit.\n";
static const char SERVE[] =
    "serve ENV [--split S] [--held-out A,B] [--api-version N] [--max-steps N] [--packs DIR]\n"
    "  speaks the exec: protocol of docs/environments.md on stdin/stdout (reset/step as JSON lines), with\n"
    "  admissible actions and the expert's next action in every reply.\n";
static const char CHECK[] =
    "check PACK.json [PACK.json ...]\n"
    "  loads each pack, checks its schema, references and drift rules, runs the expert on every task\n"
    "  template under every API version, and prints every problem as PACK: $.json.path: reason.\n";

static void usage(void) { printf("usage: retrace env SUBCOMMAND [options]\n\n  %s\n  %s\n  %s", PLAY, SERVE, CHECK); }
static void usage_play(void) { printf("usage: retrace env %s", PLAY); }
static void usage_serve(void) { printf("usage: retrace env %s", SERVE); }
static void usage_check(void) { printf("usage: retrace env %s", CHECK); }

static int check_packs(int argc, char **argv) {
    const rt_arg none[] = {RT_ARG_TABLE_END};
    const rt_args_spec spec = {"env check", usage_check, none, 1, argc, 0};
    const char **packs = rt_malloc((size_t)argc * sizeof *packs);
    int n = 0, rc = rt_args_parse(&spec, argc - 1, argv + 1, packs, &n);
    if (rc) {
        free(packs);
        return RT_ARGS_EXIT(rc);
    }
    int failed = 0;
    for (int j = 0; j < n; j++) {
        const char *pack = packs[j];
        json_t *errors = json_array();
        rt_status s = rt_pack_check(pack, errors);
        if (s == RT_OK) {
            printf("%s: ok\n", pack);
        } else {
            failed = 1;
            size_t k;
            json_t *e;
            json_array_foreach(errors, k, e) {
                const char *m = json_string_value(e);
                /* Messages from the JSON loader already name the file. */
                if (strncmp(m, pack, strlen(pack)) == 0) printf("%s\n", m);
                else printf("%s: %s\n", pack, m);
            }
            if (json_array_size(errors) == 0) printf("%s: %s\n", pack, rt_errmsg());
        }
        json_decref(errors);
    }
    free(packs);
    return failed ? RT_EXIT_FAIL : RT_EXIT_OK;
}

static void print_docs(rt_env *env) {
    json_t *meta = json_object(), *versions = json_object(), *docs = json_array();
    rt_env_describe(env, meta, versions);
    if (rt_env_docs(env, docs) == RT_OK) {
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) {
            json_t *v = json_object_get(versions, json_string_value(json_object_get(d, "tool")));
            const char *dom = json_string_value(json_object_get(d, "domain"));
            const char *mdom = json_string_value(json_object_get(meta, "domain"));
            if (v && json_integer_value(v) == json_integer_value(json_object_get(d, "version")) && dom && mdom && !strcmp(dom, mdom))
                printf("%s\n\n", json_string_value(json_object_get(d, "text")));
        }
    }
    if (json_array_size(docs) == 0) printf("(this environment has no docs)\n");
    json_decref(meta), json_decref(versions), json_decref(docs);
}

/* Handles a ":command"; returns 1 to quit. */
static int meta_command(rt_env *env, const char *line) {
    if (!strcmp(line, ":quit") || !strcmp(line, ":q")) return 1;
    if (!strcmp(line, ":admissible")) {
        const char *const *acts;
        size_t n = rt_env_admissible(env, &acts);
        for (size_t i = 0; i < n; i++) printf("  %s\n", acts[i]);
    } else if (!strcmp(line, ":expert")) {
        rt_env_advice adv;
        int r = rt_env_expert(env, &adv);
        if (r < 0) printf("(this environment has no expert)\n");
        else if (r == 0) printf("(the expert thinks the task is done)\n");
        else printf("expert: %s\n  because: %s\n", adv.action, adv.thought);
    } else if (!strcmp(line, ":docs")) {
        print_docs(env);
    } else {
        printf(":admissible, :expert, :docs, :quit, or an action\n");
    }
    return 0;
}

static int play(rt_env *env, uint64_t seed) {
    rt_env_start st;
    if (rt_env_reset(env, seed, &st) != RT_OK) return rt_cli_fail("env");
    int tty = isatty(STDIN_FILENO);
    printf("[%s, %s, seed %llu, budget %d steps]\n%s\n", rt_env_name(env), st.task_type, (unsigned long long)seed,
           rt_env_max_steps(env), st.observation);
    char line[4096];
    rt_env_result r = {0};
    for (;;) {
        if (tty) {
            printf("> ");
            fflush(stdout);
        }
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == ':') {
            if (meta_command(env, line)) break;
            continue;
        }
        if (rt_env_step(env, line, &r) != RT_OK) return rt_cli_fail("env");
        printf("%s\n", r.observation);
        if (r.done) break;
    }
    printf("[episode over: %s, score %.4f, %d steps]\n", r.success ? "success" : "failure", rt_env_score(env),
           rt_env_steps_taken(env));
    return RT_EXIT_OK;
}

/* The options `env play` and `env serve` share; the environment is --env ENV or the one argument. */
int rt_cli_env_args(const char *cmd, rt_env_config *cfg, long long *seed, const char **spec, int argc, char **argv) {
    const rt_arg args[] = {RT_ARG_S("--env", spec), RT_ARG_S("--split", &cfg->split), RT_ARG_S("--held-out", &cfg->held_out),
                           RT_ARG_S("--packs", &cfg->packs_dir), RT_ARG_I32("--api-version", &cfg->api_version, 1, 1000000),
                           RT_ARG_I32("--max-steps", &cfg->max_steps, 1, 1000000),
                           RT_ARG_I32("--step-timeout-ms", &cfg->step_timeout_ms, 1, 1000000),
                           seed ? (rt_arg)RT_ARG_I("-s|--seed", seed, 0, 1e18) : (rt_arg)RT_ARG_TABLE_END, RT_ARG_TABLE_END};
    const rt_args_spec sp = {cmd, seed ? usage_play : usage_serve, args, 0, 1, 0};
    const char *pos = NULL;
    int rc = rt_args_parse(&sp, argc - 1, argv + 1, &pos, NULL);
    if (rc) return rc;
    if (pos && *spec) return rt_cli_usage_error(cmd, "give the environment once, not '%s' and --env %s", pos, *spec);
    if (pos) *spec = pos;
    if (!*spec) return rt_cli_usage_error(cmd, "needs an environment: household, toolapi or a pack (retrace env --help)");
    return 0;
}

static int play_command(int argc, char **argv) {
    rt_env_config cfg = rt_env_config_default();
    const char *spec = NULL;
    long long seed = 1;
    int rc = rt_cli_env_args("env play", &cfg, &seed, &spec, argc, argv);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_env *env;
    if (rt_env_open(spec, &cfg, &env) != RT_OK) return rt_cli_fail("env");
    rc = play(env, (uint64_t)seed);
    rt_env_close(env);
    return rc;
}

int rt_cmd_env(int argc, char **argv) {
    /* The group's own options (--help) come before the subcommand; the subcommand's after it. */
    if (argc < 2 || argv[1][0] == '-') {
        const rt_arg none[] = {RT_ARG_TABLE_END};
        const rt_args_spec group = {"env", usage, none, 0, 0, 0};
        int rc = rt_args_parse(&group, argc, argv, NULL, NULL);
        if (rc) return RT_ARGS_EXIT(rc);
        return rt_cli_usage_error("env", "missing the subcommand: play, serve or check (retrace env --help)");
    }
    if (!strcmp(argv[1], "check")) return check_packs(argc, argv);
    if (!strcmp(argv[1], "play")) return play_command(argc, argv);
    if (!strcmp(argv[1], "serve")) return rt_cli_env_serve(argc, argv);
    return rt_cli_usage_error("env", "unknown subcommand '%s' (play, serve or check)", argv[1]);
}
