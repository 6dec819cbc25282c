/* h_chat.c: POST /v1/chat/completions and GET /v1/models, OpenAI-compatible. The messages go through
 * the tokenizer's chat template; with a `retrace` object the server retrieves experience and docs
 * and builds the agent's prompt (rt_retrieve + rt_prompt_build, as the agent does), sent as the last
 * user message, and says in the response what it retrieved. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retrace/agent_context.h"
#include "serve/serve_internal.h"

#define MAX_MESSAGES 1024
#define MAX_STOPS 4
#define DEFAULT_MAX_TOKENS 256

static const char *const CHAT_KEYS[] = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop",
                                        "seed", "stream", "n", "retrace", "user", "stream_options", "presence_penalty",
                                        "frequency_penalty", "logit_bias", "response_format", NULL};
static const char *const RETRACE_KEYS[] = {"task", "env", "history", "first_observation", "k", "negatives", "weight", "docs",
                                           "api_versions", "budget_tokens", "chat", NULL};

void rt_h_models(rt_server *s, rt_req *r, rt_reply *out) {
    json_t *data = json_array();
    if (s->has_model) {
        char *adapter = rt_server_adapter(s);
        json_array_append_new(data, json_pack("{s:s, s:s, s:I, s:s, s:s?}", "id", s->model_name, "object", "model", "created",
                                              (json_int_t)time(NULL), "owned_by", "retrace", "adapter", adapter));
        free(adapter);
    }
    rt_reply_json(out, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined). */
static char *content_text(json_t *c, int i, rt_reply *out) {
    if (json_is_string(c)) return rt_strdup(json_string_value(c));
    if (!json_is_array(c)) return rt_reply_error(out, 400, "$.messages[%d].content: expected a string or an array of text parts", i), NULL;
    rt_strbuf b = {0};
    rt_strbuf_add(&b, "");
    size_t j;
    json_t *part;
    json_array_foreach(c, j, part) {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (!t) {
            free(b.buf);
            return rt_reply_error(out, 400, "$.messages[%d].content[%zu].text: expected a string", i, j), NULL;
        }
        rt_strbuf_add(&b, t);
    }
    return b.buf;
}

typedef struct {
    rt_chat_message *msgs;
    char **texts;
    int n;
} messages;

static void messages_free(messages *m) {
    for (int i = 0; i < m->n; i++) free(m->texts[i]);
    free(m->texts), free(m->msgs);
}

static int parse_messages(json_t *arr, int need, messages *m, rt_reply *out) {
    memset(m, 0, sizeof *m);
    if (!arr && !need) arr = json_array(); else json_incref(arr);
    if (!json_is_array(arr) || json_array_size(arr) > MAX_MESSAGES || (need && json_array_size(arr) == 0)) {
        json_decref(arr);
        return rt_reply_error(out, 400, "$.messages: expected an array of 1..%d messages", MAX_MESSAGES), -1;
    }
    size_t n = json_array_size(arr);
    m->msgs = rt_calloc(n + 1, sizeof *m->msgs), m->texts = rt_calloc(n + 1, sizeof *m->texts);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        const char *role = json_string_value(json_object_get(o, "role"));
        if (role && !strcmp(role, "developer")) role = "system";
        if (!role || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))) {
            json_decref(arr);
            return rt_reply_error(out, 400, "$.messages[%zu].role: expected system, user or assistant", i), -1;
        }
        char *t = content_text(json_object_get(o, "content"), (int)i, out);
        if (!t) return json_decref(arr), -1;
        m->texts[m->n] = t;
        m->msgs[m->n++] = (rt_chat_message){role, t, NULL};
    }
    json_decref(arr);
    return 0;
}

