/* cmd_bench.c: `retrace bench` runs the whole chain on the built-in environments and compares five
 * configurations on four splits: seen household task types, unseen household task types, seen tool APIs
 * (toolapi at v1, as trained: the control for the next one) and drifted tool APIs (toolapi trained on v1,
 * tested on v2). The configurations: (a) base, (b) retrieval only,
 * (c) LoRA SFT without retrieval, (d) RAFT-style LoRA (static similarity retrieval, docs, distractors),
 * (e) retrace (reward-weighted dynamic retrieval, mined negatives, docs, LoRA SFT on examples built the
 * same way). Every stage is one of the retrace commands, run with the arguments printed before it, so
 * any stage can be rerun by hand. Training and evaluation seeds are disjoint (gen uses 11-16, eval its
 * own default far from them). */
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "retrace/report.h"

const char rt_cmd_bench_summary[] = "run the whole chain on the built-in environments and print the comparison table";

#define MAX_ARGS 64

typedef struct {
    const char *name;
    /* episodes generated: household expert/noisy on training types, household expert on held-out types
     * (memory only), toolapi expert/noisy on v1, toolapi expert on v2 (memory only), and how many of the
     * expert episodes of each world the SFT examples come from */
    const char *hh_train, *hh_noisy, *hh_unseen, *ta_train, *ta_noisy, *ta_drift, *hh_sft, *ta_sft, *hh_val, *ta_val;
    const char *pretrain_steps, *seq, *batch, *hidden, *layers, *vocab; /* the base model and its pretraining */
    const char *budget;   /* prompt tokens, for the datasets and the evaluation alike */
    const char *max_len, *epochs, *lora_r; /* adapter training: example length, epochs, LoRA rank */
    const char *eval_episodes, *hh_max_steps, *ta_max_steps; /* per cell, and each world's step budget */
} scale;

/* quick checks the plumbing in about a minute (a test runs it); full is the comparison itself, sized
 * for about 15 minutes on 2 cores. The full base model is pretrained on windows of 1024 tokens, as long as
 * the evaluation prompts' budget: rotary positions past the training length were never seen. Values are
 * strings because each goes on a command line as it is. */
static const scale SCALES[] = {
    {.name = "quick",
     .hh_train = "24", .hh_noisy = "8", .hh_unseen = "8", .ta_train = "16", .ta_noisy = "4", .ta_drift = "4",
     .hh_sft = "6", .ta_sft = "6", .hh_val = "2", .ta_val = "2",
     .pretrain_steps = "30", .seq = "256", .batch = "8", .hidden = "48", .layers = "2", .vocab = "512",
     .budget = "640", .max_len = "768", .epochs = "0.3", .lora_r = "8",
     .eval_episodes = "2", .hh_max_steps = "8", .ta_max_steps = "4"},
    {.name = "full",
     .hh_train = "1500", .hh_noisy = "150", .hh_unseen = "100", .ta_train = "800", .ta_noisy = "100",
     .ta_drift = "100", .hh_sft = "40", .ta_sft = "60", .hh_val = "4", .ta_val = "6",
     .pretrain_steps = "700", .seq = "1024", .batch = "4", .hidden = "128", .layers = "4", .vocab = "2048",
     .budget = "1024", .max_len = "1152", .epochs = "1", .lora_r = "32",
     .eval_episodes = "16", .hh_max_steps = "20", .ta_max_steps = "13"},
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
    const char *negatives, *reward_weight;
} config;

static const config CONFIGS[] = {
    {"a", "base", NULL, "none", "0", "0"},
    {"b", "retrieval only", NULL, "dynamic", "1", "0.5"},
    {"c", "LoRA SFT, no retrieval", "c/adapter", "none", "0", "0"},
    {"d", "RAFT LoRA (static, distractors)", "d/adapter", "static", "0", "0"},
    {"e", "retrace (dynamic, reward, negatives)", "e/adapter", "dynamic", "1", "0.5"},
};
enum { N_CONFIGS = sizeof CONFIGS / sizeof *CONFIGS };

typedef struct {
    const char *id, *label, *env, *split;
} split;

static const split SPLITS[] = {
    {"train", "seen task types", "household", "train"},
    {"unseen_task", "unseen task types", "household", "unseen_task"},
    {"api_train", "seen APIs", "toolapi", "train"},
    {"unseen_api", "drifted APIs", "toolapi", "unseen_api"},
};
enum { N_SPLITS = sizeof SPLITS / sizeof *SPLITS };

