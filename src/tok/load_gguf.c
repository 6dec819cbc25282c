/* load_gguf.c: a tokenizer from a GGUF file's metadata, by writing the equivalent tokenizer.json (and
 * tokenizer_config.json) and loading that, so GGUF vocabularies go through the one loader.
 *
 * `tokenizer.ggml.model`:
 *   gpt2   byte-level BPE: tokens and merges as written; the pre-tokenizer follows `tokenizer.ggml.pre`
 *          as llama.cpp does (default/gpt2, llama-bpe, smollm, qwen2) and matches the model's original
 *          tokenizer.json.
 *   llama  SentencePiece BPE: scores instead of merges. The merges are derived as transformers'
 *          SentencePieceExtractor does: every split of a piece into two pieces of the vocabulary,
 *          ranked by the piece's score (higher first). Byte fallback (<0xNN> tokens), a "▁" prefix
 *          when `tokenizer.ggml.add_space_prefix` (default true).
 * Token types 2 (unknown), 3 (control) and 4 (user-defined) become added tokens, 2 and 3 special.
 * BOS/EOS/UNK/PAD ids, add_bos/add_eos and `tokenizer.chat_template` go to tokenizer_config.json. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/gguf.h"
#include "tok/tok_internal.h"
#include "tok/gguf_tok.h"

static rt_status read_tokens(const rt_gguf *g, gguf_vocab *v) {
    rt_gguf_value arr;
    RT_TRY(rt_gguf_get_array(g, "tokenizer.ggml.tokens", RT_GGUF_STRING, &arr));
    if (arr.n == 0 || arr.n > RT_TOK_MAX_ID) return rt_fail(RT_ERR_FORMAT, "%s: tokenizer.ggml.tokens holds %llu tokens", rt_gguf_path(g), (unsigned long long)arr.n);
    v->n = (int32_t)arr.n;
    v->tokens = rt_calloc((size_t)v->n, sizeof *v->tokens);
    v->types = rt_calloc((size_t)v->n, sizeof *v->types);
    v->scores = rt_calloc((size_t)v->n, sizeof *v->scores);
    rt_gguf_iter it;
    rt_gguf_value e;
    rt_gguf_iter_init(&it, &arr);
    for (int32_t i = 0; rt_gguf_iter_next(&it, &e); i++) {
        v->tokens[i] = json_stringn((const char *)e.data, (size_t)e.n);
        if (!v->tokens[i]) return rt_fail(RT_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%d] is not valid UTF-8", rt_gguf_path(g), (int)i);
        v->types[i] = 1; /* normal */
    }
    return RT_OK;
}

/* token_type and scores are optional; when present they must have one entry per token. */
static rt_status read_side_array(const rt_gguf *g, const char *key, gguf_vocab *v, int is_score) {
    if (!rt_gguf_find(g, key)) return RT_OK;
    rt_gguf_value arr;
    RT_TRY(rt_gguf_get_array(g, key, is_score ? RT_GGUF_F32 : RT_GGUF_I32, &arr));
    if (arr.n != (uint64_t)v->n)
        return rt_fail(RT_ERR_FORMAT, "%s: %s has %llu entries for %d tokens", rt_gguf_path(g), key, (unsigned long long)arr.n, (int)v->n);
    for (int32_t i = 0; i < v->n; i++) {
        if (is_score) memcpy(&v->scores[i], arr.data + 4 * (size_t)i, 4);
        else memcpy(&v->types[i], arr.data + 4 * (size_t)i, 4);
    }
    return RT_OK;
}

static int32_t special_id(const rt_gguf *g, const char *key, int32_t n) {
    int64_t id;
    if (rt_gguf_get_int_or(g, key, -1, &id) != RT_OK || id < 0 || id >= n) return -1;
    return (int32_t)id;
}

static int flag(const rt_gguf *g, const char *key, int dflt) {
    int b;
    return rt_gguf_find(g, key) && rt_gguf_get_bool(g, key, &b) == RT_OK ? b : dflt;
}

static json_t *added_tokens(const gguf_vocab *v) {
    json_t *list = json_array();
    for (int32_t i = 0; i < v->n; i++) {
        int t = v->types[i];
        if (t != GGUF_TOKEN_UNKNOWN && t != GGUF_TOKEN_CONTROL && t != GGUF_TOKEN_USER_DEFINED) continue;
        json_array_append_new(list, json_pack("{s:i, s:O, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)i, "content", v->tokens[i],
                                              "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special",
                                              t != GGUF_TOKEN_USER_DEFINED));
    }
    return list;
}

/* [bos] $A [eos] as a TemplateProcessing, or NULL when neither is added. */
static json_t *template_post(const gguf_vocab *v, json_t *fallback) {
    if (!(v->add_bos && v->bos >= 0) && !(v->add_eos && v->eos >= 0)) return fallback;
    json_decref(fallback);
    json_t *single = json_array(), *specials = json_object();
    int ids[2] = {v->add_bos ? v->bos : -1, v->add_eos ? v->eos : -1};
    for (int k = 0; k < 2; k++) {
        if (k == 1) json_array_append_new(single, json_pack("{s:{s:s, s:i}}", "Sequence", "id", "A", "type_id", 0));
        if (ids[k] < 0) continue;
        json_t *name = v->tokens[ids[k]];
        json_array_append_new(single, json_pack("{s:{s:O, s:i}}", "SpecialToken", "id", name, "type_id", 0));
        json_object_set_new(specials, json_string_value(name),
                            json_pack("{s:O, s:[i], s:[O]}", "id", name, "ids", (json_int_t)ids[k], "tokens", name));
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", json_array(),
                     "special_tokens", specials);
}

