/* schedule.c: learning-rate schedules with linear warmup, as transformers' LambdaLR schedules compute them
 * (get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup with num_cycles 0.5,
 * get_cosine_with_min_lr_schedule_with_warmup, get_constant_schedule_with_warmup).
 *
 * The factor is computed in double, as Python does, and multiplied by the peak rate; only the result is
 * rounded to float. */
#include "retrace/optim.h"

#include <math.h>

/* warmup_frac is a float, so 0.1f * 100 is 10.0000001 and a plain ceil would add a whole warmup step
 * that Python's 0.1 * 100 == 10.0 does not. A product this close to an integer is that integer. */
#define WARMUP_SNAP_REL 1e-6

int64_t rt_lr_warmup_steps(const rt_lr_schedule *s) {
    if (!(s->warmup_frac > 0.0f) || s->total_steps <= 0) return 0;
    double x = (double)s->warmup_frac * (double)s->total_steps;
    double nearest = nearbyint(x);
    if (fabs(x - nearest) <= WARMUP_SNAP_REL * fmax(1.0, x)) return (int64_t)nearest;
    return (int64_t)ceil(x);
}

/* The multiplier of the peak rate after warmup, before the min_lr_ratio floor. */
static double decay_factor(rt_decay_kind kind, int64_t step, int64_t warmup, int64_t total) {
    double span = (double)(total - warmup > 1 ? total - warmup : 1);
    switch (kind) {
    case RT_DECAY_LINEAR: {
        double f = (double)(total - step) / span;
        return f > 0.0 ? f : 0.0;
    }
    case RT_DECAY_COSINE: {
        /* math.pi * num_cycles * 2.0 * progress with num_cycles 0.5: the factors of 2 are exact. */
        double progress = (double)(step - warmup) / span;
        return 0.5 * (1.0 + cos(M_PI * progress));
    }
    case RT_DECAY_CONSTANT:
    default:
        return 1.0;
    }
}

float rt_lr_at(const rt_lr_schedule *s, int64_t step) {
    int64_t warmup = rt_lr_warmup_steps(s);
    double factor;
    if (step < warmup) {
        factor = (double)step / (double)(warmup > 1 ? warmup : 1);
    } else {
        factor = decay_factor(s->decay, step, warmup, s->total_steps);
        /* transformers' min_lr_rate: factor * (1 - r) + r, then max(0, .); with r == 0 it is the plain
         * schedule bit for bit. A constant schedule has nothing to floor. */
        if (s->decay != RT_DECAY_CONSTANT) {
            double r = s->min_lr_ratio;
            factor = factor * (1.0 - r) + r;
        }
        if (factor < 0.0) factor = 0.0;
    }
    return (float)((double)s->lr * factor);
}
