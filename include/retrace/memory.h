/* retrace/memory.h: the experience memory: a SQLite store of episodes and tool docs, embedders, a
 * derived HNSW index, and retrieval (reward-weighted, filtered, with mined negatives).
 *
 * A memory is a directory holding memory.db (SQLite in WAL mode, the source of truth: episodes as their
 * original JSON text, steps, docs by tool and version, one embedding blob per episode, metadata) and
 * index.hnsw (derived; checked against the store on every open and rebuilt or caught up when missing,
 * stale or corrupt). Formats, the score formula and the concurrency model are in docs/memory.md.
 *
 * Threads: one rt_memory may be shared by many searching threads and one adding thread. Processes:
 * any number of readers and one writer at a time (SQLite's write lock serialises writers). */
#ifndef RETRACE_MEMORY_H
#define RETRACE_MEMORY_H

#include "retrace/base.h"
#include "retrace/hnsw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- embedders ----
 * An embedder maps texts to L2-normalised float vectors of a fixed dimension. Its spec string names it
 * completely ("hash-ngram-v1:384"); a memory records the spec it was made with and refuses another. */

typedef struct rt_embedder rt_embedder;

typedef struct {
    const char *kind; /* "hash-ngram-v1", "bert" */
    rt_status (*embed)(rt_embedder *e, const char *const *texts, int n, float *out); /* out is (n, dim) */
    void (*destroy)(rt_embedder *e);
} rt_embedder_vtable;

struct rt_embedder {
    const rt_embedder_vtable *vt;
    char *spec; /* canonical, stored in the memory's metadata */
    int dim;
    void *impl;
};

#define RT_HASH_EMBED_DEFAULT_DIM 384
#define RT_EMBED_MAX_DIM 65536

/* "hash" (default dimension), "hash:DIM", a spec as stored ("hash-ngram-v1:DIM",
 * "bert-v1:NAME:DIM:POOLING:FINGERPRINT:PATH"), or a Hugging Face model directory of a BERT/XLM-R
 * encoder (retrace/bert.h). */
rt_status rt_embedder_open(const char *spec, rt_embedder **out);
void rt_embedder_free(rt_embedder *e);
rt_status rt_embedder_embed(rt_embedder *e, const char *const *texts, int n, float *out);
static inline int rt_embedder_dim(const rt_embedder *e) { return e->dim; }
static inline const char *rt_embedder_spec(const rt_embedder *e) { return e->spec; }

/* The built-in embedder: signed feature hashing of word unigrams, word bigrams and character 3- to
 * 5-grams (of the lowercased text), L2-normalised. Deterministic on every machine. */
rt_status rt_hash_embedder_create(int dim, rt_embedder **out);

/* A BERT/XLM-R encoder directory as an embedder; its spec is
 * bert-v1:NAME:DIM:POOLING:FINGERPRINT:ABSOLUTE_PATH, the fingerprint hashing the configuration,
 * weights, tokenizer, pooling and token limit. Opening a stored spec loads PATH and fails with
 * RT_ERR_STATE when the model there no longer has that name, dimension, pooling and fingerprint. */
rt_status rt_bert_embedder_create(const char *dir, rt_embedder **out);
rt_status rt_bert_embedder_open_spec(const char *spec, rt_embedder **out);
int rt_bert_spec_is(const char *spec);

/* ---- the retrieval key ----
 * The state text embeds "task: ..." and then, for each of the last `last_steps` steps,
 * "action: ... | observation: ...". last_steps = 0 gives the static key (task alone); a negative value
 * takes every step (up to RT_MEMORY_KEY_MAX_STEPS, the stored key of an episode). */
#define RT_MEMORY_KEY_MAX_STEPS 32

typedef struct {
    const char *thought, *action, *observation; /* any may be NULL */
} rt_memory_step;

char *rt_memory_state_text(const char *task, const rt_memory_step *steps, int n_steps, int last_steps);
/* The same from an episode's JSON text (task and steps keys). */
rt_status rt_memory_state_from_json(const char *episode_json, int last_steps, char **out);

/* ---- the store ---- */

