/* retrace/optim.h: AdamW, learning-rate schedules, gradient clipping, checkpoint and resume.
 *
 * The optimizer sees parameters as a list of flat float buffers with their gradients, whatever model
 * they come from (LoRA adapters, a whole tiny model). The update is PyTorch's torch.optim.AdamW
 * (decoupled weight decay, bias correction) step for step, so losses match the reference.
 *
 * A training step is: rt_params_zero_grad; for each of `accum` micro-batches, run backward adding
 * (1/accum) * d(loss)/d(param) into the grad buffers (a sum of scaled gradients, as transformers' Trainer
 * divides each micro-batch loss by the accumulation steps); rt_params_clip_grad_norm; then
 * rt_adamw_step(opt, rt_lr_at(&schedule, opt->step)). Gradient accumulation needs nothing from here.
 * Threads: the update and the norm are deterministic for any OpenMP thread count. */
#ifndef RETRACE_OPTIM_H
#define RETRACE_OPTIM_H

#include "retrace/base.h"
#include "retrace/tensor.h" /* rt_param */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float lr;
    float beta1, beta2;
    float eps;
    float weight_decay;
} rt_adamw_params;

rt_adamw_params rt_adamw_params_default(void); /* lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0.01 */
/* RT_ERR_ARG naming the first value out of range (lr, eps, weight_decay >= 0; betas in [0, 1)). */
rt_status rt_adamw_params_check(const rt_adamw_params *p);

typedef struct {
    rt_adamw_params p;
    rt_param *params; /* borrowed */
    int n_params;
    float **m, **v;   /* first and second moments, one buffer per parameter */
    int64_t step;     /* number of updates taken */
} rt_adamw;

rt_status rt_adamw_init(rt_adamw *opt, rt_param *params, int n_params, rt_adamw_params p);
void rt_adamw_free(rt_adamw *opt);
/* One update at learning rate `lr` (the schedule's value for this step). */
void rt_adamw_step(rt_adamw *opt, float lr);

/* Sets every gradient to zero. */
void rt_params_zero_grad(rt_param *params, int n_params);
/* Global L2 norm of all gradients; when max_norm > 0 and the norm exceeds it, scales every gradient by
 * max_norm / (norm + 1e-6) as torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping. */
float rt_params_clip_grad_norm(rt_param *params, int n_params, float max_norm);

typedef enum { RT_DECAY_CONSTANT = 0, RT_DECAY_LINEAR = 1, RT_DECAY_COSINE = 2 } rt_decay_kind;

typedef struct {
    float lr;            /* peak learning rate */
    int64_t total_steps;
    float warmup_frac;   /* linear warmup over ceil(warmup_frac * total_steps) steps */
    rt_decay_kind decay; /* after warmup, down to min_lr_ratio * lr at the last step */
    float min_lr_ratio;
} rt_lr_schedule;

/* The learning rate for optimizer step `step` (0-based), as transformers' get_linear_schedule_with_warmup
 * and get_cosine_schedule_with_warmup compute it. */
float rt_lr_at(const rt_lr_schedule *s, int64_t step);
/* The number of warmup steps, ceil(warmup_frac * total_steps), where a product within float rounding of
 * an integer counts as that integer (0.1f * 100 is 10 steps, as Python's 0.1 * 100 is). */
int64_t rt_lr_warmup_steps(const rt_lr_schedule *s);

/* Checkpoint: parameters, optimizer moments and step, the RNG, and an opaque caller blob (data cursor,
 * schedule), in one safetensors file written atomically, so that resuming continues bit for bit. */
/* The layout is in docs/checkpoints.md; rng and extra_json may be NULL (then they are not saved). */
rt_status rt_checkpoint_save(const char *path, const rt_adamw *opt, const rt_rng *rng, const char *extra_json);
/* Loads into the parameters and optimizer already set up with the same names and sizes; a mismatch names
 * the tensor. *extra_json is a newly allocated copy of what was saved (free it), or NULL. Restores the
 * parameters, both moments, opt->step and opt->p (the saved hyperparameters), and *rng when rng is not
 * NULL. The whole file is checked first (names, sizes, per-tensor checksums), so on any error nothing is
 * modified. */
rt_status rt_checkpoint_load(const char *path, rt_adamw *opt, rt_rng *rng, char **extra_json);

#ifdef __cplusplus
}
#endif
#endif
