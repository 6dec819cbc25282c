/* retrace/sft.h: supervised fine-tuning data: JSON lines of {"prompt": ..., "completion": ...}
 * tokenized with the model's tokenizer, the loss taken on the completion only. TRL's other row kinds are
 * read too: {"text"} (loss on every token) and {"messages": [{"role", "content"}, ...]} (the chat
 * template's rendering, loss on the assistant turns); those are cut at the end to max_len, as TRL cuts.
 *
 * Each example becomes [BOS] prompt completion [EOS] (BOS when the tokenizer config names one, EOS
 * likewise); the prompt and the completion are tokenized separately, so the boundary is exact. An
 * example longer than max_len keeps its completion and loses the START of its prompt (the oldest
 * context is cut first); one whose completion alone does not fit is dropped. Both are counted in the
 * stats and reported, never silent. */
#ifndef RETRACE_SFT_H
#define RETRACE_SFT_H

#include "retrace/model.h"
#include "retrace/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int max_len;   /* tokens per example, at most */
    int add_bos;   /* prepend the tokenizer's BOS when it has one */
    int add_eos;   /* append the tokenizer's EOS when it has one (and learn it) */
    int chat;      /* the prompt goes in a user message of the tokenizer's chat template, with the
                      assistant's generation prompt after it (as `retrace eval --chat` shows it); the
                      template brings its own BOS, so add_bos is not applied */
} rt_sft_params;

rt_sft_params rt_sft_params_default(void); /* max_len 1024, BOS and EOS on */

typedef struct {
    size_t lines;        /* examples read */
    size_t kept;
    size_t truncated;    /* prompt cut from the left to fit */
    size_t dropped;      /* completion alone longer than max_len */
    size_t tokens;       /* total tokens kept */
    size_t target_tokens;
} rt_sft_stats;

typedef struct rt_sft_data rt_sft_data;

/* Reads and tokenizes a JSON-lines file; an error names the file and line. */
rt_status rt_sft_load(const char *path, const rt_tokenizer *tok, const rt_sft_params *p, rt_sft_data **out,
                      rt_sft_stats *stats);
void rt_sft_free(rt_sft_data *d);
size_t rt_sft_count(const rt_sft_data *d);
/* Example i: ids and mask (1 on tokens that are predicted targets) of length *len. */
void rt_sft_example(const rt_sft_data *d, size_t i, const int32_t **ids, const int32_t **mask, int *len);

/* A batch of examples for training: rows padded (with id 0 and ignored targets) to the longest in the
 * batch. Micro-batch `index` takes examples index*B .. index*B+B-1 of an endless stream that visits
 * every example once per epoch in an order shuffled by (seed, epoch): the same index always gives the
 * same batch, which makes resuming exact. Returns the row length in *T_used. */
typedef struct {
    const rt_sft_data *data;
    uint64_t seed;
    int64_t cached_epoch; /* the permutation below belongs to this epoch (-1: none) */
    size_t *perm;
} rt_sft_sampler;

void rt_sft_sampler_init(rt_sft_sampler *s, const rt_sft_data *d, uint64_t seed);
void rt_sft_sampler_free(rt_sft_sampler *s);
/* An rt_batch_fn over an rt_sft_sampler (ctx). */
rt_status rt_sft_next_batch(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                            int *T_used);
/* Mean token loss of the model over every example of d (forward passes in batches of `batch`). */
rt_status rt_sft_eval_loss(const rt_sft_data *d, rt_model *m, int batch, float *loss);

#ifdef __cplusplus
}
#endif
#endif
