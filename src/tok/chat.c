/* chat.c: chat templates of known families, rendered in C exactly as transformers renders their Jinja
 * text. A template is recognised by the FNV-1a hash of its exact text, so an edited or unknown
 * template is refused with its hash rather than rendered as something close to it.
 *
 * Families: llama3 (the Llama 3 template of ../shared/models/tokenizers/llama3, which always ends with
 * the assistant header), qwen3 (ChatML with <think> handling; tools are not supported), chatml (the
 * plain ChatML template that `retrace tokenizer-train --chat-template chatml` writes). */
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

typedef rt_status (*render_fn)(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                               rt_tok_buf *out);

static rt_status render_llama3(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                               rt_tok_buf *out);
static rt_status render_qwen3(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                              rt_tok_buf *out);
static rt_status render_chatml(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                               rt_tok_buf *out);

/* FNV-1a of CHATML_TEMPLATE (test_tok_chat checks that they agree). */
#define CHATML_HASH 0x2bdb6446f8d36516ull
static const char CHATML_TEMPLATE[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const struct {
    uint64_t hash;
    const char *family;
    render_fn render;
} FAMILIES[] = {
    {0x74891e390e614ae2ull, "llama3", render_llama3},
    {0x2bfdb7aa9754484eull, "qwen3", render_qwen3},
    {CHATML_HASH, "chatml", render_chatml},
};

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

const char *rt_chat_template_text(const char *family) {
    return family && strcmp(family, "chatml") == 0 ? CHATML_TEMPLATE : NULL;
}

static int family_index(const rt_tokenizer *t) {
    if (!t->chat_template) return -1;
    uint64_t h = fnv1a(t->chat_template);
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (FAMILIES[i].hash == h) return (int)i;
    return -1;
}

const char *rt_chat_family(const rt_tokenizer *t) {
    int k = family_index(t);
    return k < 0 ? NULL : FAMILIES[k].family;
}

static void puts_buf(rt_tok_buf *b, const char *s) { rt_tok_buf_put(b, s, strlen(s)); }

/* Python's str.isspace for one code point (Jinja's trim is str.strip()). */
static int py_space(int32_t c) { return rt_tok_is_space(c) || (c >= 0x1C && c <= 0x1F); }

/* Appends s with Python whitespace stripped at both ends. */
static void put_trimmed(rt_tok_buf *b, const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), a = 0, e = n;
    while (a < e) {
        int32_t cp;
        size_t l = rt_tok_utf8_valid_len(u + a, e - a);
        if (!l) break;
        rt_tok_utf8_decode(u + a, &cp);
        if (!py_space(cp)) break;
        a += l;
    }
    while (e > a) {
        size_t k = e - 1;
        while (k > a && (u[k] & 0xC0) == 0x80) k--;
        int32_t cp;
        if (!rt_tok_utf8_valid_len(u + k, e - k)) break;
        rt_tok_utf8_decode(u + k, &cp);
        if (!py_space(cp)) break;
        e = k;
    }
    rt_tok_buf_put(b, s + a, e - a);
}

