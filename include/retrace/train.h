/* retrace/train.h: the training loop shared by `retrace pretrain` and LoRA SFT.
 *
 * One optimizer step = `accum` micro-batches of (batch x seq) tokens, gradients summed with weight
 * 1/accum, clipped by global norm, then AdamW at the scheduled learning rate. A checkpoint holds the
 * trainable parameters, the optimizer moments and step, and the data RNG, so a resumed run continues
 * bit for bit (same losses, same final weights) on the same build and thread count. */
#ifndef RETRACE_TRAIN_H
#define RETRACE_TRAIN_H

#include "retrace/model.h"
#include "retrace/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills ids and targets for micro-batch number `index` (0, 1, ... over the whole run, counting
 * accumulation steps). The buffers hold B rows of at most T tokens; the function sets *T_used (<= T)
 * and writes rows of that length. Any randomness must come from `index` or `rng` so that a resumed
 * run continues the same data order. */
typedef rt_status (*rt_batch_fn)(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                                 int *T_used);

/* Mean loss on held-out data with the current weights (forward passes only); the loop turns dropout
 * off around it. */
typedef rt_status (*rt_eval_fn)(void *ctx, rt_model *m, float *loss);

typedef struct {
    int64_t steps;       /* optimizer steps */
    int batch, seq;      /* micro-batch shape */
    int accum;           /* micro-batches per step */
    rt_adamw_params adamw;
    float warmup_frac;
    rt_decay_kind decay;
    float min_lr_ratio;
    float clip;          /* global gradient-norm clip, 0 = off */
    uint64_t seed;       /* data order and dropout */
    int log_every;       /* steps between loss-log lines (0 = never) */
    int ckpt_every;      /* steps between checkpoints (0 = only at the end) */
    const char *ckpt_path;  /* NULL = no checkpoints */
    const char *resume_path; /* a checkpoint to continue from, or NULL */
    const char *loss_log_path; /* JSON lines {"step","loss","lr","grad_norm","tokens_per_s"}, or NULL */
    rt_eval_fn eval;     /* validation, or NULL */
    void *eval_ctx;
    int eval_every;      /* steps between validations (the last step is always validated) */
    int64_t stop_at;     /* end this run after this many total steps (a checkpoint is written), 0 = at `steps`;
                          * the schedule still spans `steps`, so a later resume continues the same run */
} rt_train_params;

rt_train_params rt_train_params_default(void);


typedef struct {
    float first_loss, last_loss; /* mean loss of the first and last step of this run */
    float val_loss;              /* last validation loss (NAN when none) */
    int64_t steps_done;          /* total optimizer steps, including those before a resume */
    double tokens_per_s;
} rt_train_result;

/* Trains m's trainable parameters (rt_model_train_setup must have been called). */
rt_status rt_train_run(rt_model *m, const rt_train_params *p, rt_batch_fn next_batch, void *ctx, rt_train_result *out);

/* A built-in corpus for the demo and tests: household-style agent episodes ("task: ... think: ...
 * act: ... obs: ...") generated from templates, deterministic for a seed, about `bytes` long. */
char *rt_builtin_corpus(uint64_t seed, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
