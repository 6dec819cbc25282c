/* load.c: reading tokenizer.json (and tokenizer_config.json beside it) into an rt_tokenizer. The
 * parts (model, normalizer, pre-tokenizer, decoder, post-processor, added tokens) load in their own
 * files; this one ties them together and owns the id tables. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tok/gguf_tok.h"
#include "tok/tok_internal.h"

static atomic_uint_fast64_t next_serial = 1;

rt_status rt_tok_set_token(rt_tokenizer *t, int32_t id, const char *s, size_t len, const char *where) {
    if (id < 0) return rt_fail(RT_ERR_FORMAT, "%s: negative token id %d", where, (int)id);
    if (id >= t->cap_ids) {
        int32_t n = t->cap_ids ? t->cap_ids : 256;
        while (n <= id) n *= 2;
        t->tokens = rt_realloc(t->tokens, (size_t)n * sizeof *t->tokens);
        t->token_len = rt_realloc(t->token_len, (size_t)n * sizeof *t->token_len);
        t->special = rt_realloc(t->special, (size_t)n);
        for (int32_t i = t->cap_ids; i < n; i++) {
            t->tokens[i] = NULL;
            t->token_len[i] = 0;
            t->special[i] = 0;
        }
        t->cap_ids = n;
    }
    if (id + 1 > t->n_ids) t->n_ids = id + 1;
    if (t->tokens[id]) {
        /* An added token may repeat a vocabulary entry with the same text; other clashes are errors. */
        if (t->token_len[id] == len && memcmp(t->tokens[id], s, len) == 0) return RT_OK;
        return rt_fail(RT_ERR_FORMAT, "%s: id %d is given to both '%s' and '%.*s'", where, (int)id, t->tokens[id],
                       (int)len, s);
    }
    t->tokens[id] = rt_malloc(len + 1);
    memcpy(t->tokens[id], s, len);
    t->tokens[id][len] = '\0';
    t->token_len[id] = (uint32_t)len;
    return RT_OK;
}

/* A pre-tokenizer (or one inside a Sequence) of type ByteLevel makes the model byte-level. */
static int has_bytelevel(json_t *pre) {
    if (!json_is_object(pre)) return 0;
    const char *type = json_string_value(json_object_get(pre, "type"));
    if (type && strcmp(type, "ByteLevel") == 0) return 1;
    json_t *seq = json_object_get(pre, "pretokenizers");
    size_t i;
    json_t *v;
    json_array_foreach(seq, i, v) if (has_bytelevel(v)) return 1;
    return 0;
}

/* For the ByteLevel decoder: each id's bytes, or its text where a char is outside the mapping (the
 * reference keeps such tokens as they are). */
static void build_bytelevel_decode(rt_tokenizer *t) {
    t->dec = rt_calloc((size_t)t->n_ids, sizeof *t->dec);
    t->dec_len = rt_calloc((size_t)t->n_ids, sizeof *t->dec_len);
    rt_tok_buf b = {0};
    for (int32_t id = 0; id < t->n_ids; id++) {
        if (!t->tokens[id]) continue;
        b.len = 0;
        if (!rt_tok_bytelevel_unmap(t->tokens[id], t->token_len[id], &b))
            rt_tok_buf_put(&b, t->tokens[id], t->token_len[id]);
        t->dec[id] = rt_malloc(b.len + 1);
        memcpy(t->dec[id], b.p ? b.p : "", b.len);
        t->dec[id][b.len] = '\0';
        t->dec_len[id] = (uint32_t)b.len;
    }
    rt_tok_buf_free(&b);
}

static rt_status load_parts(rt_tokenizer *t, json_t *root, const char *where) {
    if (!json_is_object(root)) return rt_fail(RT_ERR_FORMAT, "%s: the top level is not a JSON object", where);
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model'", where);
    json_t *pre = json_object_get(root, "pre_tokenizer");
    t->byte_level = has_bytelevel(pre);
    RT_TRY(rt_tok_load_model(t, model, where));
    RT_TRY(rt_tok_load_added(t, json_object_get(root, "added_tokens"), where));
    RT_TRY(rt_tok_load_normalizer(t, json_object_get(root, "normalizer"), where));
    RT_TRY(rt_tok_load_pretokenizer(t, pre, where));
    RT_TRY(rt_tok_load_decoder(t, json_object_get(root, "decoder"), where));
    RT_TRY(rt_tok_load_postprocessor(t, json_object_get(root, "post_processor"), where));
    for (size_t i = 0; i < t->n_decoders; i++)
        if (t->decoders[i].kind == RT_DEC_BYTELEVEL) build_bytelevel_decode(t);
    return RT_OK;
}

