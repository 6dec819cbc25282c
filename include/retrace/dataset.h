/* retrace/dataset.h: training data from experience.
 *
 * RAFT-style SFT examples: one per step of every successful episode, whose prompt is what the agent would
 * see at that step (retrieved successes, mined failures, docs, the episode so far: the agent's own
 * context step) and whose completion is the step itself. A step marked "slip": true (a deliberate
 * mistake of a noisy policy) is never a completion: it stays in the history of the steps after it.
 *
 * Pretraining data: episodes rendered as the agent's prompts show them, tokenized into one stream, and
 * windows of it that start where an episode starts. */
#ifndef RETRACE_DATASET_H
#define RETRACE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "retrace/agent_context.h"
#include "retrace/episode.h"
#include "retrace/memory.h"
#include "retrace/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    rt_retrieval_params retrieval; /* k (2), negatives (1), reward weight, static/dynamic, docs, versions */
    int budget_tokens;             /* prompt budget (1024), cut by the documented policy (docs/agent.md) */
    double p_useful;               /* share of examples whose retrieval may hold useful episodes (0.8); the
                                      rest get distractors only: no success of the same task type (RAFT) */
    uint64_t seed;                 /* the useful/distractor draw (1) */
    int exclude_same_task;         /* also never retrieve an episode with the same task text */
} rt_dataset_params;

rt_dataset_params rt_dataset_params_default(void);

typedef struct {
    size_t episodes, skipped_failures, examples, useful, cut_parts, over_budget, slips;
} rt_dataset_stats;

/* One example: a JSON object {"id", "prompt", "completion", "useful", "task_type"}. */
typedef rt_status (*rt_dataset_example_fn)(void *ctx, const struct json_t *example);

/* The examples of one episode (skipped, counted in st, unless it succeeded). mem NULL: plain examples
 * (task and history only). rng draws useful/distractor per step, in step order. */
rt_status rt_dataset_episode_examples(const rt_dataset_params *p, rt_memory *mem, const rt_tokenizer *tok,
                                      const rt_episode *ep, rt_rng *rng, rt_dataset_example_fn emit, void *ctx,
                                      rt_dataset_stats *st);

/* Reads episodes (JSON lines; doc lines skipped) from from_path and writes the examples to out_path
 * (JSON lines, atomically). Errors name the line. */
rt_status rt_dataset_build(const rt_dataset_params *p, rt_memory *mem, const rt_tokenizer *tok, const char *from_path,
                           const char *out_path, rt_dataset_stats *st);

/* ---- pretraining ---- */

/* The episodes of a JSON-lines file as one text, each as rt_episode_render shows it and followed by a
 * blank line (doc lines skipped), and the byte offset where each starts. */
rt_status rt_corpus_render_episodes(const char *path, char **text, size_t *len, size_t **offsets, size_t *n_episodes);

/* A token stream and where windows of it may start. */
typedef struct {
    rt_tok_ids stream;
    size_t *starts;   /* token offset of each episode start; NULL: windows start anywhere */
    size_t n_starts;  /* the starts that leave room for a full window (start + seq < stream.n) */
    size_t n_episodes;
} rt_windows;

/* Tokenizes text into w->stream: whole for a plain text (offsets NULL), or episode by episode (so each
 * starts on a token boundary), keeping the starts that leave room for a window of seq + 1 tokens. */
rt_status rt_windows_init(rt_windows *w, const rt_tokenizer *tok, const char *text, size_t len, const size_t *offsets,
                          size_t n_episodes, int seq);
void rt_windows_free(rt_windows *w);

/* rt_train_run's batch function over an rt_windows (ctx): B random windows of T tokens and their
 * next-token targets. For episodes every window starts where an episode starts. */
rt_status rt_windows_next(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                          int *T_used);

#ifdef __cplusplus
}
#endif
#endif