typedef struct rt_memory rt_memory;

typedef struct {
    const char *embedder; /* spec for rt_embedder_open; default "hash" */
    int M, ef_construction, ef_search;
} rt_memory_init_params;

rt_memory_init_params rt_memory_init_params_default(void);
/* Creates the directory (if needed) and an empty memory; fails if one is already there. */
rt_status rt_memory_init(const char *dir, const rt_memory_init_params *p);

typedef enum { RT_MEMORY_READ = 0, RT_MEMORY_WRITE = 1 } rt_memory_mode;
/* Opens a memory and brings its index up to date with the store (loading, catching up, or rebuilding
 * it, and saving the result when the directory is writable). */
rt_status rt_memory_open(const char *dir, rt_memory_mode mode, rt_memory **out);
void rt_memory_close(rt_memory *m);
rt_embedder *rt_memory_embedder(rt_memory *m);
rt_hnsw *rt_memory_index(rt_memory *m);

/* ---- adding: one transaction per batch ----
 * Lines are episodes or docs (a doc has "tool", "version" and "text" and no "steps"). An episode whose
 * id is present with the same JSON is counted unchanged; with different JSON it is an error unless
 * `replace`. A bad line fails the batch (nothing of it is kept) unless `skip_bad`, which logs and counts
 * it. `where` names the line in messages ("runs.jsonl:12"). */
typedef struct {
    int skip_bad;
    int replace;
} rt_memory_add_opts;

typedef struct {
    int64_t episodes_added, episodes_unchanged, episodes_replaced;
    int64_t docs_added, docs_unchanged;
    int64_t lines_skipped;
} rt_memory_add_stats;

typedef struct rt_memory_batch rt_memory_batch;
rt_status rt_memory_batch_begin(rt_memory *m, const rt_memory_add_opts *opts, rt_memory_batch **out);
rt_status rt_memory_batch_add(rt_memory_batch *b, const char *line, const char *where);
/* Commits, then brings the index up to date and saves it. Frees the batch either way. */
rt_status rt_memory_batch_commit(rt_memory_batch *b, rt_memory_add_stats *stats);
void rt_memory_batch_abort(rt_memory_batch *b);
/* Adds every line of the files ("-" is stdin) in one batch, with a progress line on a terminal. */
rt_status rt_memory_add_files(rt_memory *m, const char *const *paths, int n_paths, const rt_memory_add_opts *opts,
                              rt_memory_add_stats *stats);

/* One episode by id: its JSON as added (free it), or RT_ERR_NOT_FOUND. */
rt_status rt_memory_episode_get(rt_memory *m, const char *id, char **json);
/* Deletes one episode in one transaction (RT_ERR_NOT_FOUND when absent); the index follows. */
rt_status rt_memory_episode_delete(rt_memory *m, const char *id);

/* ---- retrieval ----
 * score = (1 - weight) * similarity + weight * reward, similarity the cosine of the state text and the
 * episode's key, reward the episode's 0..1 reward. weight 0 is pure similarity. The `candidates` most
 * similar episodes passing the query's filters (default max(4k, 32)) are re-ranked by score.
 *
 * One meaning of search everywhere (the CLI, eval, the dataset builder, the agent): hits are successful
 * episodes ranked by score at RT_MEMORY_REWARD_WEIGHT (the agent's default); failures appear only as
 * negatives, ranked by similarity. all_outcomes = 1 asks for the mixed list on purpose. Every filter
 * (including the agent's: exclusions, tool versions in force) runs inside the search, so what is returned
 * is exactly what retrieval uses, and k hits come back whenever k episodes pass. */
#define RT_MEMORY_REWARD_WEIGHT 0.5
#define RT_MEMORY_MAX_PINS 64

