/* generate.c: one completion on the served model: rt_generate under the model lock, with OpenAI's
 * stop semantics (the text ends before the first stop string) and text handed out as it becomes final
 * (for streaming). The per-token hook is rt_gen_params.decode: it decodes the continuation so far,
 * passes on what can no longer change, and asks rt_generate to stop (through a private stop string)
 * at a stop string or when the client has gone. Sampling is untouched, so the tokens are exactly those
 * of `retrace generate` for the same prompt, settings and seed. */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

/* Returned in place of the text when the hook wants generation to end; never produced by a tokenizer's
 * decoding of real text (control characters around it). */
#define STOP_SIGNAL "\x01\x02retrace-stop\x02\x01"
static const char *const STOP_SIGNAL_LIST[] = {STOP_SIGNAL, NULL};

typedef struct {
    rt_server *s;
    rt_completion *c;
    void (*emit)(void *ctx, const char *text, size_t len);
    void *emit_ctx;
    volatile int *cancel;
    size_t emitted; /* bytes of the text already handed out */
    int stopped;    /* a stop string was found at stop_at */
    size_t stop_at;
} run_ctx;

void rt_completion_free(rt_completion *c) {
    free(c->ids);
    for (char **p = c->stops; p && *p; p++) free(*p);
    free(c->stops), free(c->id), free(c->adapter);
    json_decref(c->retrace);
    memset(c, 0, sizeof *c);
}

/* The end of the last whole UTF-8 character at or before n (a token may end inside a character). */
static size_t utf8_boundary(const char *t, size_t n) {
    size_t i = n;
    while (i > 0 && ((unsigned char)t[i - 1] & 0xC0) == 0x80 && n - i < 3) i--;
    if (i == 0) return n;
    unsigned char lead = (unsigned char)t[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (i - 1) >= need ? n : i - 1;
}

/* Finds the first stop string in text[0..len); returns its offset or len. */
static size_t find_stop(const rt_completion *c, const char *text, size_t len) {
    size_t at = len;
    for (char **p = c->stops; p && *p; p++) {
        const char *hit = strstr(text, *p);
        if (hit && (size_t)(hit - text) < at) at = (size_t)(hit - text);
    }
    return at;
}

static void hand_out(run_ctx *x, const char *text, size_t upto) {
    if (x->emit && upto > x->emitted) x->emit(x->emit_ctx, text + x->emitted, upto - x->emitted);
    if (upto > x->emitted) x->emitted = upto;
}

static int hook(void *ctx, const int32_t *ids, int n, char *buf, int cap) {
    run_ctx *x = ctx;
    char *text;
    size_t len;
    if (rt_tokenizer_decode(x->s->tok, ids, (size_t)n, 1, &text, &len) != RT_OK) return -1;
    size_t stop = find_stop(x->c, text, len);
    if (stop < len) x->stopped = 1, x->stop_at = stop;
    /* Hold back what could still become the start of a stop string. */
    size_t hold = x->c->max_stop_len > 0 ? (size_t)x->c->max_stop_len - 1 : 0;
    size_t safe = x->stopped ? stop : (len > hold ? len - hold : 0);
    safe = utf8_boundary(text, safe);
    /* A decoder may show a token that ends inside a character as U+FFFD; the next token completes it. */
    while (!x->stopped && safe >= 3 && memcmp(text + safe - 3, "\xEF\xBF\xBD", 3) == 0) safe -= 3;
    hand_out(x, text, safe);
    free(text);
    if (!x->stopped && !(x->cancel && *x->cancel)) return 0;
    int k = (int)strlen(STOP_SIGNAL) < cap ? (int)strlen(STOP_SIGNAL) : cap;
    memcpy(buf, STOP_SIGNAL, (size_t)k);
    return k;
}

rt_status rt_completion_run(rt_server *s, rt_completion *c, void (*emit)(void *ctx, const char *text, size_t len),
                            void *emit_ctx, volatile int *cancel, char **text, int *n_tokens, const char **finish) {
    *text = NULL, *n_tokens = 0, *finish = "stop";
    run_ctx x = {s, c, emit, emit_ctx, cancel, 0, 0, 0};
    rt_gen_params gp = c->gp;
    if (emit || c->stops) gp.stop_strings = STOP_SIGNAL_LIST, gp.decode = hook, gp.decode_ctx = &x;
    int32_t *out = rt_malloc(sizeof(int32_t) * (size_t)(gp.max_new_tokens > 0 ? gp.max_new_tokens : 1));
    int n_out = 0;
    pthread_mutex_lock(&s->gen_lock);
    free(c->adapter), c->adapter = rt_server_adapter(s); /* the one this completion runs with */
    rt_status st = rt_generate(s->model, c->ids, c->n_ids, &gp, out, &n_out);
    pthread_mutex_unlock(&s->gen_lock);
    size_t len = 0;
    if (st == RT_OK) st = rt_tokenizer_decode(s->tok, out, (size_t)n_out, 1, text, &len);
    free(out);
    if (st != RT_OK) return st;
    size_t stop = find_stop(c, *text, len);
    if (stop < len) x.stopped = 1, len = stop, (*text)[len] = '\0';
    hand_out(&x, *text, len);
    *n_tokens = n_out;
    *finish = !x.stopped && n_out == gp.max_new_tokens ? "length" : "stop";
    return RT_OK;
}
