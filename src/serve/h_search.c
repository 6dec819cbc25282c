/* h_search.c: POST /v1/memory/search: the same query as `retrace memory search` (the same library
 * call, the same key, the same JSON for each hit), from a query text or an episode so far. */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

static const char *const SEARCH_KEYS[] = {"query", "episode", "last", "k", "negatives", "weight", "ef", "candidates", "exact",
                                          "exclude", "filters", "docs", NULL};
static const char *const FILTER_KEYS[] = {"env", "outcome", "task_type", "split", "tool", "tool_version", NULL};

static json_t *hit_json(const rt_memory_hit *h, double w) {
    json_t *ep = json_loads(h->json, 0, NULL);
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:f, s:f, s:f, s:f, s:o}", "id", h->id, "env", h->env, "task", h->task,
                     "task_type", h->task_type, "outcome", h->outcome, "score", h->score, "similarity", h->similarity,
                     "reward", h->reward, "weight", w, "episode", ep ? ep : json_null());
}

static int parse_filters(json_t *f, rt_memory_query *q, rt_reply *out) {
    if (!f || json_is_null(f)) return 0;
    if (!json_is_object(f)) return rt_reply_error(out, 400, "$.filters: expected an object"), -1;
    if (rt_fields_known(f, "$.filters", FILTER_KEYS, out)) return -1;
    return rt_field_str(f, "$.filters", "env", &q->env, out) || rt_field_str(f, "$.filters", "outcome", &q->outcome, out) ||
                   rt_field_str(f, "$.filters", "task_type", &q->task_type, out) || rt_field_str(f, "$.filters", "split", &q->split, out) ||
                   rt_field_str(f, "$.filters", "tool", &q->tool, out) ||
                   rt_field_str(f, "$.filters", "tool_version", &q->tool_version, out)
               ? -1
               : 0;
}

/* The retrieval key: the query text (static key), or the episode's task and last `last` steps. */
static char *search_key(json_t *o, const char *query, long long last, const char **own_id, rt_reply *out) {
    json_t *ep = json_object_get(o, "episode");
    if (query && ep) return rt_reply_error(out, 400, "$: give query or episode, not both"), NULL;
    if (query) return rt_memory_state_text(query, NULL, 0, 0);
    if (!json_is_object(ep)) return rt_reply_error(out, 400, "$.query: a search needs a query (a string) or an episode (an object)"), NULL;
    char *text = json_dumps(ep, JSON_COMPACT), *key = NULL;
    if (!text) return rt_reply_error(out, 400, "$.episode: cannot be encoded"), NULL;
    rt_status s = rt_memory_state_from_json(text, (int)last, &key);
    free(text);
    if (s != RT_OK) return rt_reply_error(out, 400, "$.episode: %s", rt_errmsg()), NULL;
    *own_id = json_string_value(json_object_get(ep, "id"));
    return key;
}

static json_t *results_json(const char *key, const rt_memory_results *r, const rt_memory_doc *docs, int n_docs, int with_docs) {
    json_t *hits = json_array(), *negs = json_array();
    for (int i = 0; i < r->n_hits; i++) json_array_append_new(hits, hit_json(&r->hits[i], r->weight));
    for (int i = 0; i < r->n_negatives; i++) json_array_append_new(negs, hit_json(&r->negatives[i], 0.0));
    json_t *o = json_pack("{s:s, s:f, s:o, s:o}", "key", key, "weight", r->weight, "hits", hits, "negatives", negs);
    if (with_docs) {
        json_t *jd = json_array();
        for (int i = 0; i < n_docs; i++)
            json_array_append_new(jd, json_pack("{s:s, s:s, s:s}", "tool", docs[i].tool, "version", docs[i].version, "text", docs[i].text));
        json_object_set_new(o, "docs", jd);
    }
    return o;
}

void rt_h_search(rt_server *s, rt_req *r, rt_reply *out) {
    json_t *o = rt_body_object(r, out);
    if (!o) return;
    rt_memory_query q = rt_memory_query_default();
    const char *query = NULL, *own_id = NULL;
    long long k = q.k, neg = q.negatives, ef = 0, cand = 0, last = 3;
    int exact = 0, with_docs = 0;
    char *key = NULL;
    if (rt_fields_known(o, "$", SEARCH_KEYS, out) || rt_field_str(o, "$", "query", &query, out) ||
        rt_field_int(o, "$", "k", 1, 10000, &k, out) || rt_field_int(o, "$", "negatives", 0, 10000, &neg, out) ||
        rt_field_num(o, "$", "weight", 0, 1, &q.weight, out) || rt_field_int(o, "$", "ef", 1, 100000, &ef, out) ||
        rt_field_int(o, "$", "candidates", 1, 100000, &cand, out) || rt_field_int(o, "$", "last", 0, 1000, &last, out) ||
        rt_field_bool(o, "$", "exact", &exact, out) || rt_field_bool(o, "$", "docs", &with_docs, out) ||
        rt_field_str(o, "$", "exclude", &q.exclude_id, out) || parse_filters(json_object_get(o, "filters"), &q, out) ||
        !(key = search_key(o, query, last, &own_id, out))) {
        json_decref(o);
        return;
    }
    q.k = (int)k, q.negatives = (int)neg, q.ef = (int)ef, q.candidates = (int)cand, q.exact = exact;
    if (!q.exclude_id) q.exclude_id = own_id; /* as the CLI: an episode never finds itself */
    rt_memory_results res;
    rt_memory_doc *docs = NULL;
    int n_docs = 0;
    rt_status st = rt_memory_search(s->mem, key, &q, &res);
    int have = st == RT_OK;
    if (st == RT_OK && with_docs) st = rt_memory_docs_for(s->mem, key, &res, &docs, &n_docs);
    if (st == RT_OK) rt_reply_json(out, 200, results_json(key, &res, docs, n_docs, with_docs));
    else rt_reply_status(out, st);
    if (have) rt_memory_results_free(&res);
    rt_memory_docs_free(docs, n_docs);
    free(key);
    json_decref(o);
}
