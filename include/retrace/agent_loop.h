/* retrace/agent_loop.h: an agent that acts in an environment with a model, retrieving experience from
 * memory once per episode (static) or before every step (dynamic). */
#ifndef RETRACE_AGENT_LOOP_H
#define RETRACE_AGENT_LOOP_H

#include "retrace/agent.h"
#include "retrace/agent_context.h"
#include "retrace/env.h"
#include "retrace/model.h"
#include "retrace/stats.h" /* rt_wilson_interval, which the summary uses */

#ifdef __cplusplus
extern "C" {
#endif

/* How the decoder writes one step. */
typedef struct {
    int max_new_tokens;   /* per step */
    float temperature;    /* 0 = greedy */
    float top_p;
    uint64_t seed;
    int chat;             /* wrap the prompt in the tokenizer's chat template (instruct models) */
} rt_decoding_params;

rt_decoding_params rt_decoding_params_default(void);

/* Loop breaking: an action equal to one of the last two is decoded again with sampling. */
typedef struct {
    int resample;               /* up to this many times (seeded by episode, step and attempt); 0 = off */
    float resample_temperature;
} rt_loop_breaking_params;

rt_loop_breaking_params rt_loop_breaking_params_default(void);

typedef struct {
    int budget_tokens;                 /* prompt budget in tokens (the rt_prompt_build policy cuts to it) */
    rt_retrieval_params retrieval;     /* what the context step retrieves (agent_context.h) */
    rt_decoding_params decoding;
    rt_loop_breaking_params loop_breaking;
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

/* The same episode one step at a time (rt_agent_run_episode is begin, step until done, finish), for
 * callers that interleave episodes or decode elsewhere: rt_agent_episode_prompt gives the next step's
 * prompt (NULL once the episode is over, e.g. when the prompt no longer fits the budget) and
 * rt_agent_episode_act takes the model's output for it; rt_agent_episode_step does both with the agent's
 * model and its loop breaking. rt_agent_episode_finish returns the episode and frees the state. */
typedef struct rt_agent_episode rt_agent_episode;

rt_status rt_agent_episode_begin(rt_agent *a, rt_env *env, uint64_t seed, const char *id, rt_agent_episode **out);
int rt_agent_episode_done(const rt_agent_episode *e);
rt_status rt_agent_episode_prompt(rt_agent_episode *e, const char **prompt);
rt_status rt_agent_episode_act(rt_agent_episode *e, const char *generated);
rt_status rt_agent_episode_step(rt_agent_episode *e);
rt_status rt_agent_episode_finish(rt_agent_episode *e, struct json_t **episode, rt_agent_stats *stats);
void rt_agent_episode_free(rt_agent_episode *e);

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
    /* the sums the rates come from */
    double steps, invalid_actions, reward, retrieved_steps, same_type_steps;
} rt_eval_summary;

/* Adds one episode (its JSON and the loop's stats) to the sums; rt_eval_summary_finish computes the
 * rates and the interval from them. */
void rt_eval_summary_add(rt_eval_summary *s, const struct json_t *episode, const rt_agent_stats *st);
void rt_eval_summary_finish(rt_eval_summary *s);

typedef struct {
    int episodes;      /* 20 */
    uint64_t seed;     /* the run seed: episode i runs from rt_env_episode_seed(seed, i) (default 1000003, far
                          from gen's default, so evaluation episodes are not the ones gen collected) */
    const char *split; /* in the episode ids: "eval-<split>-s<seed>-<i, 6 digits>" (default "train") */
} rt_eval_params;

rt_eval_params rt_eval_params_default(void);

/* Called after each episode with the episode and the summary so far (not finished); a non-OK status
 * stops the run with it. */
typedef rt_status (*rt_eval_episode_fn)(void *ctx, const struct json_t *episode, const rt_eval_summary *so_far);

/* Runs the agent on p->episodes episodes of env and fills the finished summary. */
rt_status rt_eval_run(rt_agent *a, rt_env *env, const rt_eval_params *p, rt_eval_episode_fn on_episode, void *ctx,
                      rt_eval_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
