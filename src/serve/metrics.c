/* metrics.c: request counts by route and status code, a latency histogram by route, and the memory's
 * size, in the Prometheus text format (GET /metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

/* Upper bounds of the latency buckets, seconds (the last bucket is +Inf). */
static const double BOUNDS[RT_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1.0,   2.5,  10.0, 60.0};

void rt_metrics_init(rt_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
}

void rt_metrics_free(rt_metrics *m) { pthread_mutex_destroy(&m->lock); }

void rt_metrics_record(rt_metrics *m, rt_route route, int status, double seconds) {
    if (route < 0 || route >= RT_ROUTE_COUNT) route = RT_ROUTE_OTHER;
    if (status < 100 || status > 599) status = 500;
    int b = 0;
    while (b < RT_LATENCY_BUCKETS && seconds > BOUNDS[b]) b++;
    pthread_mutex_lock(&m->lock);
    m->by_code[route][status]++;
    m->hist[route][b]++;
    m->sum_s[route] += seconds;
    pthread_mutex_unlock(&m->lock);
}

static void add_histogram(rt_strbuf *o, const rt_metrics *snap) {
    rt_strbuf_add(o, "# HELP retrace_http_request_duration_seconds Time from a request's first byte to its reply's last.\n"
                     "# TYPE retrace_http_request_duration_seconds histogram\n");
    for (int r = 0; r < RT_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (int b = 0; b <= RT_LATENCY_BUCKETS; b++) {
            cum += snap->hist[r][b];
            if (b < RT_LATENCY_BUCKETS)
                rt_strbuf_addf(o, "retrace_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", rt_route_label(r), BOUNDS[b],
                               (unsigned long long)cum);
            else
                rt_strbuf_addf(o, "retrace_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", rt_route_label(r),
                               (unsigned long long)cum);
        }
        rt_strbuf_addf(o, "retrace_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", rt_route_label(r), snap->sum_s[r]);
        rt_strbuf_addf(o, "retrace_http_request_duration_seconds_count{route=\"%s\"} %llu\n", rt_route_label(r), (unsigned long long)cum);
    }
}

/* The online loop's rounds by result, and whether one is running. */
static void add_retrain(rt_strbuf *o, rt_server *s) {
    json_t *r = rt_retrain_json(s);
    if (json_is_true(json_object_get(r, "enabled"))) {
        rt_strbuf_add(o, "# HELP retrace_retrain_rounds_total Online-loop rounds, by result (swapped, rejected, failed).\n"
                         "# TYPE retrace_retrain_rounds_total counter\n");
        static const char *const keys[][2] = {{"swaps", "swapped"}, {"rejections", "rejected"}, {"failures", "failed"}};
        for (int i = 0; i < 3; i++)
            rt_strbuf_addf(o, "retrace_retrain_rounds_total{result=\"%s\"} %lld\n", keys[i][1],
                           (long long)json_integer_value(json_object_get(r, keys[i][0])));
        rt_strbuf_addf(o, "# HELP retrace_retrain_running 1 while a round is training.\n# TYPE retrace_retrain_running gauge\n"
                          "retrace_retrain_running %d\n", json_is_true(json_object_get(r, "running")));
        json_t *v = json_object_get(r, "val_loss");
        if (json_is_real(v))
            rt_strbuf_addf(o, "# HELP retrace_adapter_val_loss Validation loss of the adapter in use.\n"
                              "# TYPE retrace_adapter_val_loss gauge\nretrace_adapter_val_loss %.6f\n", json_real_value(v));
    }
    json_decref(r);
}

void rt_h_metrics(rt_server *s, rt_req *r, rt_reply *out) {
    rt_metrics *snap = rt_malloc(sizeof *snap);
    pthread_mutex_lock(&s->metrics.lock);
    memcpy(snap, &s->metrics, sizeof *snap);
    pthread_mutex_unlock(&s->metrics.lock);
    rt_strbuf o = {0};
    rt_strbuf_add(&o, "# HELP retrace_http_requests_total Requests answered, by route and status code.\n"
                      "# TYPE retrace_http_requests_total counter\n");
    for (int rt = 0; rt < RT_ROUTE_COUNT; rt++)
        for (int c = 100; c < 600; c++)
            if (snap->by_code[rt][c])
                rt_strbuf_addf(&o, "retrace_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n", rt_route_label(rt), c,
                               (unsigned long long)snap->by_code[rt][c]);
    add_histogram(&o, snap);
    free(snap);
    rt_strbuf_addf(&o, "# HELP retrace_http_requests_in_flight Requests being answered now.\n# TYPE retrace_http_requests_in_flight gauge\n"
                       "retrace_http_requests_in_flight %d\n", atomic_load(&s->in_flight));
    rt_memory_stats st;
    if (rt_memory_get_stats(s->mem, &st) == RT_OK) {
        rt_strbuf_addf(&o, "# HELP retrace_memory_episodes Episodes in the memory.\n# TYPE retrace_memory_episodes gauge\n"
                           "retrace_memory_episodes %lld\nretrace_memory_successes %lld\nretrace_memory_failures %lld\n",
                       (long long)st.episodes, (long long)st.successes, (long long)st.failures);
        rt_strbuf_addf(&o, "# HELP retrace_memory_docs Tool docs in the memory.\n# TYPE retrace_memory_docs gauge\nretrace_memory_docs %lld\n",
                       (long long)st.docs);
        rt_strbuf_addf(&o, "# HELP retrace_index_vectors Vectors in the HNSW index.\n# TYPE retrace_index_vectors gauge\n"
                           "retrace_index_vectors %lld\n# HELP retrace_index_bytes Size of the HNSW index.\n"
                           "# TYPE retrace_index_bytes gauge\nretrace_index_bytes %zu\n# HELP retrace_db_bytes Size of memory.db.\n"
                           "# TYPE retrace_db_bytes gauge\nretrace_db_bytes %zu\n",
                       (long long)st.index_vectors, st.index_bytes, st.db_bytes);
    }
    add_retrain(&o, s);
    rt_strbuf_addf(&o, "# TYPE retrace_uptime_seconds gauge\nretrace_uptime_seconds %.3f\n", rt_now() - s->t_start);
    rt_reply_text(out, 200, "text/plain; version=0.0.4; charset=utf-8", o.buf);
}

void rt_h_healthz(rt_server *s, rt_req *r, rt_reply *out) {
    rt_memory_stats st;
    rt_status rc = rt_memory_get_stats(s->mem, &st);
    if (rc != RT_OK) return rt_reply_error(out, 503, "the memory cannot be read: %s", rt_errmsg());
    char *adapter = rt_server_adapter(s);
    rt_reply_json(out, 200, json_pack("{s:s, s:I, s:I, s:b, s:s?, s:s?, s:o}", "status", "ok", "episodes", (json_int_t)st.episodes,
                                      "index_vectors", (json_int_t)st.index_vectors, "model_loaded", s->has_model, "model",
                                      s->model_name, "adapter", adapter, "retrain", rt_retrain_json(s)));
    free(adapter);
}
