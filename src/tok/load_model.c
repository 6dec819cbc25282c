/* load_model.c: the "model" section of tokenizer.json: BPE (vocab + merges), WordPiece, Unigram. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* The key a token is stored under: raw bytes for byte-level models. Returns 0 when the token cannot
 * be produced by encoding (a char outside the byte mapping) and so needs no key. */
static int vocab_key(const rt_tokenizer *t, const char *s, size_t n, rt_tok_buf *key) {
    key->len = 0;
    if (!t->byte_level) {
        rt_tok_buf_put(key, s, n);
        return 1;
    }
    return rt_tok_bytelevel_unmap(s, n, key);
}

static rt_status load_vocab_object(rt_tokenizer *t, json_t *vocab, const char *where) {
    if (!json_is_object(vocab)) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model.vocab' (an object)", where);
    rt_tok_strmap_init(&t->vocab, json_object_size(vocab));
    rt_tok_buf key = {0};
    const char *tok;
    json_t *v;
    rt_status s = RT_OK;
    json_object_foreach(vocab, tok, v) {
        if (!json_is_integer(v)) {
            s = rt_fail(RT_ERR_FORMAT, "%s: model.vocab['%s'] is not an integer id", where, tok);
            break;
        }
        int64_t id = json_integer_value(v);
        if (id < 0 || id > RT_TOK_MAX_ID) {
            s = rt_fail(RT_ERR_FORMAT, "%s: model.vocab['%s'] has id %lld out of range", where, tok, (long long)id);
            break;
        }
        size_t n = strlen(tok);
        if ((s = rt_tok_set_token(t, (int32_t)id, tok, n, where)) != RT_OK) break;
        if (vocab_key(t, tok, n, &key)) rt_tok_strmap_put(&t->vocab, key.p ? key.p : "", key.len, (int32_t)id);
    }
    rt_tok_buf_free(&key);
    return s;
}

static int32_t lookup(const rt_tokenizer *t, const char *s, size_t n, rt_tok_buf *key) {
    return vocab_key(t, s, n, key) ? rt_tok_strmap_get(&t->vocab, key->p ? key->p : "", key->len) : -1;
}

static const char *opt_string(json_t *model, const char *key) {
    json_t *v = json_object_get(model, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int opt_bool(json_t *model, const char *key) { return json_is_true(json_object_get(model, key)); }

static rt_status load_merge(rt_tokenizer *t, json_t *m, size_t rank, rt_tok_buf *key, rt_tok_buf *pair,
                            const char *where) {
    const char *a, *b;
    size_t la, lb;
    /* The merged token's text: a + b, in a buffer the caller reuses. */
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return rt_fail(RT_ERR_FORMAT, "%s: model.merges[%zu] '%s' is not two tokens separated by one space", where,
                           rank, s);
        a = s;
        la = (size_t)(sp - s);
        b = sp + 1;
        lb = strlen(b);
    } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
               json_is_string(json_array_get(m, 1))) {
        a = json_string_value(json_array_get(m, 0));
        b = json_string_value(json_array_get(m, 1));
        la = strlen(a);
        lb = strlen(b);
    } else {
        return rt_fail(RT_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", where, rank);
    }
    pair->len = 0;
    rt_tok_buf_put(pair, a, la);
    rt_tok_buf_put(pair, b, lb);
    int32_t ia = lookup(t, a, la, key), ib = lookup(t, b, lb, key), im = lookup(t, pair->p, pair->len, key);
    if (ia < 0 || ib < 0 || im < 0)
        return rt_fail(RT_ERR_FORMAT, "%s: model.merges[%zu] '%.*s %.*s': %s not in model.vocab", where, rank, (int)la,
                       a, (int)lb, b,
                       ia < 0   ? "left token"
                       : ib < 0 ? "right token"
                                : "merged token");
    rt_tok_pairmap_put(&t->model.merges, ia, ib, (int32_t)rank, im);
    return RT_OK;
}

static rt_status load_bpe(rt_tokenizer *t, json_t *model, const char *where) {
    RT_TRY(load_vocab_object(t, json_object_get(model, "vocab"), where));
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_array(merges)) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model.merges' (an array)", where);
    const char *prefix = opt_string(model, "continuing_subword_prefix"),
               *suffix = opt_string(model, "end_of_word_suffix");
    if ((prefix && *prefix) || (suffix && *suffix))
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: model.%s '%s' is not supported", where,
                       prefix && *prefix ? "continuing_subword_prefix" : "end_of_word_suffix",
                       prefix && *prefix ? prefix : suffix);
    json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: model.dropout > 0 (random merges) is not supported", where);
    rt_tok_model *m = &t->model;
    m->byte_fallback = opt_bool(model, "byte_fallback");
    m->fuse_unk = opt_bool(model, "fuse_unk");
    m->ignore_merges = opt_bool(model, "ignore_merges");
    rt_tok_pairmap_init(&m->merges, json_array_size(merges));
    rt_tok_buf key = {0}, pair = {0};
    size_t i;
    json_t *v;
    rt_status s = RT_OK;
    json_array_foreach(merges, i, v) if ((s = load_merge(t, v, i, &key, &pair, where)) != RT_OK) break;
    rt_tok_buf_free(&pair);
    const char *unk = opt_string(model, "unk_token");
    if (s == RT_OK && unk) t->unk_id = lookup(t, unk, strlen(unk), &key);
    for (int b = 0; b < 256 && s == RT_OK; b++) {
        char name[8];
        char byte = (char)b;
        if (t->byte_level) {
            m->byte_ids[b] = rt_tok_strmap_get(&t->vocab, &byte, 1);
        } else {
            snprintf(name, sizeof name, "<0x%02X>", b);
            m->byte_ids[b] = rt_tok_strmap_get(&t->vocab, name, strlen(name));
        }
    }
    rt_tok_buf_free(&key);
    return s;
}

