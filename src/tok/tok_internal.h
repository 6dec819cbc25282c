/* tok_internal.h: the tokenizer's inner types, shared by the files of src/tok only.
 *
 * The pipeline follows the `tokenizers` library: added tokens are split off the raw text, each other
 * segment is normalized, pre-tokenized into words, and each word goes through the model; the
 * post-processor adds special tokens. For byte-level models the model works on raw bytes: vocabulary
 * keys are stored with the GPT-2 byte-to-char mapping undone, so no text is ever mapped char by char. */
#ifndef RT_TOK_INTERNAL_H
#define RT_TOK_INTERNAL_H

#include <stdint.h>

#include "retrace/tok.h"

struct json_t;

/* ---- growable byte buffer ---- */
typedef struct {
    char *p;
    size_t len;
    size_t cap;
} rt_tok_buf;

void rt_tok_buf_put(rt_tok_buf *b, const void *data, size_t n);
void rt_tok_buf_putc(rt_tok_buf *b, char c);
void rt_tok_buf_free(rt_tok_buf *b);

/* ---- string -> int32 hash map; keys are byte strings (may hold NUL), copied into an arena ---- */
typedef struct {
    uint64_t *hash;  /* 0 marks an empty slot */
    uint32_t *koff;
    uint32_t *klen;
    int32_t *val;
    size_t cap;      /* a power of two */
    size_t n;
    rt_tok_buf arena;
} rt_strmap;

void rt_strmap_init(rt_strmap *m, size_t expected);
void rt_strmap_free(rt_strmap *m);
/* Inserts or overwrites. */
void rt_strmap_put(rt_strmap *m, const char *key, size_t len, int32_t val);
/* Returns the value or -1. */
int32_t rt_strmap_get(const rt_strmap *m, const char *key, size_t len);
uint64_t rt_tok_hash(const char *key, size_t len);

/* ---- (id, id) -> (rank, merged id) map for BPE merges ---- */
typedef struct {
    uint64_t *key; /* UINT64_MAX marks an empty slot */
    int32_t *rank;
    int32_t *merged;
    size_t cap;
    size_t n;
} rt_pairmap;

