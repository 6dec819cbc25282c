/* retrace/agent_context.h: the context step: what a model is shown before it writes one step.
 * Retrieve (successful episodes, mined failures, docs) for the task and the steps so far, then build
 * the prompt within the token budget. The agent loop, the dataset builder and a server all take this one
 * step, so a model is trained on exactly the context it later acts in. */
#ifndef RETRACE_AGENT_CONTEXT_H
#define RETRACE_AGENT_CONTEXT_H

#include "retrace/agent.h"
#include "retrace/memory.h"
#include "retrace/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

/* What retrieval fetches and how it ranks. */
typedef struct {
    int k;                /* successful episodes retrieved */
    int negatives;        /* failed episodes mined (most similar failures) */
    double reward_weight; /* 0 = pure similarity (see docs/memory.md) */
    int dynamic;          /* 1: retrieve before every step with the task and the last key_steps steps;
                             0: once per episode, with the task */
    int key_steps;
    int docs;             /* include the docs of tools named in the task or the hits */
    int any_version;      /* 1: retrieve experience of any tool version; 0 (default): leave out episodes that
                             used a tool at another version than the one in force, and show the docs of the
                             versions in force */
} rt_retrieval_params;

rt_retrieval_params rt_retrieval_params_default(void);

/* What to retrieve for. */
typedef struct {
    const char *env;                /* only episodes of this environment (NULL: any) */
    const char *task;
    const rt_memory_step *history;  /* steps so far (the dynamic key uses the last params->key_steps) */
    int n_history;
    const char *exclude_id;         /* never this episode (the one a training example comes from) */
    const char *exclude_task;       /* nor any episode with this exact task text (the same task instance) */
    const char *avoid_task_type;    /* distractors only: no successful episode of this task type */
    const struct json_t *api_versions; /* the tool versions in force now ({"tool": version}); an episode that
                                       used one of these tools at another version is stale experience and
                                       left out. NULL or empty: any version */
} rt_retrieve_spec;

/* One retrieval's results, owned until rt_retrieved_free or the next rt_retrieve into it. */
typedef struct {
    rt_memory_results res;
    rt_memory_doc *docs;
    int n_docs;
    const char **succ, **fail, **doc_text; /* JSON / text views for rt_prompt_parts */
    const rt_memory_hit **succ_hit, **fail_hit; /* the hits those views come from (ids, task types, scores) */
    int n_succ, n_fail;
    int have;
} rt_retrieved;

rt_status rt_retrieve(rt_memory *mem, const rt_retrieval_params *p, const rt_retrieve_spec *spec, rt_retrieved *r);
void rt_retrieved_free(rt_retrieved *r);

/* The context of one step. Kept from step to step of an episode: static retrieval reuses the first
 * step's results. Zero-initialise before the first step; free with rt_agent_context_free. */
typedef struct {
    rt_retrieved retrieved;
    char *prompt;          /* this step's prompt (NULL when it does not fit the budget) */
    rt_prompt_stats stats;
    int retrieved_now;     /* 1 when this step retrieved (always at step 0; every step when dynamic) */
    double retrieval_s;    /* time this step spent retrieving */
} rt_agent_context;

/* Everything the context step needs that does not change from step to step. */
typedef struct {
    rt_memory *memory;          /* NULL: no retrieval */
    const rt_tokenizer *tok;    /* counts the budget */
    rt_retrieval_params retrieval;
    int budget_tokens;
} rt_context_config;

/* Builds the context of step spec->n_history: retrieves when there is a memory and this is the first
 * step or retrieval is dynamic, then builds the prompt (task, first observation, retrieved parts, the
 * history) within the budget. RT_ERR_ARG when the task and the last step alone exceed the budget (the
 * caller decides: the agent ends the episode, the dataset builder skips the step). */
rt_status rt_agent_context_build(const rt_context_config *cfg, const rt_retrieve_spec *spec,
                                 const char *first_observation, rt_agent_context *c);
void rt_agent_context_free(rt_agent_context *c);

/* Parts the budget policy left out of this step's prompt. */
int rt_prompt_stats_cuts(const rt_prompt_stats *ps);

#ifdef __cplusplus
}
#endif
#endif
