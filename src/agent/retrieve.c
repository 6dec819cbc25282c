/* retrieve.c: one retrieval for a prompt: successful episodes (reward-weighted), mined failures and the
 * docs of the tools involved, with the exclusions a training example needs. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

/* Candidates fetched per kept hit when some will be excluded. */
#define RT_EXCLUDE_OVERFETCH 4

void rt_retrieved_free(rt_retrieved *r) {
    if (!r->have) return;
    rt_memory_results_free(&r->res);
    rt_memory_docs_free(r->docs, r->n_docs);
    free(r->succ), free(r->fail), free(r->doc_text), free(r->succ_hit), free(r->fail_hit);
    memset(r, 0, sizeof *r);
}

static int excluded(const rt_retrieve_spec *spec, const rt_memory_hit *h, int is_success) {
    if (spec->exclude_id && h->id && !strcmp(spec->exclude_id, h->id)) return 1;
    if (spec->exclude_task && h->task && !strcmp(spec->exclude_task, h->task)) return 1;
    if (is_success && spec->avoid_task_type && h->task_type && !strcmp(spec->avoid_task_type, h->task_type)) return 1;
    return 0;
}

rt_status rt_retrieve(rt_memory *mem, const rt_agent_params *p, const rt_retrieve_spec *spec, rt_retrieved *r) {
    rt_retrieved_free(r);
    int filtering = spec->exclude_id || spec->exclude_task || spec->avoid_task_type;
    char *key = rt_memory_state_text(spec->task, spec->history, spec->n_history, p->dynamic ? p->key_steps : 0);
    rt_memory_query q = rt_memory_query_default();
    q.k = filtering ? p->k * RT_EXCLUDE_OVERFETCH + 2 : p->k;
    q.negatives = filtering ? p->negatives * RT_EXCLUDE_OVERFETCH + 2 : p->negatives;
    q.weight = p->reward_weight, q.env = spec->env, q.outcome = "success", q.exclude_id = spec->exclude_id;
    rt_status s = rt_memory_search(mem, key, &q, &r->res);
    free(key);
    RT_TRY(s);
    r->have = 1;
    r->succ = rt_calloc((size_t)r->res.n_hits + 1, sizeof *r->succ);
    r->fail = rt_calloc((size_t)r->res.n_negatives + 1, sizeof *r->fail);
    r->succ_hit = rt_calloc((size_t)r->res.n_hits + 1, sizeof *r->succ_hit);
    r->fail_hit = rt_calloc((size_t)r->res.n_negatives + 1, sizeof *r->fail_hit);
    for (int i = 0; i < r->res.n_hits && r->n_succ < p->k; i++)
        if (!excluded(spec, &r->res.hits[i], 1)) r->succ_hit[r->n_succ] = &r->res.hits[i], r->succ[r->n_succ++] = r->res.hits[i].json;
    for (int i = 0; i < r->res.n_negatives && r->n_fail < p->negatives; i++)
        if (!excluded(spec, &r->res.negatives[i], 0))
            r->fail_hit[r->n_fail] = &r->res.negatives[i], r->fail[r->n_fail++] = r->res.negatives[i].json;
    if (p->docs && (s = rt_memory_docs_for(mem, spec->task, &r->res, &r->docs, &r->n_docs)) != RT_OK) return s;
    r->doc_text = rt_calloc((size_t)r->n_docs + 1, sizeof *r->doc_text);
    for (int i = 0; i < r->n_docs; i++) r->doc_text[i] = r->docs[i].text;
    return RT_OK;
}
