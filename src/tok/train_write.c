/* train_write.c: writing a trained byte-level BPE as tokenizer.json (+ tokenizer_config.json) in the
 * layout the `tokenizers` library writes: Split on the Llama 3 regex then ByteLevel, a BPE model whose
 * vocabulary and merges are in GPT-2's byte-to-char mapping, the ByteLevel decoder. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

static json_t *mapped(const rt_tok_buf *b) {
    rt_tok_buf m = {0};
    rt_tok_bytelevel_map(b->p, b->len, &m);
    json_t *s = json_stringn(m.p ? m.p : "", m.len);
    rt_tok_buf_free(&m);
    return s;
}

static json_t *pre_tokenizer(void) {
    json_t *split = json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex", RT_TOK_LLAMA3_PATTERN,
                              "behavior", "Isolated", "invert", 0);
    json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                           "use_regex", 0);
    return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", split, bl);
}

static rt_status write_config(const rt_bpe_train_params *p, const char *out_dir) {
    json_t *cfg = json_pack("{s:s, s:i}", "tokenizer_class", "PreTrainedTokenizerFast", "model_max_length", 1 << 20);
    if (p->bos_token) json_object_set_new(cfg, "bos_token", json_string(p->bos_token));
    if (p->eos_token) json_object_set_new(cfg, "eos_token", json_string(p->eos_token));
    if (p->chat_template) json_object_set_new(cfg, "chat_template", json_string(p->chat_template));
    char *path = rt_path_join(out_dir, "tokenizer_config.json");
    rt_status s = rt_json_save(path, cfg);
    free(path);
    json_decref(cfg);
    return s;
}

rt_status rt_tok_train_write(const rt_tok_bpe_result *r, const rt_bpe_train_params *p, const char *out_dir) {
    int32_t ns = (int32_t)p->n_special;
    json_t *added = json_array(), *vocab = json_object();
    for (int32_t i = 0; i < ns; i++) {
        json_array_append_new(added,
                              json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", i, "content", p->special_tokens[i],
                                        "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
        json_object_set_new(vocab, p->special_tokens[i], json_integer(i));
    }
    rt_status s = RT_OK;
    for (int32_t i = 0; i < r->n_tokens && s == RT_OK; i++) {
        json_t *k = mapped(&r->token[i]);
        if (json_object_get(vocab, json_string_value(k)))
            s = rt_fail(RT_ERR_ARG, "special token '%s' is also a learned token; choose another name",
                        json_string_value(k));
        else json_object_set_new(vocab, json_string_value(k), json_integer(ns + i));
        json_decref(k);
    }
    json_t *merges = json_array();
    for (int32_t k = 0; k < r->n_merges; k++)
        json_array_append_new(merges,
                              json_pack("[o, o]", mapped(&r->token[r->left[k]]), mapped(&r->token[r->right[k]])));
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    json_t *root = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:{s:s, s:b, s:b, s:b}, s:{s:s, s:b, s:b, s:b}, s:o}",
                             "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
                             "pre_tokenizer", pre_tokenizer(), "post_processor", "type", "ByteLevel",
                             "add_prefix_space", 1, "trim_offsets", 0, "use_regex", 1, "decoder", "type", "ByteLevel",
                             "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", model);
    if (!root) s = rt_fail(RT_ERR_STATE, "%s: could not build tokenizer.json", out_dir);
    if (s == RT_OK) s = rt_mkdir_p(out_dir);
    if (s == RT_OK) {
        char *path = rt_path_join(out_dir, "tokenizer.json");
        s = rt_json_save(path, root);
        free(path);
    }
    if (s == RT_OK) s = write_config(p, out_dir);
    json_decref(root);
    return s;
}
