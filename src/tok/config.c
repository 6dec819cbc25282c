/* config.c: tokenizer_config.json: the BOS/EOS token names and the chat template. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* A token is given as a string or as {"content": string, ...}. */
static const char *token_name(json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    return json_string_value(json_object_get(v, "content"));
}

static rt_status token_id(rt_tokenizer *t, json_t *root, const char *key, const char *path, int32_t *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return RT_OK;
    const char *name = token_name(v);
    if (!name) return rt_fail(RT_ERR_FORMAT, "%s: field '%s' is neither a string nor {\"content\": ...}", path, key);
    *out = rt_tokenizer_token_to_id(t, name);
    if (*out < 0) return rt_fail(RT_ERR_FORMAT, "%s: %s '%s' is not a token of tokenizer.json", path, key, name);
    return RT_OK;
}

rt_status rt_tok_load_config(rt_tokenizer *t, const char *path) {
    /* model_max_length is often 1e30 written as an integer, which jansson only reads as a real. */
    char *data = NULL;
    size_t len = 0;
    RT_TRY(rt_file_read(path, &data, &len));
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_DECODE_INT_AS_REAL, &err);
    free(data);
    if (!root) return rt_fail(RT_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
    rt_status s = RT_OK;
    if (!json_is_object(root)) s = rt_fail(RT_ERR_FORMAT, "%s: the top level is not a JSON object", path);
    if (s == RT_OK) s = token_id(t, root, "bos_token", path, &t->bos_id);
    if (s == RT_OK) s = token_id(t, root, "eos_token", path, &t->eos_id);
    json_t *tpl = json_object_get(root, "chat_template");
    if (s == RT_OK && json_is_string(tpl)) {
        t->chat_template = rt_strdup(json_string_value(tpl));
    } else if (s == RT_OK && json_is_array(tpl)) {
        /* A list of named templates: transformers uses the one named "default". */
        size_t i;
        json_t *e;
        json_array_foreach(tpl, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            const char *text = json_string_value(json_object_get(e, "template"));
            if (name && text && strcmp(name, "default") == 0) t->chat_template = rt_strdup(text);
        }
    }
    t->config_name = rt_strdup(path);
    json_decref(root);
    return s;
}