static rt_status load_wordpiece(rt_tokenizer *t, json_t *model, const char *where) {
    RT_TRY(load_vocab_object(t, json_object_get(model, "vocab"), where));
    const char *unk = opt_string(model, "unk_token");
    if (!unk) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model.unk_token'", where);
    t->unk_id = rt_tok_strmap_get(&t->vocab, unk, strlen(unk));
    if (t->unk_id < 0) return rt_fail(RT_ERR_FORMAT, "%s: model.unk_token '%s' is not in model.vocab", where, unk);
    const char *prefix = opt_string(model, "continuing_subword_prefix");
    t->model.wp_prefix = rt_strdup(prefix ? prefix : "##");
    json_t *mx = json_object_get(model, "max_input_chars_per_word");
    t->model.wp_max_chars = json_is_integer(mx) ? (int)json_integer_value(mx) : 100;
    return RT_OK;
}

/* Adds piece `id` to the Unigram trie (a later duplicate piece wins, as in the reference's map). */
static void trie_insert(rt_tok_model *m, const char *s, size_t n, int32_t id) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t unused, child;
        if (!rt_tok_pairmap_get(&m->trie, node, (unsigned char)s[i], &unused, &child)) {
            child = m->n_trie_nodes++;
            m->trie_piece = rt_realloc(m->trie_piece, (size_t)m->n_trie_nodes * sizeof *m->trie_piece);
            m->trie_piece[child] = -1;
            rt_tok_pairmap_put(&m->trie, node, (unsigned char)s[i], 0, child);
        }
        node = child;
    }
    m->trie_piece[node] = id;
}

static rt_status load_unigram(rt_tokenizer *t, json_t *model, const char *where) {
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_array(vocab)) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model.vocab' (an array)", where);
    size_t n = json_array_size(vocab);
    rt_tok_strmap_init(&t->vocab, n);
    t->model.scores = rt_calloc(n ? n : 1, sizeof *t->model.scores);
    rt_tok_pairmap_init(&t->model.trie, n * 4);
    t->model.trie_piece = rt_malloc(sizeof *t->model.trie_piece);
    t->model.trie_piece[0] = -1;
    t->model.n_trie_nodes = 1;
    t->model.min_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(vocab, i);
        json_t *p = json_array_get(e, 0), *sc = json_array_get(e, 1);
        if (!json_is_string(p) || !json_is_number(sc))
            return rt_fail(RT_ERR_FORMAT, "%s: model.vocab[%zu] is not [piece, score]", where, i);
        const char *s = json_string_value(p);
        size_t l = strlen(s);
        RT_TRY(rt_tok_set_token(t, (int32_t)i, s, l, where));
        rt_tok_strmap_put(&t->vocab, s, l, (int32_t)i);
        t->model.scores[i] = rt_tok_serde_f64(json_number_value(sc));
        if (t->model.scores[i] < t->model.min_score) t->model.min_score = t->model.scores[i];
        trie_insert(&t->model, s, l, (int32_t)i);
    }
    json_t *unk = json_object_get(model, "unk_id");
    if (json_is_integer(unk)) {
        int64_t u = json_integer_value(unk);
        if (u < 0 || (size_t)u >= n)
            return rt_fail(RT_ERR_FORMAT, "%s: model.unk_id %lld is out of range", where, (long long)u);
        t->unk_id = (int32_t)u;
    }
    t->model.byte_fallback = opt_bool(model, "byte_fallback");
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->model.byte_ids[b] = rt_tok_strmap_get(&t->vocab, name, strlen(name));
    }
    return RT_OK;
}

rt_status rt_tok_load_model(rt_tokenizer *t, json_t *model, const char *where) {
    const char *type = opt_string(model, "type");
    /* Old files omit the type; the reference then tells the models apart by their fields. */
    if (!type) {
        if (json_object_get(model, "merges")) type = "BPE";
        else if (json_is_array(json_object_get(model, "vocab"))) type = "Unigram";
        else if (json_object_get(model, "continuing_subword_prefix")) type = "WordPiece";
        else return rt_fail(RT_ERR_FORMAT, "%s: missing field 'model.type'", where);
    }
    if (strcmp(type, "BPE") == 0) {
        t->kind = RT_MODEL_BPE;
        return load_bpe(t, model, where);
    }
    if (strcmp(type, "WordPiece") == 0) {
        t->kind = RT_MODEL_WORDPIECE;
        return load_wordpiece(t, model, where);
    }
    if (strcmp(type, "Unigram") == 0) {
        t->kind = RT_MODEL_UNIGRAM;
        return load_unigram(t, model, where);
    }
    return rt_fail(RT_ERR_UNSUPPORTED, "%s: model.type '%s' is not supported (BPE, WordPiece, Unigram are)", where,
                   type);
}
