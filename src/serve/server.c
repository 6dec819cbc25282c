/* server.c: the daemon: start (memory, model, listener), one request's life (auth, body limits,
 * dispatch, reply), and a stop that drains the requests in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_internal.h"

rt_serve_params rt_serve_params_default(void) {
    rt_serve_params p = {.host = "127.0.0.1", .port = 8377, .max_body = 8u << 20, .timeout_s = 30,
                         .max_connections = 256, .budget_tokens = 1024, .drain_s = 60.0};
    return p;
}

int rt_serve_port(const rt_server *s) { return s->port; }

/* Constant-time in the key's contents: every byte of the expected header is compared whatever the
 * given one holds, so the time says nothing about how much of a guess was right. */
static int authorized(const rt_server *s, struct MHD_Connection *c) {
    if (!s->api_key) return 1;
    const char *got = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!got) return 0;
    size_t glen = strlen(got), elen = 7 + s->key_len;
    unsigned diff = glen != elen;
    for (size_t i = 0; i < elen; i++) {
        unsigned char want = i < 7 ? (unsigned char)"Bearer "[i] : (unsigned char)s->api_key[i - 7];
        diff |= want ^ (unsigned char)(i < glen ? got[i] : 0);
    }
    return diff == 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, rt_req *r, rt_reply *out) {
    struct MHD_Response *resp = out->stream;
    if (!resp) {
        resp = MHD_create_response_from_buffer(out->len, out->body, MHD_RESPMEM_MUST_FREE);
        out->body = NULL;
        MHD_add_response_header(resp, "Content-Type", out->content_type ? out->content_type : "application/json");
    }
    if (out->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    if (out->status == 405 && out->allow[0]) MHD_add_response_header(resp, "Allow", out->allow); /* RFC 9110 */
    r->status = out->status;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)out->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The first call: route, auth and the declared size are checked before any of the body is read, so
 * an unauthorised or oversized upload is refused without being received. */
static enum MHD_Result first_call(rt_server *s, struct MHD_Connection *c, const char *url, const char *method, void **con_cls) {
    rt_req *r = rt_calloc(1, sizeof *r);
    r->t0 = rt_now(), r->conn = c, r->route = RT_ROUTE_OTHER;
    *con_cls = r;
    atomic_fetch_add(&s->in_flight, 1);
    rt_reply out = {0};
    rt_handler h;
    r->route = rt_route_find(method, url, &r->arg, &h, &out);
    free(out.body), out.body = NULL;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (!authorized(s, c)) rt_reply_error(&out, 401, "missing or wrong API key (send Authorization: Bearer <key>)");
    else if (cl && strtoull(cl, NULL, 10) > s->p.max_body)
        rt_reply_error(&out, 413, "the body (%s bytes) is over the limit of %zu bytes", cl, s->p.max_body);
    else return MHD_YES;
    r->rejected = 1;
    return send_reply(c, r, &out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    rt_server *s = cls;
    if (!*con_cls) return first_call(s, c, url, method, con_cls);
    rt_req *r = *con_cls;
    if (r->rejected) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Chunked uploads carry no Content-Length: the limit is enforced as the bytes arrive. */
        if (!r->too_big && r->len + *upload_size > s->p.max_body) r->too_big = 1, free(r->body), r->body = NULL;
        if (!r->too_big) {
            if (r->len + *upload_size + 1 > r->cap) {
                r->cap = (r->len + *upload_size + 1) * 2;
                if (r->cap > s->p.max_body + 1) r->cap = s->p.max_body + 1;
                r->body = rt_realloc(r->body, r->cap);
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    rt_reply out = {0};
    if (r->too_big) rt_reply_error(&out, 413, "the body is over the limit of %zu bytes", s->p.max_body);
    else {
        rt_handler h;
        const char *arg;
        rt_route_find(method, url, &arg, &h, &out);
        r->arg = arg;
        if (h) h(s, r, &out);
    }
    if (!out.status) rt_reply_error(&out, 500, "the handler gave no reply");
    return send_reply(c, r, &out);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    rt_server *s = cls;
    rt_req *r = *con_cls;
    if (!r) return;
    /* A request cut short before a reply (a truncated body, a timeout) is counted as 408-like 499. */
    rt_metrics_record(&s->metrics, r->route, r->status ? r->status : 499, rt_now() - r->t0);
    free(r->body);
    free(r);
    *con_cls = NULL;
    /* The tokenizer's per-thread caches (chat, a BERT embedder) go with the request: threads come and go. */
    rt_tokenizer_thread_cleanup();
    atomic_fetch_sub(&s->in_flight, 1);
}

static rt_status load_model(rt_server *s) {
    const rt_serve_params *p = &s->p;
    RT_TRY(rt_tokenizer_load(p->tokenizer ? p->tokenizer : p->model, &s->tok));
    RT_TRY(rt_model_load(p->model, &s->model));
    if (p->adapter) {
        int unverified = 0;
        RT_TRY(rt_lora_check_base(p->adapter, p->model, &s->model->cfg, &unverified));
        if (unverified) rt_warn("cannot check that %s was trained for %s", p->adapter, p->model);
        RT_TRY(rt_lora_load_peft(s->model, p->adapter));
    }
    s->has_model = 1, s->ctx_len = s->model->cfg.max_position_embeddings;
    return RT_OK;
}

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *b = path + n;
    while (b > path && b[-1] != '/') b--;
    return b;
}

static char *name_of(const char *path) {
    const char *b = base_name(path);
    size_t n = strlen(b);
    while (n > 1 && b[n - 1] == '/') n--;
    char *o = rt_malloc(n + 1);
    memcpy(o, b, n), o[n] = '\0';
    return o;
}

static rt_status bind_address(const rt_serve_params *p, struct sockaddr_storage *sa, unsigned *flags) {
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, p->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET, v4->sin_port = htons((uint16_t)p->port);
        return RT_OK;
    }
    if (inet_pton(AF_INET6, p->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6, v6->sin6_port = htons((uint16_t)p->port);
        *flags |= MHD_USE_IPv6;
        return RT_OK;
    }
    return rt_fail(RT_ERR_ARG, "--host '%s' is not an IPv4 or IPv6 address", p->host);
}

static void server_free(rt_server *s) {
    rt_retrain_stop(s);
    if (s->mem) rt_memory_close(s->mem);
    rt_model_free(s->model);
    rt_tokenizer_free(s->tok);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->gen_lock);
    pthread_mutex_destroy(&s->name_lock);
    rt_metrics_free(&s->metrics);
    free(s->host), free(s->api_key), free(s->model_name), free(s->adapter_name);
    free(s);
}

rt_status rt_serve_start(const rt_serve_params *p, rt_server **out) {
    *out = NULL;
    if (!p->memory_dir) return rt_fail(RT_ERR_ARG, "serve: no memory directory given");
    if (p->port < 0 || p->port > 65535) return rt_fail(RT_ERR_ARG, "serve: port %d is outside 0..65535", p->port);
    if (p->api_key && !p->api_key[0]) return rt_fail(RT_ERR_ARG, "serve: the API key is empty");
    rt_server *s = rt_calloc(1, sizeof *s);
    s->p = *p;
    s->host = rt_strdup(p->host ? p->host : "127.0.0.1"), s->p.host = s->host;
    if (p->api_key) s->api_key = rt_strdup(p->api_key), s->key_len = strlen(p->api_key);
    s->p.api_key = NULL, s->p.memory_dir = NULL; /* not kept: the caller's strings */
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->gen_lock, NULL);
    pthread_mutex_init(&s->name_lock, NULL);
    rt_metrics_init(&s->metrics);
    s->t_start = rt_now();
    struct sockaddr_storage sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    rt_status st = bind_address(&s->p, &sa, &flags);
    if (st == RT_OK) st = rt_memory_open(p->memory_dir, RT_MEMORY_WRITE, &s->mem);
    if (st == RT_OK && p->model) {
        st = load_model(s);
        s->model_name = name_of(p->model);
        if (p->adapter) s->adapter_name = name_of(p->adapter);
    }
    if (st == RT_OK) st = rt_retrain_start(s, p);
    s->p.model = s->p.tokenizer = s->p.adapter = NULL;
    if (st == RT_OK) {
        s->daemon = MHD_start_daemon(flags, (uint16_t)p->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)p->timeout_s, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)p->max_connections, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
        if (!s->daemon) st = rt_fail(RT_ERR_IO, "serve: cannot listen on %s port %d (in use, or not an address of this machine)", s->host, p->port);
    }
    if (st != RT_OK) {
        server_free(s);
        return st;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : p->port;
    *out = s;
    return RT_OK;
}

int rt_serve_stop(rt_server *s) {
    /* No new connections; the ones open finish what they are doing. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd); /* ours now, says MHD */
    double t0 = rt_now();
    while (atomic_load(&s->in_flight) > 0 && rt_now() - t0 < s->p.drain_s) nanosleep(&(struct timespec){0, 10000000}, NULL);
    int cut = atomic_load(&s->in_flight);
    MHD_stop_daemon(s->daemon);
    rt_retrain_stop(s); /* ends a training command running now */
    server_free(s);
    return cut;
}
