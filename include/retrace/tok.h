/* retrace/tok.h: Hugging Face tokenizer.json in C (byte-level BPE, SentencePiece-style BPE with byte
 * fallback, WordPiece, Unigram), special tokens, chat templates of known families, a byte-level BPE
 * trainer. Ids are those the reference `tokenizers` library produces for the same file.
 *
 * Encoding is thread-safe: the word cache is per thread. A tokenizer is immutable after loading. */
#ifndef RETRACE_TOK_H
#define RETRACE_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_tokenizer rt_tokenizer;

/* A growable list of token ids; zero-initialise, free with rt_tok_ids_free. */
typedef struct {
    int32_t *ids;
    size_t n;
    size_t cap;
} rt_tok_ids;

void rt_tok_ids_push(rt_tok_ids *v, int32_t id);
void rt_tok_ids_free(rt_tok_ids *v);

/* Loads `path`: a tokenizer.json file, or a folder holding tokenizer.json and optionally
 * tokenizer_config.json (BOS/EOS names, chat template). Errors name the file and the field. */
rt_status rt_tokenizer_load(const char *path, rt_tokenizer **out);
/* A .gguf path loads the vocabulary in its metadata (docs/gguf.md); this gives the tokenizer.json and
 * tokenizer_config.json texts it is loaded from (caller frees both). */
rt_status rt_tokenizer_gguf_json(const char *path, char **tokenizer_json, char **config_json);
/* Same from JSON text in memory (`name` is used in error messages); no tokenizer_config. */
rt_status rt_tokenizer_load_json(const char *json, size_t len, const char *name, rt_tokenizer **out);
void rt_tokenizer_free(rt_tokenizer *t);

/* Flags for rt_tokenizer_encode. */
enum {
    RT_TOK_ADD_SPECIAL = 1 /* run the post-processor (BOS/EOS as tokenizer.json says) */
};

/* Appends the ids of `text` (UTF-8, `len` bytes) to `out`. Invalid UTF-8 is replaced by U+FFFD per
 * maximal invalid subsequence (as Python's errors="replace" does) before encoding. Fails only when a
 * pre-tokenizer regex hits a PCRE2 resource limit (none seen, even on megabytes of one character). */
rt_status rt_tokenizer_encode(const rt_tokenizer *t, const char *text, size_t len, int flags, rt_tok_ids *out);

/* Encodes n texts on up to `threads` OpenMP threads (0: rt_threads()); out[i] (zero-initialised by
 * the caller) receives the ids of texts[i], as rt_tokenizer_encode would give them. */
rt_status rt_tokenizer_encode_batch(const rt_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                                    int flags, int threads, rt_tok_ids *out);

/* Decodes ids into newly allocated text (NUL-terminated, *len excludes the NUL). Special tokens are
 * kept unless skip_special. Bytes that do not form valid UTF-8 become U+FFFD, as the reference does.
 * An id outside the vocabulary is an RT_ERR_ARG naming the id. */
rt_status rt_tokenizer_decode(const rt_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text,
                              size_t *len);

/* Frees the calling thread's word cache and scratch buffers (optional: a thread that exits without
 * calling it leaves them to the process; tests call it to keep leak checkers exact). */
void rt_tokenizer_thread_cleanup(void);

/* Size of the id space (model vocabulary plus added tokens): valid ids are 0 .. size-1 that have a
 * token. */
int32_t rt_tokenizer_vocab_size(const rt_tokenizer *t);
/* The token string of `id` as written in tokenizer.json, or NULL when none. */
const char *rt_tokenizer_id_to_token(const rt_tokenizer *t, int32_t id);
/* The id of a token string (added tokens first, then the model vocabulary), or -1. */
int32_t rt_tokenizer_token_to_id(const rt_tokenizer *t, const char *token);
/* BOS/EOS ids from tokenizer_config.json (bos_token, eos_token), or -1 when not set. */
int32_t rt_tokenizer_bos_id(const rt_tokenizer *t);
int32_t rt_tokenizer_eos_id(const rt_tokenizer *t);
/* 1 when `id` is a special added token. */
int rt_tokenizer_is_special(const rt_tokenizer *t, int32_t id);

/* ---- chat templates ---- */

typedef struct {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
    const char *reasoning_content; /* optional (Qwen3 thinking), NULL when absent */
} rt_chat_message;

/* Renders a conversation exactly as transformers' apply_chat_template(tokenize=False) does with the
 * tokenizer's chat template. Only templates of known families are rendered (recognised by their exact
 * text); any other template, or none, is an RT_ERR_UNSUPPORTED naming the template. */
rt_status rt_chat_render(const rt_tokenizer *t, const rt_chat_message *msgs, size_t n_msgs, int add_generation_prompt,
                         char **out);

/* Template variables beyond the messages. */
typedef struct {
    int add_generation_prompt;
    /* Qwen3's switch: -1 leaves it undefined (the template's default, thinking on), 0 passes
     * enable_thinking=False (an empty <think></think> block after the generation prompt), 1 True.
     * Templates that do not read it ignore it, as Jinja does. */
    int enable_thinking;
} rt_chat_params;

rt_chat_params rt_chat_params_default(void);
rt_status rt_chat_render_ex(const rt_tokenizer *t, const rt_chat_message *msgs, size_t n_msgs, const rt_chat_params *p,
                            char **out);
/* The family name of the tokenizer's chat template ("llama3", "qwen3", "chatml"), or NULL when
 * unknown. */
const char *rt_chat_family(const rt_tokenizer *t);
/* The exact Jinja text of a family retrace writes into the tokenizers it trains ("chatml": the plain
 * ChatML template with <|im_start|> / <|im_end|>), or NULL. */
const char *rt_chat_template_text(const char *family);

/* ---- byte-level BPE trainer ---- */

typedef struct {
    int32_t vocab_size;     /* total, including the 256 byte tokens and the special tokens */
    int32_t min_frequency;  /* a pair seen fewer times is never merged */
    const char **special_tokens; /* added first, with ids 0..n-1 */
    size_t n_special;
    const char *bos_token;  /* written to tokenizer_config.json when set; must be a special token */
    const char *eos_token;
    const char *chat_template; /* Jinja text written to tokenizer_config.json, or NULL */
} rt_bpe_train_params;

rt_bpe_train_params rt_bpe_train_params_default(void);

/* Trains a GPT-2 style byte-level BPE (the Llama 3 split regex, ByteLevel pre-tokenizer and decoder)
 * on the given UTF-8 files and writes `out_dir`/tokenizer.json (+ tokenizer_config.json), loadable by
 * the `tokenizers` library. */
rt_status rt_bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                       const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
