/* retrace/agent_loop.h: an agent that acts in an environment with a model, retrieving experience from
 * memory once per episode (static) or before every step (dynamic). */
#ifndef RETRACE_AGENT_LOOP_H
#define RETRACE_AGENT_LOOP_H

#include "retrace/agent.h"
#include "retrace/env.h"
#include "retrace/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int budget_tokens;    /* prompt budget in tokens (the rt_prompt_build policy cuts to it) */
    int max_new_tokens;   /* per step */
    float temperature;    /* 0 = greedy */
    float top_p;
    uint64_t seed;
    int k;                /* successful episodes retrieved */
    int negatives;        /* failed episodes mined (most similar failures) */
    double reward_weight; /* 0 = pure similarity (see docs/memory.md) */
    int dynamic;          /* 1: retrieve before every step with the task and the last key_steps steps */
    int key_steps;
    int docs;             /* include the docs of tools named in the task or the hits */
    int chat;             /* wrap the prompt in the tokenizer's chat template (instruct models) */
    int resample;         /* loop breaking: an action equal to one of the last two is decoded again with
                             sampling (resample_temperature, seeded) up to this many times; 0 = off */
    float resample_temperature;
    int any_version;      /* 1: retrieve experience of any tool version; 0 (default): leave out episodes that
                             used a tool at another version than the one in force, and show the docs of the
                             versions in force */
} rt_agent_params;

rt_agent_params rt_agent_params_default(void);

typedef struct {
    rt_model *model;
    const rt_tokenizer *tok;
    rt_memory *memory; /* NULL: no retrieval */
    rt_agent_params params;
} rt_agent;

typedef struct {
    int steps;
    int invalid_actions;
    int retrievals;
    int prompt_cuts;     /* parts the budget policy left out, summed over the steps */
    int resampled;       /* steps whose first action repeated a recent one and were decoded again */
    int retrieved_steps; /* steps whose prompt had at least one retrieved successful episode */
    int same_type_steps; /* of those, steps whose most relevant one has the episode's own task type */
    double retrieval_s, decode_s;
} rt_agent_stats;

/* Runs one episode from `seed` and returns it as a JSON object in the episode format (meta holds the
 * seed, "policy": "agent", the end reason, the first observation, the invalid-action count and the
 * retrieval mode). With a memory every step also records what its prompt was given to retrieve:
 * "retrieved": {"successes": [{"id", "task_type", "score"}...], "failures": [...]}, most relevant first. An episode whose task and last step no longer fit the prompt budget ends there as a
 * failure with end reason "context_overflow". An environment error ends the call with that error. */
rt_status rt_agent_run_episode(rt_agent *a, rt_env *env, uint64_t seed, const char *id, struct json_t **episode,
                               rt_agent_stats *stats);

/* Aggregate results of an evaluation run. */
typedef struct {
    int episodes, successes;
    double success_rate, ci_low, ci_high; /* 95% Wilson score interval */
    double mean_steps;
    double invalid_rate;                  /* invalid actions per step */
    double mean_reward;
    double retrieval_s, decode_s;         /* totals */
    double same_type_rate;                /* steps whose top retrieved episode has the task's own type, of the
                                             steps with one; -1 without retrieval */
} rt_eval_summary;

/* The Wilson score interval of k successes in n trials at z (1.96 for 95%). n = 0 gives [0, 1]. */
void rt_wilson_interval(int k, int n, double z, double *low, double *high);

#ifdef __cplusplus
}
#endif
#endif
