/* cmd_bench.c: `retrace bench` runs the whole chain on household and compares five configurations on
 * seen and unseen task types: (a) base, (b) base + retrieval, (c) LoRA SFT without retrieval, (d)
 * RAFT-style LoRA (static similarity retrieval, docs, distractors), (e) retrace (reward-weighted dynamic
 * retrieval, mined negatives, docs, LoRA SFT on examples built the same way). Every stage is one of the
 * retrace commands, run with the arguments printed before it, so any stage can be rerun by hand. */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_bench_summary[] = "run the whole chain on household and print the comparison table";

#define MAX_ARGS 64

typedef struct {
    const char *name;
    long long train_episodes, noisy_episodes, memory_episodes, pretrain_steps, eval_episodes, max_steps, epochs_x10;
    int hidden, layers;
    const char *budget, *max_len, *seq; /* prompt tokens, training example tokens, pretraining window */
} scale;

/* quick checks the plumbing in seconds (a test runs it); full is the comparison itself. */
static const scale SCALES[] = {
    {"quick", 16, 8, 8, 15, 3, 6, 2, 32, 1, "384", "448", "128"},
    {"full", 120, 60, 60, 400, 15, 20, 10, 128, 4, "768", "832", "256"},
};

/* Runs one command with a NULL-terminated argument list, echoing it. */
static int run(int (*fn)(int, char **), const char *name, ...) {
    char *argv[MAX_ARGS];
    int argc = 0;
    argv[argc++] = (char *)name;
    va_list ap;
    va_start(ap, name);
    for (const char *a; argc < MAX_ARGS - 1 && (a = va_arg(ap, const char *));) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    printf("\n$ retrace");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    fflush(stdout);
    double t0 = rt_now();
    int rc = fn(argc, argv);
    printf("(%s: %.1f s)\n", name, rt_now() - t0);
    fflush(stdout);
    if (rc != 0) fprintf(stderr, "retrace bench: stage '%s' failed (exit %d)\n", name, rc);
    return rc;
}

typedef struct {
    const char *id, *label, *adapter; /* adapter folder relative to the work dir, or NULL */
    const char *retrieval;            /* "none", "static", "dynamic" */
    int negatives;
    const char *reward_weight;
} config;

static const config CONFIGS[] = {
    {"a", "base", NULL, "none", 0, "0"},
    {"b", "retrieval only", NULL, "dynamic", 1, "0.5"},
    {"c", "LoRA SFT, no retrieval", "c/adapter", "none", 0, "0"},
    {"d", "RAFT LoRA (static, distractors)", "d/adapter", "static", 0, "0"},
    {"e", "retrace (dynamic, reward, negatives)", "e/adapter", "dynamic", 1, "0.5"},
};
static const char *const SPLITS[] = {"train", "unseen_task"};

static char *path(const char *dir, const char *name) { return rt_path_join(dir, name); }

static int eval_cell(const char *dir, const scale *sc, const config *c, const char *split, char *json_out) {
    char *model = path(dir, "base/model"), *mem = path(dir, "mem"), *adapter = c->adapter ? path(dir, c->adapter) : NULL;
    char eps[24], steps[24], neg[8];
    snprintf(eps, sizeof eps, "%lld", sc->eval_episodes);
    snprintf(steps, sizeof steps, "%lld", sc->max_steps);
    snprintf(neg, sizeof neg, "%d", c->negatives);
    const char *args[MAX_ARGS] = {"--model", model, "--env", "household", "--split", split, "--episodes", eps,
                                  "--max-steps", steps, "--budget", sc->budget, "--max-new", "40", "--json", json_out,
                                  "--negatives", neg, "--reward-weight", c->reward_weight, "-k", "1"};
    int n = 22;
    if (adapter) args[n++] = "--adapter", args[n++] = adapter;
    if (!strcmp(c->retrieval, "none")) args[n++] = "--no-retrieval";
    else args[n++] = "--memory", args[n++] = mem, args[n++] = !strcmp(c->retrieval, "static") ? "--static" : "--dynamic";
    args[n] = NULL;
    char *argv[MAX_ARGS + 1];
    argv[0] = "eval";
    for (int i = 0; i <= n; i++) argv[i + 1] = (char *)args[i];
    printf("\n$ retrace eval");
    for (int i = 0; i < n; i++) printf(" %s", args[i]);
    printf("\n");
    fflush(stdout);
    int rc = rt_cmd_eval(n + 1, argv);
    free(model), free(mem), free(adapter);
    return rc;
}