static int parse_stops(json_t *v, rt_completion *c, rt_reply *out) {
    if (!v || json_is_null(v)) return 0;
    json_t *arr = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    int ok = json_is_array(arr) && json_array_size(arr) <= MAX_STOPS;
    c->stops = rt_calloc(MAX_STOPS + 1, sizeof *c->stops);
    for (size_t i = 0, k = 0; ok && i < json_array_size(arr); i++) {
        const char *t = json_string_value(json_array_get(arr, i));
        if (!t || strlen(t) != json_string_length(json_array_get(arr, i))) ok = 0;
        else if (*t) c->stops[k++] = rt_strdup(t), c->max_stop_len = (int)strlen(t) > c->max_stop_len ? (int)strlen(t) : c->max_stop_len;
    }
    json_decref(arr);
    if (!ok) rt_reply_error(out, 400, "$.stop: expected a string or an array of up to %d strings", MAX_STOPS);
    return ok ? 0 : -1;
}

/* The history of a `retrace` request as the prompt builder's steps (views into the JSON). */
static int parse_history(json_t *h, rt_memory_step **steps, int *n, rt_reply *out) {
    *steps = NULL, *n = 0;
    if (!h || json_is_null(h)) return 0;
    if (!json_is_array(h) || json_array_size(h) > 10000) return rt_reply_error(out, 400, "$.retrace.history: expected an array of steps"), -1;
    *steps = rt_calloc(json_array_size(h) + 1, sizeof **steps);
    size_t i;
    json_t *st;
    json_array_foreach(h, i, st) {
        if (!json_is_object(st)) return rt_reply_error(out, 400, "$.retrace.history[%zu]: expected an object", i), -1;
        char path[64];
        snprintf(path, sizeof path, "$.retrace.history[%zu]", i);
        if (rt_field_str(st, path, "thought", &(*steps)[i].thought, out) || rt_field_str(st, path, "action", &(*steps)[i].action, out) ||
            rt_field_str(st, path, "observation", &(*steps)[i].observation, out))
            return -1;
        (*n)++;
    }
    return 0;
}

static json_t *hits_json(const rt_memory_hit *const *h, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:f, s:f}", "id", h[i]->id, "task_type", h[i]->task_type, "outcome",
                                           h[i]->outcome, "score", h[i]->score, "similarity", h[i]->similarity));
    return a;
}

/* Retrieves for the `retrace` object and appends the built prompt to the messages; *info says what
 * was retrieved. Returns -1 after setting an error reply. */
