/* load_gguf_model.c: the tokenizer.json sections for GGUF vocabularies: byte-level BPE with the
 * pre-tokenizer llama.cpp names in `tokenizer.ggml.pre`, and SentencePiece BPE with merges derived
 * from the scores. The regular expressions are those of the models' own tokenizer.json files (and of
 * llama.cpp's llama-vocab.cpp for the same names). */
#include <stdlib.h>
#include <string.h>

#include "tok/gguf_tok.h"

#define LLAMA3_REGEX                                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_REGEX                                                                                    \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static json_t *byte_level(int use_regex) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", use_regex);
}

static json_t *split_then_bytes(const char *regex) {
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Split", "pattern",
                     "Regex", regex, "behavior", "Isolated", "invert", 0, byte_level(0));
}

/* The pre-tokenizer (and whether merges are ignored for whole-word tokens, as Llama 3 does). */
static rt_status pre_tokenizer(const rt_gguf *g, json_t *tok, int *ignore_merges) {
    char name[64] = "default";
    if (rt_gguf_find(g, "tokenizer.ggml.pre")) RT_TRY(rt_gguf_get_name(g, "tokenizer.ggml.pre", name, sizeof name));
    json_t *p = NULL;
    *ignore_merges = 0;
    if (strcmp(name, "default") == 0 || strcmp(name, "gpt2") == 0) {
        p = byte_level(1);
    } else if (strcmp(name, "llama-bpe") == 0 || strcmp(name, "llama3") == 0) {
        p = split_then_bytes(LLAMA3_REGEX);
        *ignore_merges = 1;
    } else if (strcmp(name, "qwen2") == 0) {
        p = split_then_bytes(QWEN2_REGEX);
        json_object_set_new(tok, "normalizer", json_pack("{s:s}", "type", "NFC"));
    } else if (strcmp(name, "smollm") == 0) {
        p = json_pack("{s:s, s:[{s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type", "Digits", "individual_digits", 1,
                      byte_level(1));
    } else {
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre '%s' is not supported (default, gpt2, llama-bpe, smollm, qwen2)",
                       rt_gguf_path(g), name);
    }
    json_object_set_new(tok, "pre_tokenizer", p);
    return RT_OK;
}

rt_status rt_tok_gguf_bpe(const rt_gguf *g, const gguf_vocab *v, json_t *vocab, json_t *tok) {
    int ignore_merges;
    json_object_set_new(tok, "normalizer", json_null());
    RT_TRY(pre_tokenizer(g, tok, &ignore_merges));
    rt_gguf_value arr;
    RT_TRY(rt_gguf_get_array(g, "tokenizer.ggml.merges", RT_GGUF_STRING, &arr));
    json_t *merges = json_array();
    rt_gguf_iter it;
    rt_gguf_value e;
    rt_gguf_iter_init(&it, &arr);
    while (rt_gguf_iter_next(&it, &e)) {
        json_t *m = json_stringn((const char *)e.data, (size_t)e.n);
        if (!m) {
            json_decref(merges);
            return rt_fail(RT_ERR_FORMAT, "%s: tokenizer.ggml.merges holds invalid UTF-8", rt_gguf_path(g));
        }
        json_array_append_new(merges, m);
    }
    json_object_set_new(tok, "model", json_pack("{s:s, s:n, s:n, s:b, s:b, s:b, s:O, s:o}", "type", "BPE", "dropout", "unk_token",
                                                 "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", ignore_merges, "vocab",
                                                 vocab, "merges", merges));
    json_object_set_new(tok, "decoder", json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1));
    json_object_set_new(tok, "post_processor",
                        json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 0, "use_regex", 1));
    (void)v;
    return RT_OK;
}

/* ---- SentencePiece BPE: merges from scores ---- */

typedef struct {
    float score;
    int32_t merged, left, right;
} spm_merge;

static int merge_order(const void *a, const void *b) {
    const spm_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->merged != y->merged) return x->merged < y->merged ? -1 : 1;
    if (x->left != y->left) return x->left < y->left ? -1 : 1;
    return (x->right > y->right) - (x->right < y->right);
}

/* Every split of every piece, at character boundaries, into two pieces of the vocabulary. */
static json_t *spm_merges(const gguf_vocab *v) {
    rt_tok_strmap map;
    rt_tok_strmap_init(&map, (size_t)v->n);
    for (int32_t i = 0; i < v->n; i++) {
        const char *s = json_string_value(v->tokens[i]);
        rt_tok_strmap_put(&map, s, json_string_length(v->tokens[i]), i);
    }
    size_t n = 0, cap = 1024;
    spm_merge *list = rt_malloc(cap * sizeof *list);
    for (int32_t i = 0; i < v->n; i++) {
        const char *s = json_string_value(v->tokens[i]);
        size_t len = json_string_length(v->tokens[i]);
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)s[k] & 0xC0) == 0x80) continue; /* inside a character */
            int32_t l = rt_tok_strmap_get(&map, s, k), r = rt_tok_strmap_get(&map, s + k, len - k);
            if (l < 0 || r < 0) continue;
            if (n == cap) list = rt_realloc(list, (cap *= 2) * sizeof *list);
            list[n++] = (spm_merge){v->scores[i], i, l, r};
        }
    }
    qsort(list, n, sizeof *list, merge_order);
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(out, json_pack("[O, O]", v->tokens[list[k].left], v->tokens[list[k].right]));
    free(list);
    rt_tok_strmap_free(&map);
    return out;
}

rt_status rt_tok_gguf_spm(const rt_gguf *g, const gguf_vocab *v, json_t *vocab, json_t *tok) {
    (void)g;
    json_t *unk = v->unk >= 0 ? json_incref(v->tokens[v->unk]) : json_null();
    json_object_set_new(tok, "model", json_pack("{s:s, s:n, s:o, s:b, s:b, s:b, s:O, s:o}", "type", "BPE", "dropout", "unk_token", unk,
                                                 "fuse_unk", 1, "byte_fallback", 1, "ignore_merges", 0, "vocab", vocab, "merges",
                                                 spm_merges(v)));
    json_t *replace = json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ", "content", "\xe2\x96\x81");
    json_t *norms = json_array();
    if (v->add_space_prefix) json_array_append_new(norms, json_pack("{s:s, s:s}", "type", "Prepend", "prepend", "\xe2\x96\x81"));
    json_array_append_new(norms, replace);
    json_object_set_new(tok, "normalizer", json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", norms));
    json_object_set_new(tok, "pre_tokenizer", json_null());
    json_t *decs = json_pack("[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]", "type", "Replace", "pattern", "String", "\xe2\x96\x81", "content", " ",
                             "type", "ByteFallback", "type", "Fuse");
    if (v->add_space_prefix) json_array_append_new(decs, json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ", "start", 1, "stop", 0));
    json_object_set_new(tok, "decoder", json_pack("{s:s, s:o}", "type", "Sequence", "decoders", decs));
    json_object_set_new(tok, "post_processor", json_null());
    return RT_OK;
}
