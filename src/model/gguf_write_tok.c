/* gguf_write_tok.c: a byte-level BPE tokenizer.json as llama.cpp's `gpt2` tokenizer metadata.
 *
 * tokenizer.ggml.tokens lists every id's string (the vocabulary in GPT-2's byte-to-char mapping, as
 * tokenizer.json holds it), token_type marks added special tokens as control (3) and other added tokens
 * as user-defined (4), ids the tokenizer lacks up to the model's vocab_size become "[PAD<id>]" unused
 * tokens (5), as convert_hf_to_gguf.py pads them. Merges are "left right" strings. The pre-tokenizer
 * name is guessed from the Split regex (llama.cpp picks its regex by this name); BOS/EOS/padding ids come
 * from tokenizer_config.json, else config.json; add_bos_token from tokenizer_config.json or a
 * TemplateProcessing post-processor that starts with a special token. SentencePiece-style tokenizers
 * (`llama`: byte fallback, scores) are not written. From a GGUF source, the tokenizer.* keys are copied
 * as they are. */
#include "gguf_write_internal.h"
#include "retrace/gguf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { TOKTYPE_NORMAL = 1, TOKTYPE_CONTROL = 3, TOKTYPE_USER_DEFINED = 4, TOKTYPE_UNUSED = 5 };
#define PAD_NAME_BYTES 32

/* Finds the first Split regex in a (possibly nested Sequence) pre-tokenizer. */
static const char *split_regex(const json_t *pt) {
    if (!json_is_object(pt)) return NULL;
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (type && strcmp(type, "Split") == 0) return json_string_value(json_object_get(json_object_get(pt, "pattern"), "Regex"));
    const json_t *list = json_object_get(pt, "pretokenizers");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *r = split_regex(json_array_get(list, i));
        if (r) return r;
    }
    return NULL;
}

static int has_type(const json_t *pt, const char *want) {
    if (!json_is_object(pt)) return 0;
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (type && strcmp(type, want) == 0) return 1;
    const json_t *list = json_object_get(pt, "pretokenizers");
    for (size_t i = 0; i < json_array_size(list); i++)
        if (has_type(json_array_get(list, i), want)) return 1;
    return 0;
}

/* llama.cpp's names for the regexes of the families retrace handles. */
static const char *guess_pre(const json_t *tok) {
    const json_t *pt = json_object_get(tok, "pre_tokenizer");
    const char *re = split_regex(pt);
    if (re && strstr(re, "\\p{N}{1,3}")) return "llama-bpe";
    if (re && strstr(re, "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|")) return "qwen2";
    if (has_type(pt, "Digits") && has_type(pt, "ByteLevel")) return "smollm";
    if (!re && has_type(pt, "ByteLevel")) return "gpt-2";
    return "default";
}

/* A special token in tokenizer_config.json: a string or {"content": ...}. */
static const char *config_token(const json_t *cfg, const char *key) {
    const json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_string_value(v);
}

static rt_status fill_tokens(const json_t *tok, const char *path, int n, char **tokens, int32_t *types) {
    const json_t *vocab = json_object_get(json_object_get(tok, "model"), "vocab");
    if (!json_is_object(vocab)) return rt_fail(RT_ERR_FORMAT, "%s: model.vocab is not an object", path);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= n)
            return rt_fail(RT_ERR_FORMAT, "%s: token '%s' has id outside the model's vocabulary of %d", path, key, n);
        tokens[id] = (char *)key, types[id] = TOKTYPE_NORMAL;
    }
    const json_t *added = json_object_get(tok, "added_tokens"), *a;
    size_t i;
    json_array_foreach(added, i, a) {
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!content || id < 0 || id >= n)
            return rt_fail(RT_ERR_FORMAT, "%s: added token %zu has no content or an id outside the vocabulary of %d", path, i, n);
        tokens[id] = (char *)content;
        types[id] = json_is_true(json_object_get(a, "special")) ? TOKTYPE_CONTROL : TOKTYPE_USER_DEFINED;
    }
    return RT_OK;
}

static rt_status put_merges(rt_gguf_writer *w, const json_t *tok, const char *path) {
    const json_t *merges = json_object_get(json_object_get(tok, "model"), "merges");
    size_t n = json_array_size(merges);
    char **list = rt_calloc(n ? n : 1, sizeof *list);
    rt_status s = RT_OK;
    for (size_t i = 0; i < n && s == RT_OK; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a = json_string_value(json_array_get(m, 0)), *b = json_string_value(json_array_get(m, 1));
        if (json_is_string(m)) list[i] = rt_strdup(json_string_value(m));
        else if (a && b) {
            /* The newer [left, right] form; the GGUF form is "left right". */
            list[i] = rt_malloc(strlen(a) + strlen(b) + 2);
            sprintf(list[i], "%s %s", a, b);
        } else s = rt_fail(RT_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [a, b]", path, i);
    }
    if (s == RT_OK) s = rt_gguf_writer_set_str_array(w, "tokenizer.ggml.merges", (const char *const *)list, n);
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
    return s;
}

static int token_id(char **tokens, int n, const char *text) {
    for (int i = 0; text && i < n; i++)
        if (tokens[i] && strcmp(tokens[i], text) == 0) return i;
    return -1;
}

/* add_bos_token from tokenizer_config.json, else from a TemplateProcessing that starts with a special. */
static int adds_bos(const json_t *tok, const json_t *cfg) {
    const json_t *v = json_object_get(cfg, "add_bos_token");
    if (json_is_boolean(v)) return json_is_true(v);
    const json_t *pp = json_object_get(tok, "post_processor");
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (!type || strcmp(type, "TemplateProcessing") != 0) return 0;
    return json_object_get(json_array_get(json_object_get(pp, "single"), 0), "SpecialToken") != NULL;
}

static rt_status put_specials(rt_gguf_writer *w, const json_t *tok, const json_t *cfg, char **tokens, int n,
                              const rt_model_config *c) {
    int bos = token_id(tokens, n, config_token(cfg, "bos_token")), eos = token_id(tokens, n, config_token(cfg, "eos_token"));
    int pad = token_id(tokens, n, config_token(cfg, "pad_token"));
    if (bos < 0) bos = c->bos_token_id;
    if (eos < 0) eos = c->eos_token_id;
    if (bos >= 0) RT_TRY(rt_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos));
    if (eos >= 0) RT_TRY(rt_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos));
    if (pad >= 0) RT_TRY(rt_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad));
    RT_TRY(rt_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", adds_bos(tok, cfg)));
    const char *tmpl = json_string_value(json_object_get(cfg, "chat_template"));
    return tmpl ? rt_gguf_writer_set_str(w, "tokenizer.chat_template", tmpl) : RT_OK;
}