void rt_pairmap_init(rt_pairmap *m, size_t expected);
void rt_pairmap_free(rt_pairmap *m);
void rt_pairmap_put(rt_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
/* Returns 1 and fills rank/merged when the pair is a merge. */
int rt_pairmap_get(const rt_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged);

/* ---- UTF-8 ---- */
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not start one. */
size_t rt_utf8_valid_len(const unsigned char *s, size_t n);
/* Decodes one code point of valid UTF-8; returns its length. */
size_t rt_utf8_decode(const unsigned char *s, int32_t *cp);
size_t rt_utf8_encode(int32_t cp, char *out);
/* Copies `s` to `out` replacing each maximal invalid subsequence with U+FFFD (the rule Python's
 * errors="replace" and Rust's from_utf8_lossy follow). Returns 1 when something was replaced. */
int rt_utf8_sanitize(const char *s, size_t n, rt_tok_buf *out);
/* Unicode White_Space (Rust char::is_whitespace). */
int rt_unicode_is_space(int32_t cp);

/* ---- GPT-2 byte <-> char mapping ---- */
/* The code point that stands for byte b in byte-level vocabularies. */
int32_t rt_bytelevel_char(unsigned char b);
/* The byte a code point stands for, or -1. */
int rt_bytelevel_byte(int32_t cp);
/* Undoes the mapping of `s`: writes the bytes into out and returns 1, or returns 0 (out untouched)
 * when a char of s is not in the mapping. */
int rt_bytelevel_unmap(const char *s, size_t n, rt_tok_buf *out);
/* Maps raw bytes into their byte-level chars (used by the trainer when writing the vocabulary). */
void rt_bytelevel_map(const char *s, size_t n, rt_tok_buf *out);

/* ---- regex (PCRE2 with UTF and UCP; JIT when available) ---- */
typedef struct rt_tok_regex rt_tok_regex;
/* Compiles a pattern written for Oniguruma (the `tokenizers` library's engine); `\s` is rewritten to
 * Oniguruma's Unicode whitespace set so both engines agree. */
rt_status rt_tok_regex_compile(const char *pattern, const char *where, rt_tok_regex **out);
void rt_tok_regex_free(rt_tok_regex *re);
/* Finds the next non-empty match in s[from..n); returns 1 and sets [*ms, *me), or 0 when none. */
int rt_tok_regex_next(const rt_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me);
/* Frees the calling thread's match data (tests call it so leak checkers stay quiet). */
void rt_tok_regex_thread_cleanup(void);

/* ---- pieces: a list of byte ranges in a buffer, the unit pre-tokenizers pass along ---- */
typedef struct {
    rt_tok_buf text;
    uint32_t *off;
    uint32_t *len;
    size_t n;
    size_t cap;
} rt_tok_pieces;

void rt_tok_pieces_add(rt_tok_pieces *p, size_t off, size_t len);
void rt_tok_pieces_clear(rt_tok_pieces *p);
void rt_tok_pieces_free(rt_tok_pieces *p);

/* ---- normalizers ---- */
typedef enum {
    RT_NORM_NFC = 1,
    RT_NORM_NFKC = 2,
    RT_NORM_NFD = 3,
    RT_NORM_NFKD = 4,
    RT_NORM_LOWERCASE = 5,
    RT_NORM_PREPEND = 6,
    RT_NORM_REPLACE = 7,   /* literal or regex pattern -> content */
    RT_NORM_STRIP = 8,
    RT_NORM_STRIP_ACCENTS = 9,
    RT_NORM_BERT = 10,
    RT_NORM_PRECOMPILED = 11,
} rt_norm_kind;

typedef struct rt_precompiled rt_precompiled;

typedef struct {
    rt_norm_kind kind;
    char *str;            /* Prepend: the prefix; Replace: the literal pattern (NULL for regex) */
    char *content;        /* Replace: the replacement */
    rt_tok_regex *re;     /* Replace with a Regex pattern */
    int left, right;      /* Strip */
    int clean_text, handle_chinese, strip_accents, lowercase; /* BertNormalizer */
    rt_precompiled *pc;   /* Precompiled (SentencePiece charsmap) */
} rt_norm;

/* Applies the normalizers in order to in[0..n) into out (cleared first). */
void rt_normalize(const rt_norm *norms, size_t n_norms, const char *in, size_t n, rt_tok_buf *out);
void rt_norm_free(rt_norm *n);

/* SentencePiece's precompiled charsmap (a double-array trie of replacement strings). */
rt_status rt_precompiled_load(const char *b64, const char *where, rt_precompiled **out);
void rt_precompiled_free(rt_precompiled *pc);
void rt_precompiled_apply(const rt_precompiled *pc, const char *in, size_t n, rt_tok_buf *out);

/* ---- pre-tokenizers ---- */
typedef enum {
    RT_PRE_SPLIT = 1,
    RT_PRE_BYTELEVEL = 2,
    RT_PRE_METASPACE = 3,
    RT_PRE_BERT = 4,
    RT_PRE_WHITESPACE = 5,       /* \w+|[^\w\s]+ */
    RT_PRE_WHITESPACE_SPLIT = 6,
    RT_PRE_DIGITS = 7,
    RT_PRE_PUNCTUATION = 8,
} rt_pre_kind;

/* Split behaviours, as in the `tokenizers` library. */
typedef enum {
    RT_SPLIT_REMOVED = 0,
    RT_SPLIT_ISOLATED = 1,
    RT_SPLIT_MERGED_WITH_PREVIOUS = 2,
    RT_SPLIT_MERGED_WITH_NEXT = 3,
    RT_SPLIT_CONTIGUOUS = 4,
} rt_split_behavior;

typedef enum { RT_PREPEND_ALWAYS = 0, RT_PREPEND_NEVER = 1, RT_PREPEND_FIRST = 2 } rt_prepend_scheme;

typedef struct {
    rt_pre_kind kind;
    rt_tok_regex *re;         /* Split (regex or escaped literal), ByteLevel with use_regex */
    rt_split_behavior behavior;
    int invert;
    int add_prefix_space;     /* ByteLevel */
    char *replacement;        /* Metaspace */
    rt_prepend_scheme prepend_scheme;
    int split;                /* Metaspace */
    int individual_digits;    /* Digits */
} rt_pretok;

/* Runs the pre-tokenizers; `first` says the segment is the first of the input (Metaspace "first"). */
void rt_pretokenize(const rt_pretok *pre, size_t n_pre, const char *in, size_t n, int first, rt_tok_pieces *out,
                    rt_tok_pieces *scratch);
void rt_pretok_free(rt_pretok *p);

/* ---- decoders ---- */
typedef enum {
    RT_DEC_BYTELEVEL = 1,
    RT_DEC_REPLACE = 2,
    RT_DEC_BYTE_FALLBACK = 3,
    RT_DEC_FUSE = 4,
    RT_DEC_STRIP = 5,
    RT_DEC_METASPACE = 6,
    RT_DEC_WORDPIECE = 7,
} rt_dec_kind;

typedef struct {
    rt_dec_kind kind;
    char *str;     /* Replace: pattern; Metaspace: replacement; WordPiece: prefix */
    char *content; /* Replace: content; Strip: the char */
    int start, stop;
    int flag;      /* Metaspace: strip the leading space; WordPiece: cleanup */
} rt_decoder;

/* ---- post-processor ---- */
typedef struct {
    int active;
    int32_t *pre;  /* ids before the sequence */
    size_t n_pre;
    int32_t *post; /* ids after it */
    size_t n_post;
} rt_postproc;

/* ---- added tokens ---- */
typedef struct {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} rt_added_token;

/* A segment of input: either an added token (id >= 0) or text to encode. */
typedef struct {
    size_t off, len;
    int32_t id;
} rt_tok_segment;

typedef struct {
    rt_tok_segment *v;
    size_t n, cap;
} rt_tok_segments;

/* ---- model ---- */
typedef enum { RT_MODEL_BPE = 1, RT_MODEL_WORDPIECE = 2, RT_MODEL_UNIGRAM = 3 } rt_model_kind;

typedef struct {
    /* BPE */
    rt_pairmap merges;
    int byte_fallback;
    int fuse_unk;
    int ignore_merges;
    int32_t byte_ids[256];     /* byte-level: id of each single byte; byte_fallback: id of <0xXX> */
    /* WordPiece */
    char *wp_prefix;           /* "##" */
    int wp_max_chars;
    /* Unigram */
    double *scores;            /* per id */
    double min_score;
    int32_t max_piece_bytes;
} rt_model;

struct rt_tokenizer {
    char *name;               /* file name, for messages */
    uint64_t serial;          /* tells thread caches apart even when an address is reused */
    rt_model_kind kind;
    int byte_level;           /* the model sees raw bytes (a ByteLevel pre-tokenizer is present) */
    int32_t n_ids;            /* 1 + the largest id */
    int32_t cap_ids;          /* allocated length of the id tables */
    char **tokens;            /* id -> token string as written in tokenizer.json (NULL if none) */
    uint32_t *token_len;
    char **dec;               /* id -> bytes for the byte-level decoder (NULL otherwise) */
    uint32_t *dec_len;
    uint8_t *special;         /* id -> 1 for special added tokens */
    rt_strmap vocab;          /* model vocabulary; raw bytes as keys for byte-level models */
    int32_t unk_id;
    rt_model model;
    rt_added_token *added;
    size_t n_added;
    int has_normalized_added;
    rt_strmap added_map;      /* content -> id */
    int32_t added_first[256]; /* first index in `added` (sorted by first byte, then longest first) */
    int32_t added_count[256];
    rt_norm *norms;
    size_t n_norms;
    rt_pretok *pretoks;
    size_t n_pretoks;
    rt_decoder *decoders;
    size_t n_decoders;
    rt_postproc post;
    int32_t bos_id, eos_id;
    char *chat_template;
    char *config_name;        /* tokenizer_config.json path, for messages */
};

/* Loading helpers (load_*.c). `where` names the file in messages. */
rt_status rt_tok_load_model(rt_tokenizer *t, struct json_t *model, const char *where);
rt_status rt_tok_load_normalizer(rt_tokenizer *t, struct json_t *j, const char *where);
rt_status rt_tok_load_pretokenizer(rt_tokenizer *t, struct json_t *j, const char *where);
rt_status rt_tok_load_decoder(rt_tokenizer *t, struct json_t *j, const char *where);
rt_status rt_tok_load_postprocessor(rt_tokenizer *t, struct json_t *j, const char *where);
rt_status rt_tok_load_added(rt_tokenizer *t, struct json_t *j, const char *where);
rt_status rt_tok_load_config(rt_tokenizer *t, const char *path);
/* Sets t->tokens[id] (grows the tables); fails on a duplicate id with different text. */
rt_status rt_tok_set_token(rt_tokenizer *t, int32_t id, const char *s, size_t len, const char *where);

/* Splits text into added-token and plain segments (pass `normalized` 0 for the raw text, 1 for
 * tokens that match normalized text). */
void rt_tok_split_added(const rt_tokenizer *t, const char *s, size_t n, int normalized, rt_tok_segments *out);

/* Encodes one pre-tokenized word with the model, appending ids. */
void rt_bpe_encode_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out);
void rt_wordpiece_encode_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out);
void rt_unigram_encode_word(const rt_tokenizer *t, const char *w, size_t n, rt_tok_ids *out);

