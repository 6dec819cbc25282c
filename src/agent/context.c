/* context.c: the context step: retrieve (once or every step), then build the prompt within the budget.
 * One function for the agent loop, the dataset builder and a server, so training examples carry exactly
 * the context the agent later sees. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

rt_retrieval_params rt_retrieval_params_default(void) {
    return (rt_retrieval_params){.k = 2, .negatives = 1, .reward_weight = RT_MEMORY_REWARD_WEIGHT, .dynamic = 1, .key_steps = 3, .docs = 1};
}

int rt_prompt_stats_cuts(const rt_prompt_stats *ps) {
    return ps->dropped_failures + ps->dropped_successes + ps->dropped_docs + ps->dropped_thoughts + ps->dropped_history;
}

rt_status rt_agent_context_build(const rt_context_config *cfg, const rt_retrieve_spec *spec,
                                 const char *first_observation, rt_agent_context *c) {
    free(c->prompt);
    c->prompt = NULL;
    c->retrieved_now = 0;
    c->retrieval_s = 0;
    if (cfg->memory && (spec->n_history == 0 || cfg->retrieval.dynamic)) {
        double t0 = rt_now();
        rt_status s = rt_retrieve(cfg->memory, &cfg->retrieval, spec, &c->retrieved);
        c->retrieval_s = rt_now() - t0;
        c->retrieved_now = 1;
        RT_TRY(s);
    }
    const rt_retrieved *r = &c->retrieved;
    rt_prompt_parts parts = {.task = spec->task, .successes = r->succ, .n_successes = r->n_succ,
                             .failures = r->fail, .n_failures = r->n_fail, .docs = r->doc_text, .n_docs = r->n_docs,
                             .history = spec->history, .n_history = spec->n_history,
                             .first_observation = first_observation};
    return rt_prompt_build(cfg->tok, &parts, cfg->budget_tokens, &c->prompt, &c->stats);
}

void rt_agent_context_free(rt_agent_context *c) {
    rt_retrieved_free(&c->retrieved);
    free(c->prompt);
    memset(c, 0, sizeof *c);
}
