/* retrace/serve.h: the experience service: one long-running process with an HTTP API that keeps a
 * memory open (adds, searches, docs), and optionally a model that it serves OpenAI-compatibly, with
 * retrieved experience put into the prompt on request. The API is in docs/serve.md and
 * docs/openapi.yaml.
 *
 * Threads: one thread per connection. Searches run concurrently; writes (adds, deletes) are serialised
 * by one writer lock, as the store wants (one writer, many readers); generation is serialised by a
 * model lock (one model, one KV cache at a time). */
#ifndef RETRACE_SERVE_H
#define RETRACE_SERVE_H

#include <stddef.h>

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *memory_dir;  /* required: an initialised memory (retrace memory init) */
    const char *model;       /* model directory (or a file rt_model_load reads); NULL: no completions */
    const char *tokenizer;   /* tokenizer directory; NULL: the model's */
    const char *adapter;     /* PEFT adapter directory; NULL: none */
    const char *host;        /* address to bind; default 127.0.0.1 (loopback) */
    int port;                /* default 8377; 0 picks a free port (rt_serve_port says which) */
    const char *api_key;     /* when set, every request needs "Authorization: Bearer <api_key>" */
    size_t max_body;         /* bytes; larger request bodies get 413 (default 8 MiB) */
    int timeout_s;           /* an idle or slow connection is closed after this many seconds (default 30) */
    int max_connections;     /* default 256 */
    int budget_tokens;       /* prompt budget for completions with retrieval (default 1024) */
    double drain_s;          /* rt_serve_stop waits this long for requests in flight (default 60) */
    /* The online loop: after every `retrain_every` new successful episodes (0: off), train an adapter in
     * a child process (`exe dataset`, `exe train --val`) and swap it in only if its validation loss is
     * lower than the one in use's, on the same examples, by more than retrain_min_improvement. */
    int retrain_every;
    const char *retrain_dir;          /* work folder (default MEMORY_DIR/retrain) */
    double retrain_min_improvement;   /* default 0 */
    const char *retrain_train_args;   /* extra words for `retrace train` (space-separated), or NULL */
    const char *retrain_dataset_args; /* extra words for `retrace dataset`, or NULL */
    int retrain_chat;                 /* train and score with the chat template (train --chat) */
    const char *retrain_exe;          /* the retrace binary the children run (default /proc/self/exe) */
} rt_serve_params;

rt_serve_params rt_serve_params_default(void);

typedef struct rt_server rt_server;

/* Opens the memory (for writing), loads the model when given, and starts listening. Returns once the
 * server accepts connections. */
rt_status rt_serve_start(const rt_serve_params *p, rt_server **out);
/* The port it listens on (the chosen one when params.port was 0). */
int rt_serve_port(const rt_server *s);
/* Stops accepting connections, lets the requests in flight finish (up to drain_s), then closes the
 * listener, the model and the memory and frees s. Returns the number of requests cut short. */
int rt_serve_stop(rt_server *s);

#ifdef __cplusplus
}
#endif
#endif
