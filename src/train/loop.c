/* loop.c: the training loop: micro-batches, accumulation, clipping, schedule, AdamW, logging, checkpoints. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/train.h"

rt_train_params rt_train_params_default(void) {
    rt_train_params p = {0};
    p.steps = 100;
    p.batch = 4;
    p.seq = 128;
    p.accum = 1;
    p.adamw = rt_adamw_params_default();
    p.warmup_frac = 0.1f;
    p.decay = RT_DECAY_LINEAR;
    p.clip = 1.0f;
    p.log_every = 10;
    return p;
}

static rt_status save_ckpt(const rt_train_params *p, const rt_adamw *opt, const rt_rng *rng) {
    char extra[128];
    snprintf(extra, sizeof extra, "{\"seed\": %" PRIu64 ", \"steps\": %" PRId64 "}", p->seed, p->steps);
    return rt_checkpoint_save(p->ckpt_path, opt, rng, extra);
}

static void log_line(FILE *fp, int64_t step, float loss, float lr, float norm, double tps) {
    if (!fp) return;
    fprintf(fp, "{\"step\": %" PRId64 ", \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.6f, \"tokens_per_s\": %.1f}\n",
            step, loss, lr, norm, tps);
    fflush(fp);
}

static rt_status validate(rt_model *m, const rt_train_params *p, int64_t step, FILE *fp, float *val) {
    int was_training = m->training;
    m->training = 0;
    rt_status s = p->eval(p->eval_ctx, m, val);
    m->training = was_training;
    RT_TRY(s);
    if (fp) {
        fprintf(fp, "{\"step\": %" PRId64 ", \"val_loss\": %.6f}\n", step, *val);
        fflush(fp);
    }
    rt_info("step %" PRId64 "  validation loss %.4f", step, *val);
    return RT_OK;
}

rt_status rt_train_run(rt_model *m, const rt_train_params *p, rt_batch_fn next_batch, void *ctx, rt_train_result *out) {
    memset(out, 0, sizeof *out);
    out->val_loss = NAN;
    if (!m->param_list) return rt_fail(RT_ERR_STATE, "train: call rt_model_train_setup first");
    if (p->steps <= 0 || p->batch <= 0 || p->seq <= 0 || p->accum <= 0)
        return rt_fail(RT_ERR_ARG, "train: steps, batch, seq and accum must be positive");
    rt_adamw opt;
    RT_TRY(rt_adamw_init(&opt, m->param_list, m->n_param_list, p->adamw));
    rt_rng rng;
    rt_rng_seed(&rng, p->seed);
    m->dropout_seed = p->seed * 0x9E3779B97F4A7C15ull + 1;
    rt_status s = RT_OK;
    if (p->resume_path) {
        char *extra = NULL;
        s = rt_checkpoint_load(p->resume_path, &opt, &rng, &extra);
        free(extra);
        if (s == RT_OK && opt.step >= p->steps)
            s = rt_fail(RT_ERR_ARG, "%s: the checkpoint is at step %" PRId64 ", nothing left of %" PRId64 " steps",
                        p->resume_path, opt.step, p->steps);
        if (s != RT_OK) {
            rt_adamw_free(&opt);
            return s;
        }
        rt_info("resumed from %s at step %" PRId64, p->resume_path, opt.step);
    }
    FILE *log_fp = NULL;
    if (p->loss_log_path && !(log_fp = fopen(p->loss_log_path, p->resume_path ? "a" : "w"))) {
        rt_adamw_free(&opt);
        return rt_fail(RT_ERR_IO, "%s: cannot open the loss log", p->loss_log_path);
    }
    size_t n = (size_t)p->batch * p->seq;
    int32_t *ids = rt_malloc(sizeof(int32_t) * n), *targets = rt_malloc(sizeof(int32_t) * n);
    rt_lr_schedule sched = {p->adamw.lr, p->steps, p->warmup_frac, p->decay, p->min_lr_ratio};
    int64_t end = (p->stop_at > 0 && p->stop_at < p->steps) ? p->stop_at : p->steps;
    rt_progress prog;
    rt_progress_begin(&prog, "train", end);
    double t0 = rt_now();
    int64_t first_step = opt.step, tokens = 0;
    while (s == RT_OK && opt.step < end) {
        rt_params_zero_grad(m->param_list, m->n_param_list);
        double loss_sum = 0.0;
        for (int micro = 0; micro < p->accum && s == RT_OK; micro++) {
            float loss = 0.0f;
            /* Dropout masks follow the step, so a resumed run draws the same ones. */
            m->forward_count = opt.step * p->accum + micro;
            int T = p->seq;
            s = next_batch(ctx, &rng, opt.step * p->accum + micro, ids, targets, p->batch, p->seq, &T);
            if (s == RT_OK && (T <= 0 || T > p->seq))
                s = rt_fail(RT_ERR_STATE, "train: the batch function returned %d tokens per row (1..%d)", T, p->seq);
            if (s == RT_OK) s = rt_model_forward(m, ids, targets, p->batch, T, &loss);
            if (s == RT_OK) s = rt_model_backward(m, 1.0f / (float)p->accum);
            loss_sum += loss;
            tokens += (int64_t)p->batch * T;
        }
        if (s != RT_OK) break;
        float norm = rt_params_clip_grad_norm(m->param_list, m->n_param_list, p->clip);
        float lr = rt_lr_at(&sched, opt.step);
        rt_adamw_step(&opt, lr);
        float loss = (float)(loss_sum / p->accum);
        if (opt.step == first_step + 1) out->first_loss = loss;
        out->last_loss = loss;
        double tps = (double)tokens / (rt_now() - t0 + 1e-9);
        log_line(log_fp, opt.step, loss, lr, norm, tps);
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f  lr %.2e  %.0f tok/s", loss, lr, tps);
        rt_progress_update(&prog, opt.step, extra);
        if (p->log_every > 0 && (opt.step % p->log_every == 0 || opt.step == p->steps) && !prog.enabled)
            rt_info("step %" PRId64 "/%" PRId64 "  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s", opt.step, p->steps,
                    loss, lr, norm, tps);
        if (s == RT_OK && p->eval && ((p->eval_every > 0 && opt.step % p->eval_every == 0) || opt.step == end))
            s = validate(m, p, opt.step, log_fp, &out->val_loss);
        if (s == RT_OK && p->ckpt_path && ((p->ckpt_every > 0 && opt.step % p->ckpt_every == 0) || opt.step == end))
            s = save_ckpt(p, &opt, &rng);
    }
    rt_progress_end(&prog);
    out->steps_done = opt.step;
    out->tokens_per_s = (double)tokens / (rt_now() - t0 + 1e-9);
    if (log_fp) fclose(log_fp);
    free(ids);
    free(targets);
    rt_adamw_free(&opt);
    return s;
}
