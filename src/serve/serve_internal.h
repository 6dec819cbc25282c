/* serve_internal.h: the server object, one request's state, replies, and the helpers the handlers
 * share (private to src/serve). */
#ifndef RT_SERVE_INTERNAL_H
#define RT_SERVE_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "retrace/memory.h"
#include "retrace/model.h"
#include "retrace/serve.h"
#include "retrace/tok.h"

/* Routes, for dispatch and for the metrics' labels. */
typedef enum {
    RT_ROUTE_HEALTHZ,
    RT_ROUTE_METRICS,
    RT_ROUTE_EPISODES,
    RT_ROUTE_EPISODE,
    RT_ROUTE_DOCS,
    RT_ROUTE_SEARCH,
    RT_ROUTE_CHAT,
    RT_ROUTE_MODELS,
    RT_ROUTE_OTHER,
    RT_ROUTE_COUNT
} rt_route;

const char *rt_route_label(rt_route r);

/* Request counts by route and status, and a latency histogram by route (metrics.c). */
#define RT_LATENCY_BUCKETS 14
typedef struct {
    pthread_mutex_t lock;
    uint64_t by_code[RT_ROUTE_COUNT][600];
    uint64_t hist[RT_ROUTE_COUNT][RT_LATENCY_BUCKETS + 1];
    double sum_s[RT_ROUTE_COUNT];
} rt_metrics;

/* The online loop's state (retrain.c), under its lock. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    pthread_t thread;
    int inited, started, stop, running;
    int pending;                    /* successful episodes committed since the last round began */
    int rounds, swaps, rejections, failures;
    float val_loss;                 /* the adapter in use, on the last round's validation examples */
    pid_t child;                    /* the command running now, or 0 */
    char *memory_dir, *model, *tokenizer, *exe, *dir;
    char *adapter_dir;              /* the adapter in use (NULL: the base model); the loop's thread only */
} rt_retrain;

struct rt_server {
    rt_serve_params p;
    char *host, *api_key, *model_name, *adapter_name;
    size_t key_len;
    rt_memory *mem;
    pthread_mutex_t write_lock; /* one writer at a time (adds, deletes) */
    rt_model *model;            /* NULL without --model; replaced under gen_lock by the online loop */
    int has_model, ctx_len;     /* fixed at start: whether a model is served, and its context */
    pthread_mutex_t name_lock;  /* adapter_name */
    rt_tokenizer *tok;
    pthread_mutex_t gen_lock;   /* one generation at a time */
    atomic_ullong completion_seq;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int in_flight;
    rt_metrics metrics;
    double t_start;
    rt_retrain rt;
};

/* One request: its route, body, and the reply being built. */
typedef struct {
    rt_route route;
    const char *arg;       /* the {id} of /v1/episodes/{id} (points into the URL) */
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    int rejected;          /* a reply was queued before the body was read (401, 413) */
    int too_big;
    int status;            /* of the reply sent, for the metrics */
    double t0;
} rt_req;

/* A reply: a JSON or text body, or a streamed response built by the handler. */
typedef struct {
    int status;
    char *body; /* owned */
    size_t len;
    const char *content_type;
    struct MHD_Response *stream;
    char allow[64];    /* with a 405: the methods the path takes */
} rt_reply;

/* ---- replies (http.c) ---- */
void rt_reply_json(rt_reply *out, int status, json_t *o); /* steals o */
void rt_reply_text(rt_reply *out, int status, const char *content_type, char *text); /* steals text */
/* {"error": {"message", "type", "code"}} as OpenAI's servers send it. */
void rt_reply_error(rt_reply *out, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An rt_status from the library: 404 for RT_ERR_NOT_FOUND, 400 for bad input, else 500. */
void rt_reply_status(rt_reply *out, rt_status s);

/* ---- request bodies (http.c) ---- */
/* Parses the body as one JSON object; on failure sets a 400 naming the line, column and what is wrong. */
json_t *rt_body_object(const rt_req *r, rt_reply *out);

/* Typed optional fields with the JSON path of any error: each returns 0 when the field is absent (the
 * default stays) or valid, -1 after a 400 naming path.key and what was expected. */
int rt_field_int(json_t *o, const char *path, const char *key, long long lo, long long hi, long long *v, rt_reply *out);
int rt_field_num(json_t *o, const char *path, const char *key, double lo, double hi, double *v, rt_reply *out);
int rt_field_bool(json_t *o, const char *path, const char *key, int *v, rt_reply *out);
int rt_field_str(json_t *o, const char *path, const char *key, const char **v, rt_reply *out);
/* Fails with a 400 for any key of o not in the NULL-terminated list. */
int rt_fields_known(json_t *o, const char *path, const char *const *keys, rt_reply *out);

/* ---- handlers ---- */
void rt_h_episodes_add(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_docs_add(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_episode_get(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_episode_delete(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_search(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_healthz(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_metrics(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_models(rt_server *s, rt_req *r, rt_reply *out);
void rt_h_chat(rt_server *s, rt_req *r, rt_reply *out);

/* Resolves method and URL to a route (router.c); *handler is NULL with a 404 or 405 already set in out. */
typedef void (*rt_handler)(rt_server *s, rt_req *r, rt_reply *out);
rt_route rt_route_find(const char *method, const char *url, const char **arg, rt_handler *handler, rt_reply *out);

/* ---- metrics (metrics.c) ---- */
void rt_metrics_init(rt_metrics *m);
void rt_metrics_free(rt_metrics *m);
void rt_metrics_record(rt_metrics *m, rt_route route, int status, double seconds);

/* ---- generation (generate.c, stream.c) ---- */
/* A completion request, parsed. */
typedef struct {
    int32_t *ids;        /* the prompt's tokens (owned) */
    int n_ids;
    rt_gen_params gp;
    char **stops;        /* NULL-terminated, owned */
    int max_stop_len;
    char *id;            /* "chatcmpl-..." */
    json_t *retrace;     /* what was retrieved (for the response), or NULL */
    char *adapter;       /* the adapter it was generated with (set under the model lock), or NULL */
} rt_completion;

void rt_completion_free(rt_completion *c);
/* Runs one completion under the model lock; *text is the continuation cut at the first stop string,
 * *finish "stop" or "length". `emit` (may be NULL) receives text as it becomes final. */
rt_status rt_completion_run(rt_server *s, rt_completion *c, void (*emit)(void *ctx, const char *text, size_t len),
                            void *emit_ctx, volatile int *cancel, char **text, int *n_tokens, const char **finish);
/* A server-sent-events response that runs the completion in its own thread (takes c). */
struct MHD_Response *rt_stream_response(rt_server *s, rt_completion *c, json_t *first_extra);

/* ---- the online loop (retrain.c) ---- */
rt_status rt_retrain_start(rt_server *s, const rt_serve_params *p);
void rt_retrain_stop(rt_server *s);
/* Counts successful episodes just committed; wakes the loop once --retrain-every have arrived. */
void rt_retrain_note(rt_server *s, int successes);
/* {"enabled", "every", "rounds", "swaps", "rejections", "failures", "running", "pending", "val_loss"} */
json_t *rt_retrain_json(rt_server *s);
/* The adapter's name now (a copy), or NULL. */
char *rt_server_adapter(rt_server *s);

#endif