extern char **environ;

static char *path(const char *dir, const char *name) { return rt_path_join(dir, name); }

static char *pathf(const char *dir, const char *fmt, const char *a, const char *b) {
    char name[128];
    snprintf(name, sizeof name, fmt, a, b);
    return path(dir, name);
}

/* A child process of this same binary (`retrace <command> ...`) with its output in `log`. */
typedef struct {
    const char *args[MAX_ARGS];
    char *log;
    char label[96];
    char *owned[8]; /* strings args points to, freed with the job */
} job;

static void job_free(job *j) {
    for (int i = 0; i < 8; i++) free(j->owned[i]);
    free(j->log);
}

static pid_t start_job(const job *j) {
    printf("$");
    for (int i = 0; j->args[i]; i++) printf(" %s", j->args[i]);
    printf(" > %s\n", j->log);
    fflush(stdout);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, j->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    int err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, (char *const *)j->args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) fprintf(stderr, "retrace bench: cannot start %s: %s\n", j->label, strerror(err)), pid = -1;
    return pid;
}

/* Runs the jobs, `parallel` at a time, in order; stops starting new ones after a failure. */
static int run_jobs(job *jobs, int n, int parallel, const char *stage) {
    pid_t *pids = rt_calloc((size_t)n, sizeof *pids);
    int running = 0, next = 0, failed = 0;
    double t0 = rt_now();
    printf("\n%s: %d jobs, %d at a time:\n", stage, n, parallel);
    while ((next < n && !failed) || running > 0) {
        if (next < n && !failed && running < parallel) {
            if ((pids[next] = start_job(&jobs[next])) < 0) failed = 1;
            else running++;
            next++;
            continue;
        }
        int status;
        pid_t done = wait(&status);
        if (done < 0) break;
        int k = 0;
        while (k < next && pids[k] != done) k++;
        if (k == next) continue; /* not one of ours */
        running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "retrace bench: %s failed; see %s\n", jobs[k].label, jobs[k].log);
            failed = 1;
        } else {
            printf("  %-60s done (%.0f s)\n", jobs[k].label, rt_now() - t0);
            fflush(stdout);
        }
    }
    printf("(%s: %.1f s)\n", stage, rt_now() - t0);
    fflush(stdout);
    free(pids);
    return failed ? RT_EXIT_FAIL : 0;
}

/* One evaluation cell: `retrace eval ...` with its output in DIR/eval_<config>_<split>.log. */
static void cell_job(job *j, const char *dir, const scale *sc, const config *c, const split *sp, const char *threads) {
    memset(j, 0, sizeof *j);
    char *model = j->owned[0] = path(dir, "base/model"), *mem = j->owned[1] = path(dir, "mem");
    char *adapter = j->owned[2] = c->adapter ? path(dir, c->adapter) : NULL;
    char *json_out = j->owned[3] = pathf(dir, "eval_%s_%s.json", c->id, sp->id);
    char *eps_out = j->owned[4] = pathf(dir, "episodes_%s_%s.jsonl", c->id, sp->id);
    j->log = pathf(dir, "eval_%s_%s.log", c->id, sp->id);
    snprintf(j->label, sizeof j->label, "(%s) %-36s %s", c->id, c->label, sp->label);
    const char *args[] = {"retrace", "eval", "--model", model, "--env", sp->env, "--split", sp->split, "--episodes",
                          sc->eval_episodes, "--budget", sc->budget, "--json", json_out, "-o", eps_out,
                          "--negatives", c->negatives, "--reward-weight", c->reward_weight, "-k", "1",
                          "--threads", threads};
    int n = (int)(sizeof args / sizeof *args);
    memcpy(j->args, args, sizeof args);
    j->args[n++] = "--max-steps", j->args[n++] = !strcmp(sp->env, "household") ? sc->hh_max_steps : sc->ta_max_steps;
    if (adapter) j->args[n++] = "--adapter", j->args[n++] = adapter;
    if (!strcmp(c->retrieval, "none")) j->args[n++] = "--no-retrieval";
    else j->args[n++] = "--memory", j->args[n++] = mem, j->args[n++] = !strcmp(c->retrieval, "static") ? "--static" : "--dynamic";
    j->args[n] = NULL;
}

/* Runs every (configuration, split) cell, two at a time, each child on half the threads: the tiny
 * model's decoding is too small to keep two cores busy, two processes are not. */
