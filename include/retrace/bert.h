/* retrace/bert.h: BERT and XLM-RoBERTa encoders (transformers' BertModel and XLMRobertaModel) turning
 * texts into sentence embeddings, loaded from a Hugging Face / sentence-transformers model directory:
 * BGE-small and BGE-base, all-MiniLM, BGE-M3's dense output.
 *
 * A model directory holds config.json, model.safetensors (F32, F16 or BF16; PyTorch's
 * pytorch_model.bin is not read) and tokenizer.json, and optionally the sentence-transformers files
 * modules.json, the pooling module's config.json and sentence_bert_config.json (max_seq_length). The
 * pooling is the one sentence-transformers would use (CLS or mean); without those files it is CLS, the
 * BGE convention. Outputs are always L2-normalised.
 *
 * The forward pass packs the tokens of a batch end to end (no padding); projections run as one GEMM
 * over every token of the batch, attention per (sequence, head). Inference only: no dropout, no
 * backward. */
#ifndef RETRACE_BERT_H
#define RETRACE_BERT_H

#include <stdint.h>

#include "retrace/base.h"
#include "retrace/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Explicit values; only grow at the end. */
typedef enum { RT_BERT_ARCH_BERT = 0, RT_BERT_ARCH_XLMR = 1 } rt_bert_arch;
typedef enum { RT_BERT_POOL_CLS = 0, RT_BERT_POOL_MEAN = 1 } rt_bert_pooling;
typedef enum { RT_BERT_ACT_GELU = 0, RT_BERT_ACT_GELU_TANH = 1 } rt_bert_act;

typedef struct {
    rt_bert_arch arch;
    int vocab_size, hidden, n_layers, n_heads, intermediate;
    int max_positions;   /* max_position_embeddings */
    int type_vocab_size;
    int pad_id;          /* pad_token_id */
    int pos_offset;      /* first position id: 0 for BERT, pad_id + 1 for XLM-R */
    float ln_eps;
    rt_bert_act act;
} rt_bert_config;

/* Parses a config.json (BertModel / XLMRobertaModel or their model_type). Errors name the file and key. */
rt_status rt_bert_config_load(const char *path, rt_bert_config *out);

typedef struct rt_bert rt_bert;

/* Loads a model directory (see the top of this file). */
rt_status rt_bert_load(const char *dir, rt_bert **out);
void rt_bert_free(rt_bert *m);

const rt_bert_config *rt_bert_get_config(const rt_bert *m);
int rt_bert_dim(const rt_bert *m);
rt_bert_pooling rt_bert_get_pooling(const rt_bert *m);
/* Overrides the pooling read from the directory (tests compare both on one model). */
void rt_bert_set_pooling(rt_bert *m, rt_bert_pooling p);
/* Tokens per text, special tokens included; longer texts are cut at the end. */
int rt_bert_max_tokens(const rt_bert *m);
/* A 64-bit hash of the configuration and of every weight as loaded: two models agree on it only when
 * they compute the same function (up to hash collisions). */
uint64_t rt_bert_fingerprint(const rt_bert *m);
const char *rt_bert_pooling_name(rt_bert_pooling p);

/* The ids the encoder sees for `text`: the tokenizer's post-processor tokens ([CLS] ... [SEP] or
 * <s> ... </s>) around the text's tokens, truncated to rt_bert_max_tokens (as transformers' tokenizer
 * does with truncation=True). Appends to `out`. */
rt_status rt_bert_tokenize(const rt_bert *m, const char *text, rt_tok_ids *out);

/* The last hidden states of n packed sequences: ids (total tokens) holds the sequences end to end,
 * offsets (n+1) where each starts; hidden (total, dim) is written. */
rt_status rt_bert_forward(rt_bert *m, const int32_t *ids, const int *offsets, int n, float *hidden);

/* Embeds n texts into out (n, dim), pooled and L2-normalised. Texts are tokenized in parallel, sorted
 * by length and run in batches of at most RT_BERT_BATCH_TOKENS tokens. */
#define RT_BERT_BATCH_TOKENS 4096
rt_status rt_bert_embed(rt_bert *m, const char *const *texts, int n, float *out);

#ifdef __cplusplus
}
#endif
#endif