static rt_status render_llama3(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                               rt_tok_buf *out) {
    (void)p; /* this template adds the assistant header whether or not it is asked for */
    const char *bos = t->bos_id >= 0 ? t->tokens[t->bos_id] : "";
    for (size_t i = 0; i < n; i++) {
        if (i == 0) puts_buf(out, bos);
        puts_buf(out, "<|start_header_id|>");
        puts_buf(out, m[i].role);
        puts_buf(out, "<|end_header_id|>\n\n");
        put_trimmed(out, m[i].content);
        puts_buf(out, "<|eot_id|>");
    }
    puts_buf(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return RT_OK;
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int ends_with(const char *s, const char *p) {
    size_t a = strlen(s), b = strlen(p);
    return a >= b && memcmp(s + a - b, p, b) == 0;
}

/* [a, e) of s with '\n' stripped on the chosen sides (Python's strip('\n') family). */
static void strip_nl(const char *s, size_t *a, size_t *e, int left, int right) {
    while (left && *a < *e && s[*a] == '\n') (*a)++;
    while (right && *e > *a && s[*e - 1] == '\n') (*e)--;
}

/* Last occurrence of p in s[0..n), or NULL. */
static const char *find_last(const char *s, size_t n, const char *p) {
    size_t pl = strlen(p);
    for (size_t i = n >= pl ? n - pl + 1 : 0; i-- > 0;)
        if (memcmp(s + i, p, pl) == 0) return s + i;
    return NULL;
}

static rt_status render_qwen3(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                              rt_tok_buf *out) {
    (void)t;
    if (n == 0) return rt_fail(RT_ERR_ARG, "qwen3 chat template: the conversation has no messages");
    if (strcmp(m[0].role, "system") == 0) {
        puts_buf(out, "<|im_start|>system\n");
        puts_buf(out, m[0].content);
        puts_buf(out, "<|im_end|>\n");
    }
    /* The last user message that is not a tool response: assistant turns after it show their thinking. */
    size_t last_query = n - 1;
    for (size_t k = n; k-- > 0;) {
        if (strcmp(m[k].role, "user") == 0 &&
            !(starts_with(m[k].content, "<tool_response>") && ends_with(m[k].content, "</tool_response>"))) {
            last_query = k;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *role = m[i].role, *c = m[i].content;
        if (strcmp(role, "user") == 0 || (strcmp(role, "system") == 0 && i > 0)) {
            puts_buf(out, "<|im_start|>");
            puts_buf(out, role);
            puts_buf(out, "\n");
            puts_buf(out, c);
            puts_buf(out, "<|im_end|>\n");
        } else if (strcmp(role, "assistant") == 0) {
            size_t ca = 0, ce = strlen(c);
            const char *rs = "";
            size_t ra = 0, re = 0;
            if (m[i].reasoning_content) {
                rs = m[i].reasoning_content;
                re = strlen(rs);
            } else if (strstr(c, "</think>")) {
                /* content = after the last </think>, lstrip('\n');
                 * reasoning = before the first </think>, rstrip('\n'), after its last <think>, lstrip('\n') */
                const char *last_close = find_last(c, ce, "</think>");
                ca = (size_t)(last_close - c) + strlen("</think>");
                strip_nl(c, &ca, &ce, 1, 0);
                size_t first_close = (size_t)(strstr(c, "</think>") - c);
                rs = c;
                re = first_close;
                strip_nl(rs, &ra, &re, 0, 1);
                const char *open = find_last(rs, re, "<think>");
                if (open) ra = (size_t)(open - rs) + strlen("<think>");
                strip_nl(rs, &ra, &re, 1, 0);
            }
            puts_buf(out, "<|im_start|>assistant\n");
            if (i > last_query && (i == n - 1 || re > ra)) {
                size_t sa = ra, se = re, xa = ca, xe = ce;
                strip_nl(rs, &sa, &se, 1, 1);
                strip_nl(c, &xa, &xe, 1, 0);
                puts_buf(out, "<think>\n");
                rt_tok_buf_put(out, rs + sa, se - sa);
                puts_buf(out, "\n</think>\n\n");
                rt_tok_buf_put(out, c + xa, xe - xa);
            } else {
                rt_tok_buf_put(out, c + ca, ce - ca);
            }
            puts_buf(out, "<|im_end|>\n");
        } else if (strcmp(role, "tool") == 0) {
            if (i == 0 || strcmp(m[i - 1].role, "tool") != 0) puts_buf(out, "<|im_start|>user");
            puts_buf(out, "\n<tool_response>\n");
            puts_buf(out, c);
            puts_buf(out, "\n</tool_response>");
            if (i == n - 1 || strcmp(m[i + 1].role, "tool") != 0) puts_buf(out, "<|im_end|>\n");
        }
        /* Other roles render nothing in this template. */
    }
    if (p->add_generation_prompt) {
        puts_buf(out, "<|im_start|>assistant\n");
        if (p->enable_thinking == 0) puts_buf(out, "<think>\n\n</think>\n\n");
    }
    return RT_OK;
}

static rt_status render_chatml(const rt_tokenizer *t, const rt_chat_message *m, size_t n, const rt_chat_params *p,
                               rt_tok_buf *out) {
    (void)t;
    for (size_t i = 0; i < n; i++) {
        puts_buf(out, "<|im_start|>");
        puts_buf(out, m[i].role);
        puts_buf(out, "\n");
        puts_buf(out, m[i].content);
        puts_buf(out, "<|im_end|>\n");
    }
    if (p->add_generation_prompt) puts_buf(out, "<|im_start|>assistant\n");
    return RT_OK;
}

rt_chat_params rt_chat_params_default(void) {
    rt_chat_params p = {0, -1};
    return p;
}

rt_status rt_chat_render(const rt_tokenizer *t, const rt_chat_message *msgs, size_t n_msgs, int add_generation_prompt,
                         char **out) {
    rt_chat_params p = rt_chat_params_default();
    p.add_generation_prompt = add_generation_prompt;
    return rt_chat_render_ex(t, msgs, n_msgs, &p, out);
}

rt_status rt_chat_render_ex(const rt_tokenizer *t, const rt_chat_message *msgs, size_t n_msgs,
                            const rt_chat_params *params, char **out) {
    *out = NULL;
    const char *where = t->config_name ? t->config_name : t->name;
    if (!t->chat_template) return rt_fail(RT_ERR_UNSUPPORTED, "%s: no chat_template is set", where);
    int k = family_index(t);
    if (k < 0)
        return rt_fail(RT_ERR_UNSUPPORTED,
                       "%s: chat_template (fnv1a %016llx, starting '%.40s') is not a known family (llama3, qwen3)",
                       where, (unsigned long long)fnv1a(t->chat_template), t->chat_template);
    for (size_t i = 0; i < n_msgs; i++)
        if (!msgs[i].role || !msgs[i].content) return rt_fail(RT_ERR_ARG, "chat message %zu has no role or content", i);
    rt_tok_buf b = {0};
    rt_status s = FAMILIES[k].render(t, msgs, n_msgs, params, &b);
    if (s != RT_OK) {
        rt_tok_buf_free(&b);
        return s;
    }
    if (!b.p) rt_tok_buf_put(&b, "", 0);
    *out = b.p;
    return RT_OK;
}