static int eval_all(const char *dir, const scale *sc) {
    int parallel = rt_threads() >= 2 ? 2 : 1, total = N_CONFIGS * N_SPLITS;
    char threads[16];
    snprintf(threads, sizeof threads, "%d", rt_threads() / parallel > 0 ? rt_threads() / parallel : 1);
    job *jobs = rt_calloc((size_t)total, sizeof *jobs);
    for (int i = 0; i < total; i++) cell_job(&jobs[i], dir, sc, &CONFIGS[i / N_SPLITS], &SPLITS[i % N_SPLITS], threads);
    int rc = run_jobs(jobs, total, parallel, "eval");
    for (int i = 0; i < total; i++) job_free(&jobs[i]);
    free(jobs);
    return rc;
}

/* The three adapters (same recipe, their own examples) trained at once, each on its share of the
 * threads: for the tiny model three one-thread processes keep two cores busier than one two-thread
 * training after another. Each logs to DIR/train_<config>.log. */
static int train_all(const char *dir, const scale *sc, const char *model, const char *const sets[3][3]) {
    static const char *const ids[3] = {"c", "d", "e"};
    char threads[16];
    snprintf(threads, sizeof threads, "%d", rt_threads() / 3 > 0 ? rt_threads() / 3 : 1);
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        job *j = &jobs[i];
        memset(j, 0, sizeof *j);
        char name[32];
        snprintf(name, sizeof name, "train_%s.log", ids[i]);
        j->log = path(dir, name);
        snprintf(j->label, sizeof j->label, "adapter (%s)", ids[i]);
        /* --lora-alpha is the rank: under rsLoRA (train's default) the update is scaled by alpha/sqrt(r),
         * so alpha = r gives sqrt(r) (2.8 at quick's r 8, 5.7 at full's r 32; the tiny preset's r 16,
         * alpha 32 would give 8). Tying alpha to r keeps that scale growing only as sqrt(r) when the rank
         * changes. No sweep chose it: it is the setting every bench result in docs/BENCHMARKS.md used. */
        const char *args[] = {"retrace", "train", "--model", model, "--data", sets[i][0], "--val", sets[i][1],
                              "--eval-every", "16", "--preset", "tiny", "--lora-r", sc->lora_r, "--lora-alpha",
                              sc->lora_r, "--epochs", sc->epochs, "--batch", "8", "--max-len", sc->max_len,
                              "--threads", threads, "-o", sets[i][2], NULL};
        memcpy(j->args, args, sizeof args);
    }
    int rc = run_jobs(jobs, 3, 3, "train");
    for (int i = 0; i < 3; i++) job_free(&jobs[i]);
    return rc;
}

/* Prints the table and fills results with the schema the report reads (include/retrace/report.h,
 * docs/agent.md). */
static int collect(const char *dir, json_t *results) {
    json_t *configs = json_array(), *splits = json_array(), *cells = json_object(), *logs = json_object();
    json_object_set_new(results, "configs", configs);
    json_object_set_new(results, "splits", splits);
    json_object_set_new(results, "cells", cells);
    json_object_set_new(results, "loss_logs", logs);
    for (int s = 0; s < N_SPLITS; s++)
        json_array_append_new(splits, json_pack("{s:s, s:s, s:s}", "id", SPLITS[s].id, "label", SPLITS[s].label, "env",
                                                SPLITS[s].env));
    char *base_log = path(dir, "base/loss.jsonl");
    if (rt_path_exists(base_log)) json_object_set_new(logs, "base (pretraining)", json_string("base/loss.jsonl"));
    free(base_log);
    printf("\n%-40s", "configuration");
    for (int s = 0; s < N_SPLITS; s++) printf(" | %-27s", SPLITS[s].label);
    printf("\n%-40s", "");
    for (int s = 0; s < N_SPLITS; s++) printf(" | %-27s", "success [95% CI]  steps");
    printf("\n");
    for (int i = 0; i < N_CONFIGS; i++) {
        const config *c = &CONFIGS[i];
        json_array_append_new(configs, json_pack("{s:s, s:s}", "id", c->id, "label", c->label));
        if (c->adapter) {
            char name[64];
            snprintf(name, sizeof name, "%s/loss.jsonl", c->id);
            char label[96];
            snprintf(label, sizeof label, "(%s) %s", c->id, c->label);
            json_object_set_new(logs, label, json_string(name));
        }
        printf("(%s) %-36s", c->id, c->label);
        json_t *row = json_object();
        json_object_set_new(cells, c->id, row);
        for (int s = 0; s < N_SPLITS; s++) {
            char *p = pathf(dir, "eval_%s_%s.json", c->id, SPLITS[s].id);
            json_t *j;
            rt_status st = rt_json_load(p, &j);
            free(p);
            if (st != RT_OK) return rt_cli_fail("bench");
            printf(" | %5.1f%% [%4.1f-%5.1f]  %5.1f", 100 * json_number_value(json_object_get(j, "success_rate")),
                   100 * json_number_value(json_object_get(j, "ci_low")), 100 * json_number_value(json_object_get(j, "ci_high")),
                   json_number_value(json_object_get(j, "mean_steps")));
            json_object_set_new(row, SPLITS[s].id, j);
        }
        printf("\n");
    }
    return RT_EXIT_OK;
}