static rt_tokenizer *tokenizer_new(const char *name) {
    rt_tokenizer *t = rt_calloc(1, sizeof *t);
    t->name = rt_strdup(name);
    t->serial = atomic_fetch_add(&next_serial, 1);
    t->unk_id = -1;
    t->bos_id = -1;
    t->eos_id = -1;
    return t;
}

rt_status rt_tokenizer_load_json(const char *text, size_t len, const char *name, rt_tokenizer **out) {
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return rt_fail(RT_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", name, err.line, err.column, err.text);
    rt_tokenizer *t = tokenizer_new(name);
    rt_status s = load_parts(t, root, name);
    json_decref(root);
    if (s != RT_OK) {
        rt_tokenizer_free(t);
        return s;
    }
    *out = t;
    return RT_OK;
}

rt_status rt_tokenizer_load(const char *path, rt_tokenizer **out) {
    *out = NULL;
    if (rt_gguf_path_is_gguf(path)) return rt_tok_load_gguf(path, out);
    char *file = rt_is_dir(path) ? rt_path_join(path, "tokenizer.json") : rt_strdup(path);
    char *data = NULL;
    size_t len = 0;
    rt_status s = rt_file_read(file, &data, &len);
    if (s == RT_OK) s = rt_tokenizer_load_json(data, len, file, out);
    free(data);
    if (s == RT_OK) {
        /* tokenizer_config.json lives beside tokenizer.json; it is optional. */
        char *slash = strrchr(file, '/');
        char *dir = slash ? rt_strdup(file) : rt_strdup(".");
        if (slash) dir[slash - file] = '\0';
        char *cfg = rt_path_join(dir, "tokenizer_config.json");
        if (rt_path_exists(cfg)) s = rt_tok_load_config(*out, cfg);
        free(cfg);
        free(dir);
        if (s != RT_OK) {
            rt_tokenizer_free(*out);
            *out = NULL;
        }
    }
    free(file);
    return s;
}

void rt_tokenizer_free(rt_tokenizer *t) {
    if (!t) return;
    for (int32_t i = 0; i < t->n_ids; i++) {
        free(t->tokens[i]);
        if (t->dec) free(t->dec[i]);
    }
    free(t->tokens);
    free(t->token_len);
    free(t->dec);
    free(t->dec_len);
    free(t->special);
    rt_tok_strmap_free(&t->vocab);
    rt_tok_pairmap_free(&t->model.merges);
    free(t->model.wp_prefix);
    free(t->model.scores);
    rt_tok_pairmap_free(&t->model.trie);
    free(t->model.trie_piece);
    for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    rt_tok_strmap_free(&t->added_map);
    for (size_t i = 0; i < t->n_norms; i++) rt_tok_norm_free(&t->norms[i]);
    free(t->norms);
    for (size_t i = 0; i < t->n_pretoks; i++) rt_tok_pretok_free(&t->pretoks[i]);
    free(t->pretoks);
    for (size_t i = 0; i < t->n_decoders; i++) {
        free(t->decoders[i].str);
        free(t->decoders[i].content);
    }
    free(t->decoders);
    free(t->post.pre);
    free(t->post.post);
    free(t->chat_template);
    free(t->config_name);
    free(t->name);
    free(t);
}

int32_t rt_tokenizer_vocab_size(const rt_tokenizer *t) { return t->n_ids; }

const char *rt_tokenizer_id_to_token(const rt_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_ids ? t->tokens[id] : NULL;
}

int32_t rt_tokenizer_token_to_id(const rt_tokenizer *t, const char *token) {
    size_t n = strlen(token);
    int32_t id = rt_tok_strmap_get(&t->added_map, token, n);
    if (id >= 0) return id;
    if (!t->byte_level) return rt_tok_strmap_get(&t->vocab, token, n);
    rt_tok_buf b = {0};
    id = rt_tok_bytelevel_unmap(token, n, &b) ? rt_tok_strmap_get(&t->vocab, b.p ? b.p : "", b.len) : -1;
    rt_tok_buf_free(&b);
    return id;
}

int32_t rt_tokenizer_bos_id(const rt_tokenizer *t) { return t->bos_id; }
int32_t rt_tokenizer_eos_id(const rt_tokenizer *t) { return t->eos_id; }
int rt_tokenizer_is_special(const rt_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_ids && t->special[id]; }