static int print_table(const char *dir, json_t *results) {
    printf("\n%-40s | %-27s | %-27s\n", "configuration", "seen task types", "unseen task types");
    printf("%-40s | %-27s | %-27s\n", "", "success [95% CI]  steps", "success [95% CI]  steps");
    for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++) {
        printf("(%s) %-36s", CONFIGS[i].id, CONFIGS[i].label);
        json_t *row = json_object();
        for (size_t s = 0; s < 2; s++) {
            char name[64];
            snprintf(name, sizeof name, "eval_%s_%s.json", CONFIGS[i].id, SPLITS[s]);
            char *p = path(dir, name);
            json_t *j;
            rt_status st = rt_json_load(p, &j);
            free(p);
            if (st != RT_OK) return rt_cli_fail("bench");
            printf(" | %5.1f%% [%4.1f-%5.1f]  %5.1f", 100 * json_number_value(json_object_get(j, "success_rate")),
                   100 * json_number_value(json_object_get(j, "ci_low")), 100 * json_number_value(json_object_get(j, "ci_high")),
                   json_number_value(json_object_get(j, "mean_steps")));
            json_object_set_new(row, SPLITS[s], j);
        }
        printf("\n");
        json_object_set_new(results, CONFIGS[i].id, row);
    }
    return RT_EXIT_OK;
}