/* Writes the files in srcs (NULL-terminated) one after the other to dst, atomically. */
static int concat(const char *dst, const char *const *srcs) {
    rt_atomic_file f;
    rt_status s = rt_atomic_open(&f, dst);
    if (s != RT_OK) return rt_cli_fail("bench");
    for (int i = 0; s == RT_OK && srcs[i]; i++) {
        char *data;
        size_t len;
        if ((s = rt_file_read(srcs[i], &data, &len)) == RT_OK) s = rt_atomic_write(&f, data, len), free(data);
    }
    if (s == RT_OK) s = rt_atomic_commit(&f);
    else rt_atomic_abort(&f);
    return s == RT_OK ? 0 : rt_cli_fail("bench");
}

/* DIR/base/model -> the given model folder (an earlier link is replaced; a real model folder there was
 * refused before anything ran: the results would mix two base models). */
static int link_base(const char *given, const char *base_dir, const char *model) {
    char *abs = realpath(given, NULL);
    struct stat st;
    int rc = 0;
    if (!abs) rc = rt_cli_usage_error("bench", "--base %s: cannot resolve the path", given);
    else if (rt_mkdir_p(base_dir) != RT_OK) rc = rt_cli_fail("bench");
    else if ((lstat(model, &st) == 0 && unlink(model) != 0) || symlink(abs, model) != 0)
        rc = rt_cli_usage_error("bench", "%s: cannot link to %s", model, abs);
    if (!rc) printf("\n(base model: %s, not pretrained here)\n", abs);
    free(abs);
    return rc;
}

static void usage(void) {
    printf("usage: retrace bench [--quick] [--pretrain-steps N] [--eval-episodes N] [--base MODEL_DIR] [--embedder E]\n"
           "                    [-o DIR]\n\n"
           "The whole chain on the built-in environments. Generates household episodes (expert and noisy on\n"
           "the training task types; expert on the held-out types, for the memory only) and toolapi episodes\n"
           "(expert and noisy on API v1; expert on the drifted v2, for the memory only; docs of every version),\n"
           "builds the memory, pretrains the tiny base model on the plain expert episodes, builds plain,\n"
           "RAFT-static and retrace datasets, trains three LoRA adapters, evaluates five configurations on\n"
           "seen task types, unseen task types, seen APIs and drifted APIs with seeds apart from the training\n"
           "ones, and prints the table. Writes everything under DIR (bench-out): the table as DIR/results.json, the\n"
           "report as DIR/report.html, each cell's episodes as DIR/episodes_<config>_<split>.jsonl.\n\n"
           "options:\n"
           "  --quick              the same chain at a toy size (about a minute; the numbers mean nothing)\n"
           "  --pretrain-steps N   pretraining steps of the base model (full: 700; more steps, a stronger base)\n"
           "  --eval-episodes N    evaluation episodes per configuration and split (full: 16)\n"
           "  --embedder E         the memory's embedder: hash (default) or a BERT/XLM-R model folder\n"
           "  --base MODEL_DIR     skip pretraining and use this base model (e.g. one from an earlier run's\n"
           "                       DIR/base/model); the plain prompt format, no chat template\n"
           "  -o DIR               output folder (bench-out)\n");
}