static int build_retrace(rt_server *s, json_t *parent, json_t *o, messages *m, int *raw, json_t **info, rt_reply *out) {
    if (!json_is_object(o)) return rt_reply_error(out, 400, "$.retrace: expected an object"), -1;
    if (rt_fields_known(o, "$.retrace", RETRACE_KEYS, out)) return -1;
    /* Each request builds its context afresh, so retrieval runs every time (dynamic: the task and the
     * last steps of the history as the key, the agent's default). */
    rt_retrieval_params rp = rt_retrieval_params_default();
    rp.dynamic = 1;
    const char *task = NULL, *env = NULL, *obs0 = NULL;
    long long k = rp.k, neg = rp.negatives, budget = s->p.budget_tokens;
    int docs = rp.docs, chat = 1;
    json_t *versions = json_object_get(o, "api_versions");
    if (rt_field_str(o, "$.retrace", "task", &task, out) || rt_field_str(o, "$.retrace", "env", &env, out) ||
        rt_field_str(o, "$.retrace", "first_observation", &obs0, out) || rt_field_int(o, "$.retrace", "k", 1, 100, &k, out) ||
        rt_field_int(o, "$.retrace", "negatives", 0, 100, &neg, out) || rt_field_num(o, "$.retrace", "weight", 0, 1, &rp.reward_weight, out) ||
        rt_field_bool(o, "$.retrace", "docs", &docs, out) || rt_field_bool(o, "$.retrace", "chat", &chat, out) ||
        rt_field_int(o, "$.retrace", "budget_tokens", 16, 1 << 20, &budget, out))
        return -1;
    if (!task) return rt_reply_error(out, 400, "$.retrace.task: required (a string)"), -1;
    /* The prompt must leave room for the answer in the model's context (and the chat template's text). */
    json_int_t want = json_integer_value(json_object_get(parent, "max_tokens"));
    int room = s->ctx_len - (int)(want > 0 && want < (1 << 20) ? want : DEFAULT_MAX_TOKENS / 4) - 64;
    if (!json_object_get(o, "budget_tokens") && budget > room) budget = room > 16 ? room : 16;
    if (versions && !json_is_object(versions)) return rt_reply_error(out, 400, "$.retrace.api_versions: expected an object {tool: version}"), -1;
    rt_memory_step *hist;
    int n_hist;
    if (parse_history(json_object_get(o, "history"), &hist, &n_hist, out)) return free(hist), -1;
    rp.k = (int)k, rp.negatives = (int)neg, rp.docs = docs;
    /* The agent's own context step: the same retrieval and the same prompt builder. */
    rt_context_config cfg = {.memory = s->mem, .tok = s->tok, .retrieval = rp, .budget_tokens = (int)budget};
    rt_retrieve_spec spec = {.env = env, .task = task, .history = hist, .n_history = n_hist, .api_versions = versions};
    rt_agent_context ctx = {0};
    rt_status st = rt_agent_context_build(&cfg, &spec, obs0, &ctx);
    if (st == RT_OK) {
        const rt_retrieved *rr = &ctx.retrieved;
        const rt_prompt_stats *ps = &ctx.stats;
        json_t *d = json_array();
        for (int i = 0; i < rr->n_docs; i++) json_array_append_new(d, json_pack("{s:s, s:s}", "tool", rr->docs[i].tool, "version", rr->docs[i].version));
        *info = json_pack("{s:{s:o, s:o, s:o}, s:i, s:{s:i, s:i, s:i, s:i, s:i}}", "retrieved", "successes", hits_json(rr->succ_hit, rr->n_succ),
                          "failures", hits_json(rr->fail_hit, rr->n_fail), "docs", d, "prompt_tokens", ps->tokens, "dropped", "successes",
                          ps->dropped_successes, "failures", ps->dropped_failures, "docs", ps->dropped_docs, "history", ps->dropped_history,
                          "thoughts", ps->dropped_thoughts);
        m->texts = rt_realloc(m->texts, sizeof *m->texts * (size_t)(m->n + 1));
        m->msgs = rt_realloc(m->msgs, sizeof *m->msgs * (size_t)(m->n + 1));
        m->texts[m->n] = ctx.prompt;
        m->msgs[m->n] = (rt_chat_message){"user", ctx.prompt, NULL};
        ctx.prompt = NULL; /* owned by the messages now */
        m->n++;
        *raw = !chat;
    } else rt_reply_status(out, st);
    rt_agent_context_free(&ctx);
    free(hist);
    return st == RT_OK ? 0 : -1;
}

/* The prompt's tokens: the messages through the chat template, or (raw) the last message's text with
 * the tokenizer's special tokens, as `retrace generate` without --chat. */
static int tokenize(rt_server *s, const messages *m, int raw, rt_completion *c, rt_reply *out) {
    char *rendered = NULL;
    rt_status st = RT_OK;
    if (!raw && (st = rt_chat_render(s->tok, m->msgs, (size_t)m->n, 1, &rendered)) != RT_OK)
        return rt_reply_error(out, 400, "the chat template cannot render these messages: %s", rt_errmsg()), -1;
    const char *text = raw ? m->msgs[m->n - 1].content : rendered;
    rt_tok_ids ids = {0};
    st = rt_tokenizer_encode(s->tok, text, strlen(text), raw ? RT_TOK_ADD_SPECIAL : 0, &ids);
    free(rendered);
    if (st != RT_OK) return rt_reply_status(out, st), -1;
    c->ids = ids.ids, c->n_ids = (int)ids.n;
    if (ids.n == 0) return rt_reply_error(out, 400, "$.messages: the prompt is empty"), -1;
    return 0;
}

