/* retrieve.c: one retrieval for a prompt: successful episodes (reward-weighted), mined failures and the
 * docs of the tools involved, with the exclusions a training example needs. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

/* Candidates fetched per kept hit when some will be excluded. */
#define RT_EXCLUDE_OVERFETCH 4
/* The most candidates fetched when exclusions keep rejecting them. */
#define RT_EXCLUDE_MAX_FETCH 1024

void rt_retrieved_free(rt_retrieved *r) {
    if (!r->have) return;
    rt_memory_results_free(&r->res);
    rt_memory_docs_free(r->docs, r->n_docs);
    free(r->succ), free(r->fail), free(r->doc_text), free(r->succ_hit), free(r->fail_hit);
    memset(r, 0, sizeof *r);
}

/* 1 when the episode used a tool of `now` at another version than the one in force: under API drift,
 * a past success with the old signature shows the agent a call that now fails. Versions compare as the
 * memory stores them (rt_version_text: 1 and "1" are the same version). */
static int stale(const char *episode_json, const json_t *now) {
    json_t *ep = json_loads(episode_json, 0, NULL);
    json_t *used = json_object_get(ep, "api_versions");
    const char *tool;
    json_t *v;
    int is_stale = 0;
    json_object_foreach(used, tool, v) {
        char a[128], b[128];
        json_t *cur = json_object_get(now, tool);
        if (cur && rt_version_text(cur, a, sizeof a) && rt_version_text(v, b, sizeof b) && strcmp(a, b) != 0) {
            is_stale = 1;
            break;
        }
    }
    json_decref(ep);
    return is_stale;
}

static int excluded(const rt_retrieve_spec *spec, const rt_memory_hit *h, int is_success) {
    if (spec->exclude_id && h->id && !strcmp(spec->exclude_id, h->id)) return 1;
    if (spec->exclude_task && h->task && !strcmp(spec->exclude_task, h->task)) return 1;
    if (is_success && spec->avoid_task_type && h->task_type && !strcmp(spec->avoid_task_type, h->task_type)) return 1;
    if (json_object_size(spec->api_versions) > 0 && h->json && stale(h->json, spec->api_versions)) return 1;
    return 0;
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

/* Keeps the first k successes and `negatives` failures of r->res that the spec does not exclude. */
static void select_hits(const rt_retrieval_params *p, const rt_retrieve_spec *spec, rt_retrieved *r) {
    free(r->succ), free(r->fail), free(r->succ_hit), free(r->fail_hit);
    r->n_succ = r->n_fail = 0;
    r->succ = rt_calloc((size_t)r->res.n_hits + 1, sizeof *r->succ);
    r->fail = rt_calloc((size_t)r->res.n_negatives + 1, sizeof *r->fail);
    r->succ_hit = rt_calloc((size_t)r->res.n_hits + 1, sizeof *r->succ_hit);
    r->fail_hit = rt_calloc((size_t)r->res.n_negatives + 1, sizeof *r->fail_hit);
    for (int i = 0; i < r->res.n_hits && r->n_succ < p->k; i++)
        if (!excluded(spec, &r->res.hits[i], 1)) r->succ_hit[r->n_succ] = &r->res.hits[i], r->succ[r->n_succ++] = r->res.hits[i].json;
    for (int i = 0; i < r->res.n_negatives && r->n_fail < p->negatives; i++)
        if (!excluded(spec, &r->res.negatives[i], 0))
            r->fail_hit[r->n_fail] = &r->res.negatives[i], r->fail[r->n_fail++] = r->res.negatives[i].json;
}

rt_status rt_retrieve(rt_memory *mem, const rt_retrieval_params *p, const rt_retrieve_spec *spec, rt_retrieved *r) {
    rt_retrieved_free(r);
    int filtering = spec->exclude_id || spec->exclude_task || spec->avoid_task_type || json_object_size(spec->api_versions) > 0;
    char *key = rt_memory_state_text(spec->task, spec->history, spec->n_history, p->dynamic ? p->key_steps : 0);
    rt_memory_query q = rt_memory_query_default();
    q.k = filtering ? p->k * RT_EXCLUDE_OVERFETCH + 2 : p->k;
    q.negatives = filtering ? p->negatives * RT_EXCLUDE_OVERFETCH + 2 : p->negatives;
    q.weight = p->reward_weight, q.env = spec->env, q.outcome = "success", q.exclude_id = spec->exclude_id;
    rt_status s;
    for (;;) {
        /* Exclusions can leave fewer than asked for (under drift most similar episodes may be of the
         * old version): fetch more until enough pass or the memory has no more. */
        if ((s = rt_memory_search(mem, key, &q, &r->res)) != RT_OK) break;
        r->have = 1;
        select_hits(p, spec, r);
        int short_succ = r->n_succ < p->k && r->res.n_hits == q.k, short_fail = r->n_fail < p->negatives && r->res.n_negatives == q.negatives;
        if (!(short_succ || short_fail) || q.k >= RT_EXCLUDE_MAX_FETCH) break;
        rt_memory_results_free(&r->res);
        memset(&r->res, 0, sizeof r->res);
        q.k *= 4, q.negatives *= 4;
    }
    free(key);
    RT_TRY(s);
    char **tools, **versions;
    int n_pins = pins_of(spec->api_versions, &tools, &versions);
    if (p->docs)
        s = rt_memory_docs_at(mem, spec->task, &r->res, (const char *const *)tools, (const char *const *)versions, n_pins,
                              &r->docs, &r->n_docs);
    free_pins(tools, versions, n_pins);
    RT_TRY(s);
    r->doc_text = rt_calloc((size_t)r->n_docs + 1, sizeof *r->doc_text);
    for (int i = 0; i < r->n_docs; i++) r->doc_text[i] = r->docs[i].text;
    return RT_OK;
}