int rt_cmd_bench(int argc, char **argv) {
    const char *dir = "bench-out";
    scale chosen = SCALES[1];
    const char *pretrain_steps = NULL, *eval_episodes = NULL, *base_model = NULL, *embedder = "hash";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (rt_cli_is_help(a)) return usage(), RT_EXIT_OK;
        if (!strcmp(a, "--quick")) chosen = SCALES[0];
        else if (!strcmp(a, "-o") && v) dir = v, i++;
        else if (!strcmp(a, "--base") && v) base_model = v, i++;
        else if (!strcmp(a, "--embedder") && v) embedder = v, i++;
        else if (!strcmp(a, "--pretrain-steps") || !strcmp(a, "--eval-episodes")) {
            if (rt_cli_parse_int("bench", a, v, &n)) return RT_EXIT_USAGE;
            if (n < 1) return rt_cli_usage_error("bench", "%s must be at least 1", a);
            *(a[2] == 'p' ? &pretrain_steps : &eval_episodes) = v, i++;
        } else return rt_cli_usage_error("bench", "unknown option '%s'", a);
    }
    if (base_model) {
        char *cfg = rt_path_join(base_model, "config.json");
        int ok = rt_path_exists(cfg);
        free(cfg);
        if (!ok) return rt_cli_usage_error("bench", "--base %s: not a model folder (no config.json)", base_model);
        if (pretrain_steps) return rt_cli_usage_error("bench", "give --base or --pretrain-steps, not both");
        char *model = path(dir, "base/model");
        struct stat st;
        int taken = lstat(model, &st) == 0 && !S_ISLNK(st.st_mode);
        free(model);
        if (taken) return rt_cli_usage_error("bench", "%s/base/model already holds a model; give --base a fresh -o folder", dir);
    }
    if (pretrain_steps) chosen.pretrain_steps = pretrain_steps;
    if (eval_episodes) chosen.eval_episodes = eval_episodes;
    const scale *sc = &chosen;
    if (rt_mkdir_p(dir) != RT_OK) return rt_cli_fail("bench");
    char *hh = path(dir, "hh_expert.jsonl"), *hh_noisy = path(dir, "hh_noisy.jsonl"), *hh_unseen = path(dir, "hh_unseen_memory.jsonl");
    char *ta = path(dir, "ta_expert.jsonl"), *ta_noisy = path(dir, "ta_noisy.jsonl"), *ta_drift = path(dir, "ta_v2_memory.jsonl");
    char *ta_docs = path(dir, "ta_expert.docs.jsonl"), *hh_sft = path(dir, "hh_sft_episodes.jsonl"), *ta_sft = path(dir, "ta_sft_episodes.jsonl");
    char *plain_eps = path(dir, "pretrain_episodes.jsonl"), *sft_eps = path(dir, "sft_episodes.jsonl");
    char *hh_val = path(dir, "hh_val_episodes.jsonl"), *ta_val = path(dir, "ta_val_episodes.jsonl"), *val_eps = path(dir, "val_episodes.jsonl");
    char *v_plain = path(dir, "val_plain.jsonl"), *v_raft_s = path(dir, "val_raft_static.jsonl"), *v_raft_e = path(dir, "val_retrace.jsonl");
    char *mem = path(dir, "mem"), *base = path(dir, "base"), *model = path(dir, "base/model");
    char *plain = path(dir, "sft_plain.jsonl"), *raft_s = path(dir, "sft_raft_static.jsonl"), *raft_e = path(dir, "sft_retrace.jsonl");
    char *out_c = path(dir, "c"), *out_d = path(dir, "d"), *out_e = path(dir, "e");
    char *res_path = path(dir, "results.json"), *report = path(dir, "report.html");
    double t0 = rt_now();
    int rc = 0;
    /* 1. experience. The SFT episodes are separate draws (own seeds) from the same training splits. */
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", sc->hh_train, "--seed", "11", "-o", hh, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", sc->hh_noisy, "--seed", "12", "--policy",
                      "noisy", "--noise", "0.5", "-o", hh_noisy, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--split", "unseen_task", "--episodes", sc->hh_unseen,
                      "--seed", "13", "-o", hh_unseen, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "toolapi", "--episodes", sc->ta_train, "--seed", "14", "-o", ta, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "toolapi", "--episodes", sc->ta_noisy, "--seed", "15", "--policy", "noisy",
                      "--noise", "0.5", "-o", ta_noisy, "--docs", ta_docs, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "toolapi", "--split", "unseen_api", "--episodes", sc->ta_drift, "--seed",
                      "16", "-o", ta_drift, "--docs", ta_docs, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", sc->hh_sft, "--seed", "17", "-o", hh_sft, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "toolapi", "--episodes", sc->ta_sft, "--seed", "18", "-o", ta_sft,
                      "--docs", ta_docs, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "household", "--episodes", sc->hh_val, "--seed", "19", "-o", hh_val, NULL);
    if (!rc) rc = run(rt_cmd_gen, "gen", "--env", "toolapi", "--episodes", sc->ta_val, "--seed", "20", "-o", ta_val,
                      "--docs", ta_docs, NULL);
    if (!rc) rc = concat(val_eps, (const char *const[]){hh_val, ta_val, NULL});
    if (!rc) rc = concat(plain_eps, (const char *const[]){hh, ta, NULL});
    if (!rc) rc = concat(sft_eps, (const char *const[]){hh_sft, ta_sft, NULL});
    if (!rc && !rt_path_exists(mem)) rc = run(rt_cmd_memory, "memory", "init", mem, "--embedder", embedder, NULL);
    if (!rc) rc = run(rt_cmd_memory, "memory", "add", mem, hh, hh_noisy, hh_unseen, ta, ta_noisy, ta_drift, ta_docs, NULL);
    /* 2. the base model, pretrained on the plain expert episodes of the training splits, or the one given
     * (linked as DIR/base/model, so every later stage reads it from the same place) */
    if (!rc && base_model) rc = link_base(base_model, base, model);
    else if (!rc) rc = run(rt_cmd_pretrain, "pretrain", "--episodes", plain_eps, "--steps", sc->pretrain_steps, "--seq", sc->seq,
                      "--batch", sc->batch, "--hidden", sc->hidden, "--layers", sc->layers, "--vocab", sc->vocab, "-o", base, NULL);
    /* 3. datasets: plain, RAFT (static similarity, docs, distractors), retrace (dynamic, reward, negatives);
     * the same three from the validation episodes, for the adapters' validation loss */
    for (int v = 0; v < 2 && !rc; v++) {
        const char *from = v ? val_eps : sft_eps;
        rc = run(rt_cmd_dataset, "dataset", "--no-retrieval", "--from", from, "--tokenizer", model, "--budget", sc->budget,
                 "-o", v ? v_plain : plain, NULL);
        if (!rc) rc = run(rt_cmd_dataset, "dataset", mem, "--from", from, "--tokenizer", model, "--static", "--retrieve", "1",
                          "--negatives", "0", "--reward-weight", "0", "--p-useful", "0.8", "--exclude-same-task",
                          "--budget", sc->budget, "-o", v ? v_raft_s : raft_s, NULL);
        if (!rc) rc = run(rt_cmd_dataset, "dataset", mem, "--from", from, "--tokenizer", model, "--dynamic", "--retrieve", "1",
                          "--negatives", "1", "--reward-weight", "0.5", "--p-useful", "0.8", "--exclude-same-task",
                          "--budget", sc->budget, "-o", v ? v_raft_e : raft_e, NULL);
    }
    /* 4. three adapters, the same recipe for each */
    const char *const train_sets[3][3] = {{plain, v_plain, out_c}, {raft_s, v_raft_s, out_d}, {raft_e, v_raft_e, out_e}};
    if (!rc) rc = train_all(dir, sc, model, train_sets);
    /* 5. evaluation: every configuration on every split */
    if (!rc) rc = eval_all(dir, sc);
    json_t *results = json_object();
    if (!rc) rc = collect(dir, results);
    if (!rc) {
        json_object_set_new(results, "scale", json_string(sc->name));
        json_object_set_new(results, "seconds", json_real(rt_now() - t0));
        if (rt_json_save(res_path, results) != RT_OK) rc = rt_cli_fail("bench");
    }
    json_decref(results);
    if (!rc && rt_report_write(dir, report) != RT_OK) rc = rt_cli_fail("bench");
    if (!rc) printf("\nresults: %s\nreport:  %s\n(%.0f s in all)\n", res_path, report, rt_now() - t0);
    char *all[] = {hh_val, ta_val, val_eps, v_plain, v_raft_s, v_raft_e, hh, hh_noisy, hh_unseen, ta, ta_noisy, ta_drift, ta_docs, hh_sft, ta_sft, plain_eps, sft_eps, mem, base,
                   model, plain, raft_s, raft_e, out_c, out_d, out_e, res_path, report};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    return rc;
}
