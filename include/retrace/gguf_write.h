/* retrace/gguf_write.h: writing GGUF files (version 3) that llama.cpp loads: models and LoRA adapters.
 *
 * The container writer collects typed metadata and tensors, then saves atomically (temp file, fsync,
 * rename): header, metadata in the order it was set, the tensor table, and the data with every tensor
 * at a multiple of 32 bytes (ggml's default alignment; a `general.alignment` of another value is
 * refused). Tensors are given
 * as float32 in ggml's dimension order (ne[0] the fastest-varying, so a row-major (out, in) matrix has
 * ne = {in, out}) and stored as F32, F16, BF16 or Q8_0, converted at add time.
 *
 * The exporters on top map a retrace model (any Hugging Face folder retrace loads) or a PEFT adapter to
 * llama.cpp's names, shapes and metadata for the `llama` and `qwen2` architectures. What is left out:
 * the quantized types other than Q8_0, and tensors of rank above 4. */
#ifndef RETRACE_GGUF_WRITE_H
#define RETRACE_GGUF_WRITE_H

#include "retrace/base.h"
#include "retrace/gguf.h"
#include "retrace/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_GGUF_Q8_0_BLOCK 32 /* values per Q8_0 block: an f16 scale and 32 int8 */

/* The writer stores RT_GGML_F32, RT_GGML_F16, RT_GGML_BF16 and RT_GGML_Q8_0 (retrace/gguf.h). Parses
 * their names as --type spells them: "f32", "f16", "bf16", "q8_0" (case-insensitive). */
rt_status rt_gguf_store_parse(const char *name, rt_ggml_type *out);

/* Q8_0 as ggml and the `gguf` Python package quantize it: per block of 32 values, d = max|x| / 127
 * rounded to f16, q = round(x / d) (halves away from zero), q = 0 when d is 0. n must be a multiple of
 * 32; `out` receives n / 32 blocks of 34 bytes. */
void rt_gguf_quantize_q8_0(const float *x, int64_t n, uint8_t *out);

typedef struct rt_gguf_writer rt_gguf_writer;

rt_gguf_writer *rt_gguf_writer_new(void);
void rt_gguf_writer_free(rt_gguf_writer *w);

/* Metadata. Setting a key twice is an error (llama.cpp refuses duplicate keys). */
rt_status rt_gguf_writer_set_u32(rt_gguf_writer *w, const char *key, uint32_t v);
rt_status rt_gguf_writer_set_i32(rt_gguf_writer *w, const char *key, int32_t v);
rt_status rt_gguf_writer_set_u64(rt_gguf_writer *w, const char *key, uint64_t v);
rt_status rt_gguf_writer_set_f32(rt_gguf_writer *w, const char *key, float v);
rt_status rt_gguf_writer_set_bool(rt_gguf_writer *w, const char *key, int v);
rt_status rt_gguf_writer_set_str(rt_gguf_writer *w, const char *key, const char *v);
/* A value already in the file's encoding (`size` bytes after the type field), such as one read from
 * another GGUF (rt_gguf_value: `size` bytes from the start of its encoding). */
rt_status rt_gguf_writer_set_raw(rt_gguf_writer *w, const char *key, rt_gguf_type type, const void *bytes, size_t size);
/* Arrays: strings (each NUL-terminated), int32 and float32. */
rt_status rt_gguf_writer_set_str_array(rt_gguf_writer *w, const char *key, const char *const *v, size_t n);
rt_status rt_gguf_writer_set_i32_array(rt_gguf_writer *w, const char *key, const int32_t *v, size_t n);
rt_status rt_gguf_writer_set_f32_array(rt_gguf_writer *w, const char *key, const float *v, size_t n);

/* Adds a tensor from float32 data laid out with ne[0] fastest, stored as `type`. Q8_0 needs ne[0] to be
 * a multiple of 32 (ggml quantizes rows). The data is converted and copied now. */
rt_status rt_gguf_writer_add_f32(rt_gguf_writer *w, const char *name, int n_dims, const int64_t *ne,
                                 const float *data, rt_ggml_type type);
/* Writes the file atomically. */
rt_status rt_gguf_writer_save(rt_gguf_writer *w, const char *path);

/* ---- exporters for llama.cpp ---- */

typedef struct {
    rt_ggml_type type;     /* matrices; norms and biases are always F32 as llama.cpp's converter keeps them */
    const char *name;       /* general.name; NULL = the folder's last name */
    const char *tokenizer;  /* folder with tokenizer.json (+ tokenizer_config.json), or a .gguf file whose
                               tokenizer.* keys are copied; NULL = none written */
    const char *pre;        /* tokenizer.ggml.pre; NULL = guessed from the pre-tokenizer's regex */
} rt_gguf_export_params;

rt_gguf_export_params rt_gguf_export_params_default(void); /* F32, tokenizer none */

/* Writes m (without adapters: merge them first) as a llama.cpp model: the architecture's hyperparameters,
 * the tokenizer metadata, and the weights under llama.cpp's names with the `llama` architecture's Q/K
 * row permutation (llama.cpp rotates adjacent pairs; transformers rotates halves). */
rt_status rt_gguf_export_model(const rt_model *m, const char *path, const rt_gguf_export_params *p);

/* Writes the adapter attached to m (rt_lora_load_peft or training) as a llama.cpp LoRA adapter:
 * general.type "adapter", adapter.type "lora", adapter.lora.alpha, and per adapted projection
 * blk.N.<name>.weight.lora_a (PEFT's A, ne {in, r}) and .lora_b (PEFT's B, ne {r, out}, Q/K rows
 * permuted for `llama`), neither transposed. llama.cpp scales by alpha / r and ignores rsLoRA, so an
 * rsLoRA adapter (scale alpha / sqrt(r)) is written with alpha * sqrt(r). p->tokenizer is not used. */
rt_status rt_gguf_export_lora(const rt_model *m, const char *path, const rt_gguf_export_params *p);

/* llama.cpp's `general.architecture` for a retrace architecture ("llama" for Llama and Mistral). */
const char *rt_gguf_arch_name(rt_arch arch);

#ifdef __cplusplus
}
#endif
#endif
