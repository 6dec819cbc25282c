/* gguf_tok.h: what the GGUF tokenizer files (load_gguf.c, load_gguf_model.c) share. */
#ifndef RT_TOK_GGUF_TOK_H
#define RT_TOK_GGUF_TOK_H

#include <jansson.h>

#include "retrace/gguf.h"
#include "tok/tok_internal.h"

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum {
    GGUF_TOKEN_NORMAL = 1,
    GGUF_TOKEN_UNKNOWN = 2,
    GGUF_TOKEN_CONTROL = 3,
    GGUF_TOKEN_USER_DEFINED = 4,
    GGUF_TOKEN_UNUSED = 5,
    GGUF_TOKEN_BYTE = 6,
};

typedef struct {
    int32_t n;
    json_t **tokens; /* JSON strings, one per id */
    int32_t *types;
    float *scores;
    int32_t bos, eos, unk, pad; /* -1 when absent */
    int add_bos, add_eos, add_space_prefix;
    char *chat_template;        /* filled for the direct load only */
} gguf_vocab;

/* Set "model", "normalizer", "pre_tokenizer", "decoder" and "post_processor" of tok for a byte-level
 * BPE (gpt2) or a SentencePiece BPE (llama) vocabulary. */
rt_status rt_tok_gguf_bpe(const rt_gguf *g, const gguf_vocab *v, json_t *vocab, json_t *tok);
rt_status rt_tok_gguf_spm(const rt_gguf *g, const gguf_vocab *v, json_t *vocab, json_t *tok);
rt_status rt_tok_load_gguf(const char *path, rt_tokenizer **out);

#endif
