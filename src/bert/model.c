/* model.c: loading a model directory: config, weights, tokenizer, and the sentence-transformers files
 * that say how to pool (modules.json and the pooling module's config.json) and how many tokens a text
 * may have (sentence_bert_config.json's max_seq_length, else tokenizer_config.json's model_max_length,
 * never more than the position table holds). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"

/* 1 when a sentence-transformers module type (any package path) ends with ".<name>". */
static int module_is(const char *type, const char *name) {
    const char *dot = strrchr(type, '.');
    return strcmp(dot ? dot + 1 : type, name) == 0;
}

/* pooling_mode: "cls" / "mean" / a one-element list (sentence-transformers >= 6), else the legacy
 * pooling_mode_*_token booleans (none set means mean, as sentence-transformers reads it). */
static rt_status parse_pooling(const json_t *root, const char *path, rt_bert_pooling *out) {
    const json_t *mode = json_object_get(root, "pooling_mode");
    if (json_is_array(mode) && json_array_size(mode) == 1) mode = json_array_get(mode, 0);
    const char *name = json_string_value(mode);
    if (mode && !name) return rt_fail(RT_ERR_UNSUPPORTED, "%s: pooling_mode combines several modes (only cls or mean)", path);
    if (!name) {
        static const char *const LEGACY[][2] = {{"pooling_mode_cls_token", "cls"}, {"pooling_mode_max_tokens", "max"},
                                                {"pooling_mode_mean_tokens", "mean"},
                                                {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"},
                                                {"pooling_mode_weightedmean_tokens", "weightedmean"},
                                                {"pooling_mode_lasttoken", "lasttoken"}};
        int n_on = 0;
        for (size_t i = 0; i < sizeof LEGACY / sizeof LEGACY[0]; i++)
            if (json_is_true(json_object_get(root, LEGACY[i][0]))) name = LEGACY[i][1], n_on++;
        if (n_on > 1) return rt_fail(RT_ERR_UNSUPPORTED, "%s: several pooling modes are on (only cls or mean)", path);
        if (n_on == 0) name = "mean";
    }
    if (strcmp(name, "cls") == 0) *out = RT_BERT_POOL_CLS;
    else if (strcmp(name, "mean") == 0) *out = RT_BERT_POOL_MEAN;
    else return rt_fail(RT_ERR_UNSUPPORTED, "%s: pooling mode '%s' is not supported (cls, mean)", path, name);
    return RT_OK;
}

/* Reads modules.json when present: where the transformer's files are (*model_sub, "" for the
 * directory itself) and the pooling. Dense and other modules change the output: refused. */
static rt_status read_modules(const char *dir, char **model_sub, rt_bert_pooling *pooling) {
    *model_sub = rt_strdup("");
    *pooling = RT_BERT_POOL_CLS;
    char *path = rt_path_join(dir, "modules.json");
    if (!rt_path_exists(path)) {
        free(path);
        return RT_OK;
    }
    json_t *root = NULL;
    rt_status s = rt_json_load(path, &root);
    if (s == RT_OK && !json_is_array(root)) s = rt_fail(RT_ERR_FORMAT, "%s: not a JSON list of modules", path);
    for (size_t i = 0; s == RT_OK && i < json_array_size(root); i++) {
        const json_t *mod = json_array_get(root, i);
        const char *type = json_string_value(json_object_get(mod, "type"));
        const char *sub = json_string_value(json_object_get(mod, "path"));
        if (!type || !sub) {
            s = rt_fail(RT_ERR_FORMAT, "%s: module %zu lacks a 'type' or 'path' string", path, i);
        } else if (module_is(type, "Transformer")) {
            free(*model_sub);
            *model_sub = rt_strdup(sub);
        } else if (module_is(type, "Pooling")) {
            char *pdir = rt_path_join(dir, sub), *pcfg = rt_path_join(pdir, "config.json");
            json_t *pj = NULL;
            s = rt_json_load(pcfg, &pj);
            if (s == RT_OK) s = parse_pooling(pj, pcfg, pooling);
            json_decref(pj);
            free(pdir), free(pcfg);
        } else if (!module_is(type, "Normalize")) {
            s = rt_fail(RT_ERR_UNSUPPORTED, "%s: module '%s' is not supported (Transformer, Pooling, Normalize)", path, type);
        }
    }
    json_decref(root);
    free(path);
    return s;
}

/* An optional positive integer key of an optional JSON file; 0 when either is absent. */
static rt_status optional_int(const char *dir, const char *file, const char *key, int64_t *out) {
    *out = 0;
    char *path = rt_path_join(dir, file);
    rt_status s = RT_OK;
    if (rt_path_exists(path)) {
        json_t *root = NULL;
        s = rt_json_load(path, &root);
        if (s == RT_OK && json_is_integer(json_object_get(root, key))) *out = json_integer_value(json_object_get(root, key));
        json_decref(root);
    }
    free(path);
    return s;
}

static rt_status read_max_tokens(const char *root_dir, const char *model_dir, rt_bert *m) {
    int limit = m->cfg.max_positions - m->cfg.pos_offset;
    int64_t v;
    RT_TRY(optional_int(root_dir, "sentence_bert_config.json", "max_seq_length", &v));
    if (v <= 0) RT_TRY(optional_int(model_dir, "tokenizer_config.json", "model_max_length", &v));
    m->max_tokens = v > 0 && v < limit ? (int)v : limit;
    return RT_OK;
}

/* The post-processor's tokens before and after a text, found by encoding a probe text with and
 * without them. */
static rt_status find_specials(rt_bert *m, const char *where) {
    static const char PROBE[] = "hello world";
    rt_tok_ids plain = {0}, full = {0};
    rt_status s = rt_tokenizer_encode(m->tok, PROBE, sizeof PROBE - 1, 0, &plain);
    if (s == RT_OK) s = rt_tokenizer_encode(m->tok, PROBE, sizeof PROBE - 1, RT_TOK_ADD_SPECIAL, &full);
    size_t pre = 0;
    int found = 0;
    for (; s == RT_OK && !found && pre + plain.n <= full.n; pre++)
        found = plain.n > 0 && memcmp(full.ids + pre, plain.ids, plain.n * sizeof *plain.ids) == 0;
    if (s == RT_OK && !found)
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: the post-processor does not keep the text's tokens together", where);
    if (s == RT_OK) {
        pre--;
        for (size_t i = 0; i < pre; i++) rt_tok_ids_push(&m->prefix, full.ids[i]);
        for (size_t i = pre + plain.n; i < full.n; i++) rt_tok_ids_push(&m->suffix, full.ids[i]);
        if ((int)(m->prefix.n + m->suffix.n) >= m->max_tokens)
            s = rt_fail(RT_ERR_FORMAT, "%s: %zu special tokens leave no room in %d tokens", where, m->prefix.n + m->suffix.n,
                        m->max_tokens);
    }
    rt_tok_ids_free(&plain), rt_tok_ids_free(&full);
    return s;
}

static rt_status load_tokenizer(const char *model_dir, rt_bert *m) {
    char *path = rt_path_join(model_dir, "tokenizer.json");
    rt_status s = rt_path_exists(path) ? rt_tokenizer_load(model_dir, &m->tok)
                                       : rt_fail(RT_ERR_NOT_FOUND, "%s: no tokenizer.json (vocab.txt or sentencepiece.bpe.model alone "
                                                                   "is not read)", model_dir);
    if (s == RT_OK) s = find_specials(m, path);
    for (int i = m->cfg.vocab_size; s == RT_OK && i < rt_tokenizer_vocab_size(m->tok); i++)
        if (rt_tokenizer_id_to_token(m->tok, i))
            s = rt_fail(RT_ERR_FORMAT, "%s: token id %d is outside the model's vocab_size %d", path, i, m->cfg.vocab_size);
    /* The tokenizer file takes part in the fingerprint: another vocabulary is another embedder. */
    char *text = NULL;
    size_t len = 0;
    if (s == RT_OK) s = rt_file_read(path, &text, &len);
    for (size_t i = 0; s == RT_OK && i < len; i++) m->fingerprint = m->fingerprint * 0x100000001b3ULL ^ (unsigned char)text[i];
    free(text);
    free(path);
    return s;
}

static rt_status load(const char *dir, rt_bert *m) {
    if (!rt_is_dir(dir)) return rt_fail(RT_ERR_NOT_FOUND, "%s: not a model directory", dir);
    char *sub;
    rt_status s = read_modules(dir, &sub, &m->pooling);
    char *model_dir = rt_path_join(dir, sub), *cfg = rt_path_join(model_dir, "config.json");
    free(sub);
    if (s == RT_OK && !rt_path_exists(cfg)) s = rt_fail(RT_ERR_NOT_FOUND, "%s: not a model directory (no config.json)", model_dir);
    if (s == RT_OK) s = rt_bert_config_load(cfg, &m->cfg);
    if (s == RT_OK) s = read_max_tokens(dir, model_dir, m);
    if (s == RT_OK) s = rt_bert_weights_load(model_dir, &m->cfg, &m->w);
    if (s == RT_OK) m->fingerprint = rt_bert_weights_hash(&m->w, &m->cfg) ^ (uint64_t)m->max_tokens << 32;
    if (s == RT_OK) s = load_tokenizer(model_dir, m);
    free(model_dir), free(cfg);
    return s;
}

rt_status rt_bert_load(const char *dir, rt_bert **out) {
    *out = NULL;
    rt_bert *m = rt_calloc(1, sizeof *m);
    rt_status s = load(dir, m);
    if (s != RT_OK) {
        rt_bert_free(m);
        return s;
    }
    *out = m;
    return RT_OK;
}

void rt_bert_free(rt_bert *m) {
    if (!m) return;
    rt_bert_weights_free(&m->w);
    rt_tokenizer_free(m->tok);
    rt_tok_ids_free(&m->prefix), rt_tok_ids_free(&m->suffix);
    free(m);
}

const rt_bert_config *rt_bert_get_config(const rt_bert *m) { return &m->cfg; }
int rt_bert_dim(const rt_bert *m) { return m->cfg.hidden; }
rt_bert_pooling rt_bert_get_pooling(const rt_bert *m) { return m->pooling; }
void rt_bert_set_pooling(rt_bert *m, rt_bert_pooling p) { m->pooling = p; }
int rt_bert_max_tokens(const rt_bert *m) { return m->max_tokens; }
uint64_t rt_bert_fingerprint(const rt_bert *m) { return m->fingerprint ^ (uint64_t)m->pooling; }
const char *rt_bert_pooling_name(rt_bert_pooling p) { return p == RT_BERT_POOL_MEAN ? "mean" : "cls"; }