typedef struct {
    int k;
    int negatives;       /* also return the N most similar failed episodes */
    double weight;       /* reward weight in [0, 1]; default RT_MEMORY_REWARD_WEIGHT */
    int ef;              /* HNSW beam width; 0 = the memory's default */
    int candidates;      /* 0 = max(4k, 32) */
    int exact;           /* 1: brute force; 0: whichever is cheaper (a scan when few pass); -1: the index */
    int all_outcomes;    /* hits of any outcome (default: successes only, unless `outcome` says) */
    const char *exclude_id;      /* never return this episode (the query's own) */
    const char *exclude_task;    /* nor any episode with exactly this task text (the same task instance) */
    const char *avoid_task_type; /* no hit of this task type (negatives may be: distractors for training) */
    /* The tool versions in force: an episode that used one of pin_tools[i] at another version than
     * pin_versions[i] (as rt_version_text writes it) is stale experience and never returned. */
    const char *const *pin_tools, *const *pin_versions;
    int n_pins;
    /* Filters; NULL means any. tool matches an episode whose api_versions has that tool, at
     * tool_version when that is set too. */
    const char *env, *outcome, *task_type, *split, *tool, *tool_version;
} rt_memory_query;

rt_memory_query rt_memory_query_default(void);

typedef struct {
    int64_t rowid;
    char *id, *env, *task, *task_type, *outcome;
    double reward;
    double similarity, score; /* score = (1 - weight) * similarity + weight * reward */
    char *json;               /* the episode as added */
} rt_memory_hit;

typedef struct {
    rt_memory_hit *hits;
    int n_hits;
    rt_memory_hit *negatives;
    int n_negatives;
    double weight;
    int64_t filtered_pool; /* episodes passing the filters (-1 when there is no filter) */
} rt_memory_results;

rt_status rt_memory_search(rt_memory *m, const char *state_text, const rt_memory_query *q, rt_memory_results *out);
void rt_memory_results_free(rt_memory_results *r);

/* ---- docs ---- */
typedef struct {
    char *tool, *version, *text, *json;
} rt_memory_doc;

/* version NULL: the newest version (compared with rt_version_cmp). RT_ERR_NOT_FOUND when absent. */
rt_status rt_memory_doc_get(rt_memory *m, const char *tool, const char *version, rt_memory_doc *out);
/* The newest doc of every tool named (as a whole word) in `text` or in the hits' api_versions. */
rt_status rt_memory_docs_for(rt_memory *m, const char *text, const rt_memory_results *r, rt_memory_doc **out, int *n_out);
/* The same, except that each of the n_pinned tools[i] is given at versions[i], the version in force
 * (none when the memory has no doc of that version), and a tool not among them (one that does not
 * exist where the agent acts, e.g. added in a later version) is left out. */
rt_status rt_memory_docs_at(rt_memory *m, const char *text, const rt_memory_results *r, const char *const *tools,
                            const char *const *versions, int n_pinned, rt_memory_doc **out, int *n_out);
void rt_memory_doc_free(rt_memory_doc *d);
void rt_memory_docs_free(rt_memory_doc *docs, int n);
/* Natural order: numeric runs compare as numbers ("1.10" > "1.9", "v2" > "v1"). */
int rt_version_cmp(const char *a, const char *b);
struct json_t;
/* A tool version from JSON as the memory stores it: a string as it is, an integer in decimal, a real
 * with %g (so 1 and "1" are the same version). Returns 0, leaving buf untouched, for any other value. */
int rt_version_text(const struct json_t *v, char *buf, size_t cap);

/* ---- maintenance ---- */
typedef struct {
    int64_t episodes, successes, failures, steps, docs, tools;
    int64_t index_vectors;
    size_t index_bytes, db_bytes;
    char embedder[64];
    int dim, format_version;
    uint64_t generation;
} rt_memory_stats;

rt_status rt_memory_get_stats(rt_memory *m, rt_memory_stats *out);
/* SQLite's integrity_check, then the index against the store (same labels, same vectors, valid graph).
 * Returns RT_ERR_STATE naming the first disagreement. */
rt_status rt_memory_check(rt_memory *m);
/* Rebuilds the index from the store and saves it. */
rt_status rt_memory_rebuild(rt_memory *m);
/* Writes every episode (in insertion order) and then every doc as the JSON lines that were added. */
rt_status rt_memory_export(rt_memory *m, FILE *out, int64_t *n_written);

#ifdef __cplusplus
}
#endif
#endif