static rt_status put_vocab(rt_gguf_writer *w, const json_t *tok, const json_t *cfg, const char *path, const char *pre,
                           const rt_model_config *c) {
    int n = c->vocab_size;
    char **tokens = rt_calloc((size_t)n, sizeof *tokens), *pads = rt_malloc((size_t)n * PAD_NAME_BYTES);
    int32_t *types = rt_calloc((size_t)n, sizeof *types);
    rt_status s = fill_tokens(tok, path, n, tokens, types);
    for (int i = 0; i < n && s == RT_OK; i++)
        if (!tokens[i]) {
            snprintf(pads + (size_t)i * PAD_NAME_BYTES, PAD_NAME_BYTES, "[PAD%d]", i);
            tokens[i] = pads + (size_t)i * PAD_NAME_BYTES, types[i] = TOKTYPE_UNUSED;
        }
    if (s == RT_OK) s = rt_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (s == RT_OK) s = rt_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre ? pre : guess_pre(tok));
    if (s == RT_OK) s = rt_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens", (const char *const *)tokens, (size_t)n);
    if (s == RT_OK) s = rt_gguf_writer_set_i32_array(w, "tokenizer.ggml.token_type", types, (size_t)n);
    if (s == RT_OK) s = put_merges(w, tok, path);
    if (s == RT_OK) s = put_specials(w, tok, cfg, tokens, n, c);
    free(tokens), free(pads), free(types);
    return s;
}

static rt_status put_tokenizer_json(rt_gguf_writer *w, const char *dir, const char *pre, const rt_model_config *c) {
    char *path = rt_path_join(dir, "tokenizer.json"), *cfg_path = rt_path_join(dir, "tokenizer_config.json");
    json_t *tok = NULL, *cfg = NULL;
    rt_status s = rt_json_load(path, &tok);
    const json_t *model = json_object_get(tok, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (s == RT_OK && (!type || strcmp(type, "BPE") != 0 || json_is_true(json_object_get(model, "byte_fallback")) ||
                       !has_type(json_object_get(tok, "pre_tokenizer"), "ByteLevel")))
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: only byte-level BPE tokenizers are written to GGUF (this one is %s%s)", path,
                    type ? type : "of no model type", json_is_true(json_object_get(model, "byte_fallback")) ? " with byte fallback" : "");
    if (s == RT_OK && rt_path_exists(cfg_path)) s = rt_json_load(cfg_path, &cfg);
    if (s == RT_OK) s = put_vocab(w, tok, cfg, path, pre, c);
    json_decref(tok), json_decref(cfg);
    free(path), free(cfg_path);
    return s;
}

/* The start of a value's encoding: a string's length and an array's element type and count come
 * before the data the reader points at. */
static const uint8_t *value_start(const rt_gguf_value *v) {
    return v->type == RT_GGUF_STRING ? v->data - 8 : v->type == RT_GGUF_ARRAY ? v->data - 12 : v->data;
}

static rt_status put_tokenizer_gguf(rt_gguf_writer *w, const char *path) {
    rt_gguf *g = NULL;
    RT_TRY(rt_gguf_open(path, &g));
    rt_status s = RT_OK;
    int copied = 0;
    for (int i = 0; i < rt_gguf_kv_count(g) && s == RT_OK; i++) {
        const rt_gguf_kv *kv = rt_gguf_kv_at(g, i);
        if (strncmp(kv->key, "tokenizer.", 10) != 0) continue;
        s = rt_gguf_writer_set_raw(w, kv->key, kv->value.type, value_start(&kv->value), kv->value.size);
        copied++;
    }
    if (s == RT_OK && !copied) s = rt_fail(RT_ERR_FORMAT, "%s: no tokenizer.* metadata to copy", path);
    rt_gguf_close(g);
    return s;
}

rt_status rt_gguf_put_tokenizer(rt_gguf_writer *w, const char *src, const char *pre, const rt_model_config *c) {
    size_t n = strlen(src);
    if (n > 5 && strcmp(src + n - 5, ".gguf") == 0 && !rt_is_dir(src)) return put_tokenizer_gguf(w, src);
    return put_tokenizer_json(w, src, pre, c);
}