int rt_cmd_bench(int argc, char **argv) {
    const char *dir = "bench-out";
    const scale *sc = &SCALES[1];
    for (int i = 1; i < argc; i++) {
        if (rt_cli_is_help(argv[i])) {
            printf("usage: retrace bench [--quick] [-o DIR]\n\n"
                   "Generates household episodes (expert and noisy on the training task types; expert on the held-out\n"
                   "types for the memory only), builds the memory, pretrains the tiny base model on the training\n"
                   "episodes, builds plain, RAFT-static and retrace datasets, trains three LoRA adapters, evaluates\n"
                   "five configurations on seen and unseen task types with seeds apart from the training ones, and\n"
                   "prints the table. Writes everything under DIR (bench-out), the table as DIR/results.json.\n");
            return RT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--quick")) sc = &SCALES[0];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) dir = argv[++i];
        else return rt_cli_usage_error("bench", "unknown option '%s'", argv[i]);
    }
    if (rt_mkdir_p(dir) != RT_OK) return rt_cli_fail("bench");
    char n_train[24], n_noisy[24], n_mem[24], p_steps[24], hidden[16], layers[16], epochs[16];
    snprintf(n_train, sizeof n_train, "%lld", sc->train_episodes);
    snprintf(n_noisy, sizeof n_noisy, "%lld", sc->noisy_episodes);
    snprintf(n_mem, sizeof n_mem, "%lld", sc->memory_episodes);
    snprintf(p_steps, sizeof p_steps, "%lld", sc->pretrain_steps);
    snprintf(hidden, sizeof hidden, "%d", sc->hidden);
    snprintf(layers, sizeof layers, "%d", sc->layers);
    snprintf(epochs, sizeof epochs, "%.1f", (double)sc->epochs_x10 / 10.0);
    char *expert = path(dir, "train_expert.jsonl"), *noisy = path(dir, "train_noisy.jsonl"), *unseen = path(dir, "unseen_memory.jsonl");
    char *mem = path(dir, "mem"), *base = path(dir, "base"), *model = path(dir, "base/model");
    char *plain = path(dir, "sft_plain.jsonl"), *raft_s = path(dir, "sft_raft_static.jsonl"), *raft_e = path(dir, "sft_retrace.jsonl");
    char *out_c = path(dir, "c"), *out_d = path(dir, "d"), *out_e = path(dir, "e"), *res_path = path(dir, "results.json");
    double t0 = rt_now();
    int rc = 0;
    /* 1. experience: training task types (expert and noisy), held-out types for the memory only */
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", n_train, "--seed", "11", "-o", expert, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", n_noisy, "--seed", "12", "--policy", "noisy",
                      "--noise", "0.5", "-o", noisy, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--split", "unseen_task", "--episodes", n_mem, "--seed", "13",
                      "-o", unseen, NULL);
    if (!rc && !rt_path_exists(mem)) rc = run(rt_cmd_memory, "memory", "init", mem, NULL);
    if (!rc) rc = run(rt_cmd_memory, "memory", "add", mem, expert, noisy, unseen, NULL);
    /* 2. the base model, pretrained on plain training episodes */
    if (!rc) rc = run(rt_cmd_pretrain, "pretrain", "--episodes", expert, "--steps", p_steps, "--seq", sc->seq, "--batch", "8",
                      "--hidden", hidden, "--layers", layers, "--vocab", "1024", "-o", base, NULL);
    /* 3. datasets: plain, RAFT (static similarity, docs, distractors), retrace (dynamic, reward, negatives) */
    if (!rc) rc = run(rt_cmd_dataset, "dataset", "--no-retrieval", "--from", expert, "--tokenizer", model, "--budget",
                      sc->budget, "-o", plain, NULL);
    if (!rc) rc = run(rt_cmd_dataset, "dataset", mem, "--from", expert, "--tokenizer", model, "--static", "--retrieve", "1",
                      "--negatives", "0", "--reward-weight", "0", "--p-useful", "0.8", "--exclude-same-task", "--budget",
                      sc->budget, "-o", raft_s, NULL);
    if (!rc) rc = run(rt_cmd_dataset, "dataset", mem, "--from", expert, "--tokenizer", model, "--dynamic", "--retrieve", "1",
                      "--negatives", "1", "--reward-weight", "0.5", "--p-useful", "0.8", "--exclude-same-task", "--budget",
                      sc->budget, "-o", raft_e, NULL);
    /* 4. three adapters */
    const char *const train_sets[3][2] = {{plain, out_c}, {raft_s, out_d}, {raft_e, out_e}};
    for (int i = 0; i < 3 && !rc; i++)
        rc = run(rt_cmd_train, "train", "--model", model, "--data", train_sets[i][0], "--preset", "tiny", "--epochs", epochs,
                 "--batch", "8", "--max-len", sc->max_len, "-o", train_sets[i][1], NULL);
    /* 5. evaluation: every configuration on seen and unseen task types */
    for (size_t c = 0; c < sizeof CONFIGS / sizeof *CONFIGS && !rc; c++)
        for (size_t s = 0; s < 2 && !rc; s++) {
            char name[64];
            snprintf(name, sizeof name, "eval_%s_%s.json", CONFIGS[c].id, SPLITS[s]);
            char *jp = path(dir, name);
            rc = eval_cell(dir, sc, &CONFIGS[c], SPLITS[s], jp);
            free(jp);
        }
    json_t *results = json_object();
    if (!rc) rc = print_table(dir, results);
    if (!rc) {
        json_object_set_new(results, "scale", json_string(sc->name));
        json_object_set_new(results, "seconds", json_real(rt_now() - t0));
        if (rt_json_save(res_path, results) != RT_OK) rc = rt_cli_fail("bench");
        else printf("\nresults: %s (%.0f s)\n", res_path, rt_now() - t0);
    }
    json_decref(results);
    char *all[] = {expert, noisy, unseen, mem, base, model, plain, raft_s, raft_e, out_c, out_d, out_e, res_path};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    return rc;
}