/* Per-thread word cache: returns ids of a cached word, or NULL. */
const int32_t *rt_tok_cache_get(const rt_tokenizer *t, const char *w, size_t n, size_t *n_ids);
void rt_tok_cache_put(const rt_tokenizer *t, const char *w, size_t n, const int32_t *ids, size_t n_ids);
void rt_tok_cache_thread_cleanup(void);
void rt_tok_encode_thread_cleanup(void);

/* ---- BPE trainer internals (train_*.c) ---- */
/* The pre-tokenizer regex trained and written tokenizers use (Llama 3's). */
extern const char RT_TOK_LLAMA3_PATTERN[];

typedef struct {
    rt_strmap index;   /* word bytes -> index */
    int64_t *count;
    size_t n, cap;
} rt_word_counts;

/* Adds every pre-tokenized word of text to the counts. */
rt_status rt_train_count_words(const char *text, size_t n, const rt_tok_regex *re, rt_word_counts *wc);
void rt_word_counts_free(rt_word_counts *wc);

/* The learned merges: token i (i >= 256) is bytes[i]; merge k joins left[k] and right[k]. */
typedef struct {
    rt_tok_buf *token;  /* id -> bytes, ids 0..255 are the single bytes */
    int32_t n_tokens;
    int32_t *left, *right;
    int32_t n_merges;
} rt_bpe_result;

void rt_train_merges(const rt_word_counts *wc, int32_t max_tokens, int32_t min_frequency, rt_bpe_result *out);
void rt_bpe_result_free(rt_bpe_result *r);
rt_status rt_train_write(const rt_bpe_result *r, const rt_bpe_train_params *p, const char *out_dir);

#endif
