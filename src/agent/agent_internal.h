/* agent_internal.h: retrieval shared by the agent loop and the dataset builder, so that training
 * examples are built from exactly the context the agent will later see. */
#ifndef RT_AGENT_INTERNAL_H
#define RT_AGENT_INTERNAL_H

#include <jansson.h>

#include "retrace/agent_loop.h"

/* What to retrieve for. */
typedef struct {
    const char *env;                /* only episodes of this environment (NULL: any) */
    const char *task;
    const rt_memory_step *history;  /* steps so far (the dynamic key uses the last params->key_steps) */
    int n_history;
    const char *exclude_id;         /* never this episode (the one a training example comes from) */
    const char *exclude_task;       /* nor any episode with this exact task text (the same task instance) */
    const char *avoid_task_type;    /* distractors only: no successful episode of this task type */
    const json_t *api_versions;     /* the tool versions in force now ({"tool": version}); an episode that
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

rt_status rt_retrieve(rt_memory *mem, const rt_agent_params *p, const rt_retrieve_spec *spec, rt_retrieved *r);
void rt_retrieved_free(rt_retrieved *r);

#endif
