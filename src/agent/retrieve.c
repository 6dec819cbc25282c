/* retrieve.c: one retrieval for a prompt: successful episodes (reward-weighted), mined failures and the
 * docs of the tools involved, with the exclusions a training example needs and the tool versions in
 * force. The memory's query says all of it (rt_memory_query), so `retrace memory search` with the same
 * options shows exactly this. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

void rt_retrieved_free(rt_retrieved *r) {
    if (!r->have) return;
    rt_memory_results_free(&r->res);
    rt_memory_docs_free(r->docs, r->n_docs);
    free(r->succ), free(r->fail), free(r->doc_text), free(r->succ_hit), free(r->fail_hit);
    memset(r, 0, sizeof *r);
}

/* The pinned tool versions of `now` as parallel arrays of strings, as the memory stores them. Returns the count; free with free_pins. */
static int pins_of(const json_t *now, char ***tools, char ***versions) {
    int n = (int)json_object_size(now), i = 0;
    *tools = rt_calloc((size_t)n + 1, sizeof **tools);
    *versions = rt_calloc((size_t)n + 1, sizeof **versions);
    const char *tool;
    json_t *v;
    json_object_foreach((json_t *)now, tool, v) {
        char buf[128];
        if (rt_version_text(v, buf, sizeof buf)) (*tools)[i] = rt_strdup(tool), (*versions)[i] = rt_strdup(buf), i++;
    }
    return i;
}

static void free_pins(char **tools, char **versions, int n) {
    for (int i = 0; i < n; i++) free(tools[i]), free(versions[i]);
    free(tools), free(versions);
}

/* Views of the results for rt_prompt_parts: every hit is a success to show, every negative a failure. */
static void views(rt_retrieved *r) {
    r->n_succ = r->res.n_hits, r->n_fail = r->res.n_negatives;
    r->succ = rt_calloc((size_t)r->n_succ + 1, sizeof *r->succ);
    r->fail = rt_calloc((size_t)r->n_fail + 1, sizeof *r->fail);
    r->succ_hit = rt_calloc((size_t)r->n_succ + 1, sizeof *r->succ_hit);
    r->fail_hit = rt_calloc((size_t)r->n_fail + 1, sizeof *r->fail_hit);
    for (int i = 0; i < r->n_succ; i++) r->succ_hit[i] = &r->res.hits[i], r->succ[i] = r->res.hits[i].json;
    for (int i = 0; i < r->n_fail; i++) r->fail_hit[i] = &r->res.negatives[i], r->fail[i] = r->res.negatives[i].json;
}

rt_status rt_retrieve(rt_memory *mem, const rt_retrieval_params *p, const rt_retrieve_spec *spec, rt_retrieved *r) {
    rt_retrieved_free(r);
    char **tools, **versions;
    int n_pins = pins_of(spec->api_versions, &tools, &versions);
    char *key = rt_memory_state_text(spec->task, spec->history, spec->n_history, p->dynamic ? p->key_steps : 0);
    /* The memory applies every exclusion inside the search (docs/memory.md, "One meaning of search"). */
    rt_memory_query q = rt_memory_query_default();
    q.k = p->k, q.negatives = p->negatives, q.weight = p->reward_weight, q.env = spec->env;
    q.exclude_id = spec->exclude_id, q.exclude_task = spec->exclude_task, q.avoid_task_type = spec->avoid_task_type;
    q.pin_tools = (const char *const *)tools, q.pin_versions = (const char *const *)versions, q.n_pins = n_pins;
    rt_status s = rt_memory_search(mem, key, &q, &r->res);
    if (s == RT_OK) {
        r->have = 1;
        views(r);
    }
    /* The docs are those of the tools the task involves: for a distractor (an avoided task type), the
     * tools of the episodes a useful retrieval would show, so the docs do not give distractors away. */
    rt_memory_results useful = {0};
    if (s == RT_OK && p->docs && spec->avoid_task_type) {
        q.avoid_task_type = NULL, q.negatives = 0;
        s = rt_memory_search(mem, key, &q, &useful);
    }
    free(key);
    if (s == RT_OK && p->docs)
        s = rt_memory_docs_at(mem, spec->task, spec->avoid_task_type ? &useful : &r->res, (const char *const *)tools,
                              (const char *const *)versions, n_pins, &r->docs, &r->n_docs);
    rt_memory_results_free(&useful);
    free_pins(tools, versions, n_pins);
    RT_TRY(s);
    r->doc_text = rt_calloc((size_t)r->n_docs + 1, sizeof *r->doc_text);
    for (int i = 0; i < r->n_docs; i++) r->doc_text[i] = r->docs[i].text;
    return RT_OK;
}
