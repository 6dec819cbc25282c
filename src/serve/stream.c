/* stream.c: `stream: true` completions as server-sent events (OpenAI's chat.completion.chunk events,
 * then "data: [DONE]"). The completion runs in its own thread and queues events; MHD's reader
 * callback (on the connection's own thread) waits for them. A client that goes away cancels the
 * generation at the next token. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"

typedef struct {
    rt_server *s;
    rt_completion c;
    json_t *first_extra;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_strbuf q;  /* events not yet sent */
    size_t q_off;
    int done;
    volatile int cancel;
    pthread_t th;
    int started, first_sent;
    long long created;
} rt_stream;

static void push(rt_stream *st, const char *text) {
    pthread_mutex_lock(&st->mu);
    rt_strbuf_addf(&st->q, "data: %s\n\n", text);
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void push_json(rt_stream *st, json_t *o) {
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    if (t) push(st, t);
    free(t);
}

static json_t *chunk(rt_stream *st, json_t *delta, const char *finish) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s?, s:[{s:i, s:o, s:s?}]}", "id", st->c.id, "object", "chat.completion.chunk", "created",
                     (json_int_t)st->created, "model", st->s->model_name, "adapter", st->c.adapter, "choices", "index", 0,
                     "delta", delta, "finish_reason", finish);
}

/* The role chunk goes first, once the model lock is held (so that it names the adapter in use). */
static void send_first(rt_stream *st) {
    if (st->first_sent) return;
    st->first_sent = 1;
    json_t *first = chunk(st, json_pack("{s:s, s:s}", "role", "assistant", "content", ""), NULL);
    if (first && st->first_extra) json_object_set(first, "retrace", st->first_extra);
    push_json(st, first);
}

static void emit(void *ctx, const char *text, size_t len) {
    rt_stream *st = ctx;
    send_first(st);
    json_t *s = json_stringn(text, len);
    if (!s) s = json_string("\xEF\xBF\xBD"); /* bytes that are not UTF-8: one replacement character */
    push_json(st, chunk(st, json_pack("{s:o}", "content", s), NULL));
}

static void *run(void *arg) {
    rt_stream *st = arg;
    char *text = NULL;
    int n = 0;
    const char *finish;
    rt_status s = rt_completion_run(st->s, &st->c, emit, st, &st->cancel, &text, &n, &finish);
    if (s == RT_OK) {
        send_first(st);
        json_t *last = chunk(st, json_object(), finish);
        json_object_set_new(last, "usage", json_pack("{s:i, s:i, s:i}", "prompt_tokens", st->c.n_ids, "completion_tokens", n,
                                                     "total_tokens", st->c.n_ids + n));
        push_json(st, last);
    } else {
        json_t *m = json_string(rt_errmsg());
        push_json(st, json_pack("{s:{s:o, s:s, s:i}}", "error", "message", m ? m : json_string("generation failed"), "type",
                                "server_error", "code", 500));
    }
    free(text);
    rt_tokenizer_thread_cleanup();
    push(st, "[DONE]");
    pthread_mutex_lock(&st->mu);
    st->done = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    rt_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    while (st->q.len == st->q_off && !st->done) pthread_cond_wait(&st->cv, &st->mu);
    size_t avail = st->q.len - st->q_off, n = avail < max ? avail : max;
    if (n) memcpy(buf, st->q.buf + st->q_off, n), st->q_off += n;
    if (st->q_off == st->q.len) st->q_off = st->q.len = 0;
    pthread_mutex_unlock(&st->mu);
    return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void release(void *cls) {
    rt_stream *st = cls;
    st->cancel = 1;
    if (st->started) pthread_join(st->th, NULL);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->q.buf);
    json_decref(st->first_extra);
    rt_completion_free(&st->c);
    free(st);
}

struct MHD_Response *rt_stream_response(rt_server *s, rt_completion *c, json_t *first_extra) {
    rt_stream *st = rt_calloc(1, sizeof *st);
    st->s = s, st->c = *c, st->first_extra = first_extra, st->created = (long long)time(NULL);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->started = pthread_create(&st->th, NULL, run, st) == 0;
    if (!st->started) {
        push(st, "{\"error\":{\"message\":\"cannot start a thread\",\"type\":\"server_error\",\"code\":500}}");
        push(st, "[DONE]");
        st->done = 1;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, st, release);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return r;
}
