/* cmd_env.c: `retrace env play` lets a person play an episode in the terminal; `retrace env check`
 * validates scenario packs and prints every problem with its JSON path. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const char rt_cmd_env_summary[] = "play an environment in the terminal, serve it over JSON lines, or check scenario packs";

int rt_cli_env_serve(int argc, char **argv); /* env_stdio.c */

static void usage(FILE *out) {
    fprintf(out,
            "usage: retrace env play --env ENV [--seed S] [--split S] [--held-out A,B] [--api-version N]\n"
            "                        [--max-steps N] [--packs DIR] [--step-timeout-ms N]\n"
            "       retrace env serve ENV [--split S] [--held-out A,B] [--api-version N] [--max-steps N] [--packs DIR]\n"
            "       retrace env check PACK.json [PACK.json ...]\n\n"
            "play: prints the task and each observation and reads one action per line from stdin.\n"
            "  Besides actions: :help, :admissible (what can be done), :expert (what the expert would do),\n"
            "  :docs (toolapi: the docs of the API version in use), :quit.\n"
            "serve: speaks the exec: protocol of docs/environments.md on stdin/stdout (reset/step as JSON lines),\n"
            "  with admissible actions and the expert's next action in every reply.\n"
            "check: loads each pack, checks its schema, references and drift rules, runs the expert on every\n"
            "  task template under every API version, and prints every problem as PACK: $.json.path: reason.\n");
}

static int check_packs(int argc, char **argv) {
    if (argc < 3) return rt_cli_usage_error("env", "check needs at least one PACK.json");
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        json_t *errors = json_array();
        rt_status s = rt_pack_check(argv[i], errors);
        if (s == RT_OK) {
            printf("%s: ok\n", argv[i]);
        } else {
            failed = 1;
            size_t k;
            json_t *e;
            json_array_foreach(errors, k, e) {
                const char *m = json_string_value(e);
                /* Messages from the JSON loader already name the file. */
                if (strncmp(m, argv[i], strlen(argv[i])) == 0) printf("%s\n", m);
                else printf("%s: %s\n", argv[i], m);
            }
            if (json_array_size(errors) == 0) printf("%s: %s\n", argv[i], rt_errmsg());
        }
        json_decref(errors);
    }
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

static int play_command(int argc, char **argv) {
    rt_env_config cfg = rt_env_config_default();
    const char *spec = NULL;
    long long seed = 1, v;
    for (int i = 2; i < argc; i += 2) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return rt_cli_usage_error("env", "%s needs a value (retrace env --help)", o);
        if (!strcmp(o, "--env")) spec = val;
        else if (!strcmp(o, "--split")) cfg.split = val;
        else if (!strcmp(o, "--held-out")) cfg.held_out = val;
        else if (!strcmp(o, "--packs")) cfg.packs_dir = val;
        else if (!strcmp(o, "--seed")) {
            if (rt_cli_parse_int("env", o, val, &seed)) return RT_EXIT_USAGE;
            if (seed < 0) return rt_cli_usage_error("env", "--seed must not be negative");
        } else if (!strcmp(o, "--api-version") || !strcmp(o, "--max-steps") || !strcmp(o, "--step-timeout-ms")) {
            if (rt_cli_parse_int("env", o, val, &v)) return RT_EXIT_USAGE;
            if (v < 1 || v > 1000000) return rt_cli_usage_error("env", "%s must be between 1 and 1000000", o);
            if (o[2] == 'a') cfg.api_version = (int)v;
            else if (o[2] == 'm') cfg.max_steps = (int)v;
            else cfg.step_timeout_ms = (int)v;
        } else return rt_cli_usage_error("env", "unknown option '%s' (retrace env --help)", o);
    }
    if (!spec) return rt_cli_usage_error("env", "play needs --env");
    rt_env *env;
    if (rt_env_open(spec, &cfg, &env) != RT_OK) return rt_cli_fail("env");
    int rc = play(env, (uint64_t)seed);
    rt_env_close(env);
    return rc;
}

int rt_cmd_env(int argc, char **argv) {
    if (argc < 2 || rt_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? RT_EXIT_USAGE : RT_EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (rt_cli_is_help(argv[i])) {
            usage(stdout);
            return RT_EXIT_OK;
        }
    if (!strcmp(argv[1], "check")) return check_packs(argc, argv);
    if (!strcmp(argv[1], "play")) return play_command(argc, argv);
    if (!strcmp(argv[1], "serve")) return rt_cli_env_serve(argc, argv);
    return rt_cli_usage_error("env", "unknown subcommand '%s' (play, serve or check)", argv[1]);
}
