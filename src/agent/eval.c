/* eval.c: the evaluation loop: the agent on a run of seeded episodes of an environment split, and the
 * summary `retrace eval` and `retrace bench` report (success with its 95% Wilson interval, mean steps,
 * invalid-action rate, mean reward, retrieval quality, time). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_internal.h"

#define EVAL_DEFAULT_SEED 1000003
#define WILSON_Z_95 1.96

rt_eval_params rt_eval_params_default(void) {
    return (rt_eval_params){.episodes = 20, .seed = EVAL_DEFAULT_SEED, .split = "train"};
}

void rt_eval_summary_add(rt_eval_summary *s, const json_t *ep, const rt_agent_stats *st) {
    s->episodes++;
    s->successes += rt_episode_succeeded(ep);
    s->reward += json_number_value(json_object_get(ep, "reward"));
    s->steps += st->steps, s->invalid_actions += st->invalid_actions;
    s->retrieved_steps += st->retrieved_steps, s->same_type_steps += st->same_type_steps;
    s->retrieval_s += st->retrieval_s, s->decode_s += st->decode_s;
}

void rt_eval_summary_finish(rt_eval_summary *s) {
    int n = s->episodes > 0 ? s->episodes : 1;
    s->success_rate = (double)s->successes / n;
    rt_wilson_interval(s->successes, s->episodes, WILSON_Z_95, &s->ci_low, &s->ci_high);
    s->mean_steps = s->steps / n;
    s->invalid_rate = s->steps > 0 ? s->invalid_actions / s->steps : 0;
    s->mean_reward = s->reward / n;
    s->same_type_rate = s->retrieved_steps > 0 ? s->same_type_steps / s->retrieved_steps : -1;
}

rt_status rt_eval_run(rt_agent *a, rt_env *env, const rt_eval_params *p, rt_eval_episode_fn on_episode, void *ctx,
                      rt_eval_summary *sum) {
    memset(sum, 0, sizeof *sum);
    rt_status s = RT_OK;
    for (int i = 0; s == RT_OK && i < p->episodes; i++) {
        char id[96];
        snprintf(id, sizeof id, "eval-%s-s%llu-%06d", p->split ? p->split : "train", (unsigned long long)p->seed, i);
        json_t *ep;
        rt_agent_stats st;
        s = rt_agent_run_episode(a, env, rt_env_episode_seed(p->seed, (uint64_t)i), id, &ep, &st);
        if (s != RT_OK) break;
        rt_eval_summary_add(sum, ep, &st);
        if (on_episode) s = on_episode(ctx, ep, sum);
        json_decref(ep);
    }
    if (s == RT_OK) rt_eval_summary_finish(sum);
    return s;
}