/* Sampling settings; max_tokens is cut to what the context has left. */
static int parse_sampling(rt_server *s, json_t *o, rt_completion *c, rt_reply *out) {
    long long max_tokens = DEFAULT_MAX_TOKENS, seed = 0, n = 1, top_k = 0;
    double temperature = 1.0, top_p = 1.0;
    if (rt_field_int(o, "$", "max_tokens", 1, 1 << 20, &max_tokens, out) ||
        rt_field_int(o, "$", "max_completion_tokens", 1, 1 << 20, &max_tokens, out) ||
        rt_field_num(o, "$", "temperature", 0, 2, &temperature, out) || rt_field_num(o, "$", "top_p", 1e-6, 1, &top_p, out) ||
        rt_field_int(o, "$", "top_k", 0, 1 << 30, &top_k, out) ||
        rt_field_int(o, "$", "seed", -(1LL << 62), 1LL << 62, &seed, out) || rt_field_int(o, "$", "n", 1, 1, &n, out) ||
        parse_stops(json_object_get(o, "stop"), c, out))
        return -1;
    int ctx = s->ctx_len;
    if (c->n_ids >= ctx) return rt_reply_error(out, 400, "$.messages: the prompt has %d tokens; the model's context is %d", c->n_ids, ctx), -1;
    if (max_tokens > ctx - c->n_ids) max_tokens = ctx - c->n_ids;
    c->gp = rt_gen_params_default();
    c->gp.max_new_tokens = (int)max_tokens, c->gp.temperature = (float)temperature, c->gp.top_p = (float)top_p;
    c->gp.top_k = (int)top_k;
    c->gp.seed = (uint64_t)seed, c->gp.eos_token_id = rt_tokenizer_eos_id(s->tok), c->gp.vocab_limit = rt_tokenizer_vocab_size(s->tok);
    return 0;
}

static void reply_completion(rt_server *s, rt_completion *c, json_t *info, rt_reply *out) {
    char *text;
    int n;
    const char *finish;
    rt_status st = rt_completion_run(s, c, NULL, NULL, NULL, &text, &n, &finish);
    if (st != RT_OK) return json_decref(info), rt_reply_status(out, st);
    json_t *content = json_string(text);
    if (!content) content = json_string("\xEF\xBF\xBD"); /* not UTF-8: a model may emit stray bytes */
    free(text);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:[{s:i, s:{s:s, s:o}, s:s}], s:{s:i, s:i, s:i}}", "id", c->id, "object",
                          "chat.completion", "created", (json_int_t)time(NULL), "model", s->model_name, "adapter", c->adapter,
                          "choices", "index", 0, "message", "role", "assistant", "content", content, "finish_reason", finish, "usage",
                          "prompt_tokens", c->n_ids, "completion_tokens", n, "total_tokens", c->n_ids + n);
    if (info) json_object_set_new(o, "retrace", info);
    rt_reply_json(out, 200, o);
}

void rt_h_chat(rt_server *s, rt_req *r, rt_reply *out) {
    if (!s->has_model) return rt_reply_error(out, 404, "this server has no model (start it with --model)");
    json_t *o = rt_body_object(r, out);
    if (!o) return;
    json_t *rq = json_object_get(o, "retrace"), *info = NULL;
    int stream = 0, raw = 0;
    messages m = {0};
    rt_completion c = {0};
    if (rt_fields_known(o, "$", CHAT_KEYS, out) || rt_field_bool(o, "$", "stream", &stream, out) ||
        parse_messages(json_object_get(o, "messages"), !rq || json_is_null(rq), &m, out) ||
        (rq && !json_is_null(rq) && build_retrace(s, o, rq, &m, &raw, &info, out)) || tokenize(s, &m, raw, &c, out) ||
        parse_sampling(s, o, &c, out)) {
        json_decref(info);
    } else {
        char id[48];
        snprintf(id, sizeof id, "chatcmpl-%llx-%llu", (unsigned long long)(s->t_start * 1000), (unsigned long long)atomic_fetch_add(&s->completion_seq, 1));
        c.id = rt_strdup(id);
        if (stream) {
            out->status = 200;
            out->stream = rt_stream_response(s, &c, info);
        } else reply_completion(s, &c, info, out);
    }
    rt_completion_free(&c);
    messages_free(&m);
    json_decref(o);
}
