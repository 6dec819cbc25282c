/* chat.c: chat templates are run, not recognised: the tokenizer's Jinja chat_template is rendered by
 * the interpreter of src/tok/jinja_*.c with the variables transformers' apply_chat_template passes:
 * messages (role, content, and reasoning_content when set), add_generation_prompt, the special tokens
 * bos_token and eos_token (when the tokenizer has them), enable_thinking (when set), and tools and
 * documents as none. A few well-known templates are still named by the FNV-1a hash of their text, for
 * display only (rt_chat_family). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

/* FNV-1a of CHATML_TEMPLATE (test_tok_chat checks that they agree). */
#define CHATML_HASH 0x2bdb6446f8d36516ull
static const char CHATML_TEMPLATE[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const struct {
    uint64_t hash;
    const char *family;
} FAMILIES[] = {
    {0x74891e390e614ae2ull, "llama3"},
    {0x2bfdb7aa9754484eull, "qwen3"},
    {CHATML_HASH, "chatml"},
};

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

const char *rt_chat_template_text(const char *family) {
    return family && strcmp(family, "chatml") == 0 ? CHATML_TEMPLATE : NULL;
}

const char *rt_chat_family(const rt_tokenizer *t) {
    if (!t->chat_template) return NULL;
    uint64_t h = fnv1a(t->chat_template);
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (FAMILIES[i].hash == h) return FAMILIES[i].family;
    return NULL;
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

static void bind_vars(jx_ctx *c, const void *arg) {
    const rt_tok_chat_vars *v = arg;
    jv msgs = jv_list_new(c, v->n_msgs + 1);
    for (size_t i = 0; i < v->n_msgs; i++) {
        jv m = jv_dict_new(c, 3);
        jv_dict_set(c, &m, jv_cstr("role"), jv_cstr(v->msgs[i].role));
        jv_dict_set(c, &m, jv_cstr("content"), jv_cstr(v->msgs[i].content));
        if (v->msgs[i].reasoning_content)
            jv_dict_set(c, &m, jv_cstr("reasoning_content"), jv_cstr(v->msgs[i].reasoning_content));
        jv_list_push(c, &msgs, m);
    }
    jx_set_var(c, "messages", msgs);
    jx_set_var(c, "tools", jv_none());
    jx_set_var(c, "documents", jv_none());
    jx_set_var(c, "add_generation_prompt", jv_bool(v->params.add_generation_prompt));
    if (v->bos_token) jx_set_var(c, "bos_token", jv_cstr(v->bos_token));
    if (v->eos_token) jx_set_var(c, "eos_token", jv_cstr(v->eos_token));
    if (v->params.enable_thinking >= 0) jx_set_var(c, "enable_thinking", jv_bool(v->params.enable_thinking));
}

rt_status rt_tok_chat_render_template(const char *tmpl, const char *where, const rt_tok_chat_vars *vars, char **out) {
    *out = NULL;
    for (size_t i = 0; i < vars->n_msgs; i++)
        if (!vars->msgs[i].role || !vars->msgs[i].content)
            return rt_fail(RT_ERR_ARG, "chat message %zu has no role or content", i);
    return rt_tok_jinja_render(tmpl, where, bind_vars, vars, out);
}

rt_status rt_chat_render_ex(const rt_tokenizer *t, const rt_chat_message *msgs, size_t n_msgs,
                            const rt_chat_params *params, char **out) {
    *out = NULL;
    const char *file = t->config_name ? t->config_name : t->name;
    if (!t->chat_template) return rt_fail(RT_ERR_UNSUPPORTED, "%s: no chat_template is set", file);
    char where[1024];
    snprintf(where, sizeof where, "%s: chat_template", file);
    rt_tok_chat_vars v = {msgs, n_msgs, *params, NULL, NULL};
    if (t->bos_id >= 0 && t->bos_id < t->n_ids) v.bos_token = t->tokens[t->bos_id];
    if (t->eos_id >= 0 && t->eos_id < t->n_ids) v.eos_token = t->tokens[t->eos_id];
    return rt_tok_chat_render_template(t->chat_template, where, &v, out);
}
