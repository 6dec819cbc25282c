/* gguf_write_internal.h: what the GGUF exporters share (names, the Q/K permutation, metadata). */
#ifndef RT_GGUF_WRITE_INTERNAL_H
#define RT_GGUF_WRITE_INTERNAL_H

#include "retrace/gguf_write.h"

/* llama.cpp's name of projection p's weight in layer l: "blk.<l>.attn_q.weight" (suffix "weight" or
 * "bias"). */
void rt_gguf_proj_name(char *buf, size_t n, int l, rt_proj p, const char *suffix);

/* Whether projection p's output rows must be permuted for llama.cpp (q and k of the `llama` arch), and
 * the head count to permute with (0 when not). */
int rt_gguf_permute_heads(const rt_model_config *c, rt_proj p);

/* Copies src (rows, cols) into dst with llama.cpp's Q/K row order: within each of n_head heads of
 * head_dim = rows / n_head rows, row i * head_dim/2 + j (i in {0,1}) moves to 2j + i. The inverse of
 * what a GGUF reader undoes; rows lists HF's rotate-half pairs (j, j + head_dim/2) as adjacent rows. */
void rt_gguf_permute_rows(float *dst, const float *src, int rows, int cols, int n_head);

/* The store type for a matrix whose rows have ne0 values: Q8_0 falls back to F16 where ne0 is not a
 * multiple of 32, as llama.cpp's converter does. */
rt_ggml_type rt_gguf_matrix_store(rt_ggml_type want, int64_t ne0);

/* Adds a row-major (rows, cols) matrix as ggml's ne {cols, rows} (n_dims 2) or a vector of rows values
 * (n_dims 1, cols 1), its rows permuted for n_head heads unless n_head is 0, stored as
 * rt_gguf_matrix_store(type, cols). */
rt_status rt_gguf_add_rows(rt_gguf_writer *w, const char *name, int n_dims, const float *data, int rows, int cols,
                           int n_head, rt_ggml_type type);

/* general.architecture, general.type, general.name (+ file_type for a model). */
rt_status rt_gguf_put_general(rt_gguf_writer *w, const rt_model_config *c, const char *type, const char *name);

/* The tokenizer metadata (tokenizer.ggml.*, tokenizer.chat_template) from src: a folder's tokenizer.json
 * and tokenizer_config.json (byte-level BPE only; padded with [PAD<id>] tokens to the vocab size), or a
 * .gguf file's tokenizer.* keys, copied. */
rt_status rt_gguf_put_tokenizer(rt_gguf_writer *w, const char *src, const char *pre, const rt_model_config *c);

#endif