static json_t *vocab_object(const gguf_vocab *v) {
    json_t *obj = json_object();
    for (int32_t i = 0; i < v->n; i++) json_object_set_new(obj, json_string_value(v->tokens[i]), json_integer(i));
    return obj;
}

static rt_status build(const rt_gguf *g, gguf_vocab *v, json_t **tok, json_t **cfg) {
    char model[64];
    size_t len;
    RT_TRY(rt_gguf_get_name(g, "tokenizer.ggml.model", model, sizeof model));
    RT_TRY(read_tokens(g, v));
    RT_TRY(read_side_array(g, "tokenizer.ggml.token_type", v, 0));
    RT_TRY(read_side_array(g, "tokenizer.ggml.scores", v, 1));
    v->bos = special_id(g, "tokenizer.ggml.bos_token_id", v->n);
    v->eos = special_id(g, "tokenizer.ggml.eos_token_id", v->n);
    v->unk = special_id(g, "tokenizer.ggml.unknown_token_id", v->n);
    v->pad = special_id(g, "tokenizer.ggml.padding_token_id", v->n);
    int spm = strcmp(model, "llama") == 0;
    if (!spm && strcmp(model, "gpt2") != 0)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%s' is not supported (gpt2, llama)", rt_gguf_path(g), model);
    v->add_bos = flag(g, "tokenizer.ggml.add_bos_token", spm);
    v->add_eos = flag(g, "tokenizer.ggml.add_eos_token", 0);
    v->add_space_prefix = flag(g, "tokenizer.ggml.add_space_prefix", spm);
    *tok = json_object();
    json_object_set_new(*tok, "version", json_string("1.0"));
    json_object_set_new(*tok, "added_tokens", added_tokens(v));
    json_t *vocab = vocab_object(v);
    rt_status s = spm ? rt_tok_gguf_spm(g, v, vocab, *tok) : rt_tok_gguf_bpe(g, v, vocab, *tok);
    json_decref(vocab);
    RT_TRY(s);
    json_object_set_new(*tok, "post_processor", template_post(v, json_incref(json_object_get(*tok, "post_processor"))));
    *cfg = json_object();
    const char *names[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    int32_t ids[4] = {v->bos, v->eos, v->unk, v->pad};
    for (int k = 0; k < 4; k++) json_object_set(*cfg, names[k], ids[k] >= 0 ? v->tokens[ids[k]] : json_null());
    json_object_set_new(*cfg, "add_bos_token", json_boolean(v->add_bos));
    json_object_set_new(*cfg, "add_eos_token", json_boolean(v->add_eos));
    json_object_set_new(*cfg, "clean_up_tokenization_spaces", json_false());
    json_object_set_new(*cfg, "tokenizer_class", json_string(spm ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast"));
    const char *tpl;
    if (rt_gguf_find(g, "tokenizer.chat_template") && rt_gguf_get_str(g, "tokenizer.chat_template", &tpl, &len) == RT_OK) {
        json_t *text = json_stringn(tpl, len);
        if (!text) return rt_fail(RT_ERR_FORMAT, "%s: tokenizer.chat_template is not valid UTF-8", rt_gguf_path(g));
        json_object_set_new(*cfg, "chat_template", text);
    }
    return RT_OK;
}

static void vocab_free(gguf_vocab *v) {
    for (int32_t i = 0; i < v->n; i++) json_decref(v->tokens[i]);
    free(v->tokens);
    free(v->types);
    free(v->scores);
}

/* Both files' text; `ids` (may be NULL) gets bos, eos and the chat template for the direct load. */
static rt_status gguf_json(const char *path, char **tokenizer_json, char **config_json, gguf_vocab *out) {
    *tokenizer_json = *config_json = NULL;
    rt_gguf *g;
    RT_TRY(rt_gguf_open(path, &g));
    gguf_vocab v = {0};
    json_t *tok = NULL, *cfg = NULL;
    rt_status s = build(g, &v, &tok, &cfg);
    if (s == RT_OK) {
        *tokenizer_json = json_dumps(tok, JSON_COMPACT);
        *config_json = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!*tokenizer_json || !*config_json) s = rt_fail(RT_ERR_NOMEM, "%s: cannot serialise the tokenizer", path);
    }
    if (s == RT_OK && out) {
        const char *tpl = json_string_value(json_object_get(cfg, "chat_template"));
        out->bos = v.bos;
        out->eos = v.eos;
        out->chat_template = tpl ? rt_strdup(tpl) : NULL;
    }
    json_decref(tok);
    json_decref(cfg);
    vocab_free(&v);
    rt_gguf_close(g);
    return s;
}

rt_status rt_tokenizer_gguf_json(const char *path, char **tokenizer_json, char **config_json) {
    return gguf_json(path, tokenizer_json, config_json, NULL);
}

rt_status rt_tok_load_gguf(const char *path, rt_tokenizer **out) {
    *out = NULL;
    char *tok_json, *cfg_json;
    gguf_vocab info = {0};
    RT_TRY(gguf_json(path, &tok_json, &cfg_json, &info));
    rt_status s = rt_tokenizer_load_json(tok_json, strlen(tok_json), path, out);
    free(tok_json);
    free(cfg_json);
    if (s == RT_OK) {
        (*out)->bos_id = info.bos;
        (*out)->eos_id = info.eos;
        (*out)->chat_template = info.chat_template;
        (*out)->config_name = rt_strdup(path);
    } else {
        free(info.chat_template);
    }
    return s;
}
