/* gguf_write_model.c: a retrace model as a llama.cpp GGUF model (`llama` or `qwen2` architecture).
 *
 * What llama.cpp's convert_hf_to_gguf.py writes for these families: the hyperparameters under the
 * architecture's prefix, llama3 rope scaling as a `rope_freqs.weight` tensor of per-frequency divisors
 * (llama.cpp has no llama3 key), linear scaling as rope.scaling.* keys, the weights under blk.N.* names
 * in ggml's dimension order, norms and biases in F32, and output.weight left out when the embedding is
 * tied. Sliding-window attention (Mistral's) has no `llama` key: the file attends to the whole context,
 * which agrees with the model only within the window; a warning says so. */
#include "gguf_write_internal.h"
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_QUANT_VERSION 2u
/* llama.cpp's general.file_type (LLAMA_FTYPE_*). */
enum { FTYPE_ALL_F32 = 0, FTYPE_MOSTLY_F16 = 1, FTYPE_MOSTLY_Q8_0 = 7, FTYPE_MOSTLY_BF16 = 32 };

rt_gguf_export_params rt_gguf_export_params_default(void) {
    rt_gguf_export_params p = {RT_GGML_F32, NULL, NULL, NULL};
    return p;
}

const char *rt_gguf_arch_name(rt_arch arch) { return arch == RT_ARCH_QWEN2 ? "qwen2" : "llama"; }

void rt_gguf_proj_name(char *buf, size_t n, int l, rt_proj p, const char *suffix) {
    static const char *const names[RT_N_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                 "ffn_gate", "ffn_up", "ffn_down"};
    snprintf(buf, n, "blk.%d.%s.%s", l, names[p], suffix);
}

int rt_gguf_permute_heads(const rt_model_config *c, rt_proj p) {
    if (c->arch == RT_ARCH_QWEN2) return 0; /* llama.cpp runs qwen2 with the rotate-half (NeoX) rope */
    return p == RT_PROJ_Q ? c->n_heads : p == RT_PROJ_K ? c->n_kv_heads : 0;
}

void rt_gguf_permute_rows(float *dst, const float *src, int rows, int cols, int n_head) {
    int hd = rows / n_head, half = hd / 2;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < half; j++)
                memcpy(dst + ((size_t)h * hd + 2 * j + i) * cols, src + ((size_t)h * hd + i * half + j) * cols,
                       (size_t)cols * sizeof *src);
}

rt_ggml_type rt_gguf_matrix_store(rt_ggml_type want, int64_t ne0) {
    return want == RT_GGML_Q8_0 && ne0 % RT_GGUF_Q8_0_BLOCK ? RT_GGML_F16 : want;
}

rt_status rt_gguf_put_general(rt_gguf_writer *w, const rt_model_config *c, const char *type, const char *name) {
    RT_TRY(rt_gguf_writer_set_str(w, "general.architecture", rt_gguf_arch_name(c->arch)));
    RT_TRY(rt_gguf_writer_set_str(w, "general.type", type));
    return rt_gguf_writer_set_str(w, "general.name", name ? name : "retrace");
}

static rt_status put_u32(rt_gguf_writer *w, const char *arch, const char *key, uint32_t v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return rt_gguf_writer_set_u32(w, k, v);
}
static rt_status put_f32(rt_gguf_writer *w, const char *arch, const char *key, float v) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return rt_gguf_writer_set_f32(w, k, v);
}

static rt_status put_hparams(rt_gguf_writer *w, const rt_model_config *c, rt_ggml_type type) {
    const char *a = rt_gguf_arch_name(c->arch);
    uint32_t ftype = type == RT_GGML_F16 ? FTYPE_MOSTLY_F16 : type == RT_GGML_BF16 ? FTYPE_MOSTLY_BF16
                     : type == RT_GGML_Q8_0 ? FTYPE_MOSTLY_Q8_0 : FTYPE_ALL_F32;
    RT_TRY(rt_gguf_writer_set_u32(w, "general.file_type", ftype));
    RT_TRY(rt_gguf_writer_set_u32(w, "general.quantization_version", GGUF_QUANT_VERSION));
    RT_TRY(put_u32(w, a, "vocab_size", (uint32_t)c->vocab_size));
    RT_TRY(put_u32(w, a, "context_length", (uint32_t)c->max_position_embeddings));
    RT_TRY(put_u32(w, a, "embedding_length", (uint32_t)c->hidden_size));
    RT_TRY(put_u32(w, a, "block_count", (uint32_t)c->n_layers));
    RT_TRY(put_u32(w, a, "feed_forward_length", (uint32_t)c->intermediate_size));
    RT_TRY(put_u32(w, a, "attention.head_count", (uint32_t)c->n_heads));
    RT_TRY(put_u32(w, a, "attention.head_count_kv", (uint32_t)c->n_kv_heads));
    RT_TRY(put_u32(w, a, "attention.key_length", (uint32_t)c->head_dim));
    RT_TRY(put_u32(w, a, "attention.value_length", (uint32_t)c->head_dim));
    RT_TRY(put_u32(w, a, "rope.dimension_count", (uint32_t)c->head_dim));
    RT_TRY(put_f32(w, a, "attention.layer_norm_rms_epsilon", c->rms_norm_eps));
    RT_TRY(put_f32(w, a, "rope.freq_base", (float)c->rope.theta));
    if (c->rope.kind == RT_ROPE_LINEAR) {
        char k[128];
        snprintf(k, sizeof k, "%s.rope.scaling.type", a);
        RT_TRY(rt_gguf_writer_set_str(w, k, "linear"));
        RT_TRY(put_f32(w, a, "rope.scaling.factor", (float)c->rope.factor));
    }
    return RT_OK;
}

/* llama3 scaling as llama.cpp applies it: theta_i is divided by rope_freqs[i], so the divisor is the
 * unscaled inverse frequency over the scaled one, taken from the same rt_rope_inv_freq retrace runs. */
static rt_status put_rope_freqs(rt_gguf_writer *w, const rt_model_config *c) {
    if (c->rope.kind != RT_ROPE_LLAMA3) return RT_OK;
    int half = c->head_dim / 2;
    float *plain = rt_malloc(sizeof(float) * (size_t)half * 3), *scaled = plain + half, *div = scaled + half;
    rt_rope_params p0 = c->rope;
    p0.kind = RT_ROPE_DEFAULT;
    rt_rope_inv_freq(plain, c->head_dim, &p0);
    rt_rope_inv_freq(scaled, c->head_dim, &c->rope);
    for (int i = 0; i < half; i++) div[i] = plain[i] / scaled[i];
    int64_t ne[1] = {half};
    rt_status s = rt_gguf_writer_add_f32(w, "rope_freqs.weight", 1, ne, div, RT_GGML_F32);
    free(plain);
    return s;
}

rt_status rt_gguf_add_rows(rt_gguf_writer *w, const char *name, int n_dims, const float *data, int rows, int cols,
                           int n_head, rt_ggml_type type) {
    int64_t ne[2] = {n_dims == 1 ? rows : cols, rows};
    type = rt_gguf_matrix_store(type, cols);
    if (!n_head) return rt_gguf_writer_add_f32(w, name, n_dims, ne, data, type);
    float *perm = rt_try_alloc(sizeof(float) * (size_t)rows * (size_t)cols, name);
    if (!perm) return RT_ERR_NOMEM;
    rt_gguf_permute_rows(perm, data, rows, cols, n_head);
    rt_status s = rt_gguf_writer_add_f32(w, name, n_dims, ne, perm, type);
    free(perm);
    return s;
}

static rt_status add_layer(rt_gguf_writer *w, const rt_model *m, int l, rt_ggml_type type) {
    const rt_model_config *c = &m->cfg;
    const rt_layer_weights *L = &m->w.layers[l];
    char name[96];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
    int64_t ne[1] = {c->hidden_size};
    RT_TRY(rt_gguf_writer_add_f32(w, name, 1, ne, L->attn_norm, RT_GGML_F32));
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
    RT_TRY(rt_gguf_writer_add_f32(w, name, 1, ne, L->mlp_norm, RT_GGML_F32));
    for (int p = 0; p < RT_N_PROJ; p++) {
        int out, in, heads = rt_gguf_permute_heads(c, (rt_proj)p);
        rt_proj_dims(c, (rt_proj)p, &out, &in);
        rt_gguf_proj_name(name, sizeof name, l, (rt_proj)p, "weight");
        RT_TRY(rt_gguf_add_rows(w, name, 2, L->w[p], out, in, heads, type));
        if (!L->b[p]) continue;
        rt_gguf_proj_name(name, sizeof name, l, (rt_proj)p, "bias");
        /* A bias moves with its rows. */
        RT_TRY(rt_gguf_add_rows(w, name, 1, L->b[p], out, 1, heads, RT_GGML_F32));
    }
    return RT_OK;
}

rt_status rt_gguf_export_model(const rt_model *m, const char *path, const rt_gguf_export_params *p) {
    rt_gguf_export_params d = rt_gguf_export_params_default();
    if (!p) p = &d;
    if (!m || !path) return rt_fail(RT_ERR_ARG, "GGUF export: NULL model or path");
    if (m->has_lora) return rt_fail(RT_ERR_ARG, "%s: the model has an adapter: merge it first (rt_lora_merge)", path);
    const rt_model_config *c = &m->cfg;
    if (c->sliding_window > 0)
        rt_warn("%s: llama.cpp's '%s' has no sliding window: the file attends to every earlier token, which agrees "
                "with the model only over the first %d tokens", path, rt_gguf_arch_name(c->arch), c->sliding_window);
    rt_gguf_writer *w = rt_gguf_writer_new();
    rt_status s = rt_gguf_put_general(w, c, "model", p->name);
    if (s == RT_OK) s = put_hparams(w, c, p->type);
    if (s == RT_OK && p->tokenizer) s = rt_gguf_put_tokenizer(w, p->tokenizer, p->pre, c);
    int64_t ne_h[1] = {c->hidden_size};
    if (s == RT_OK) s = rt_gguf_add_rows(w, "token_embd.weight", 2, m->w.embed, c->vocab_size, c->hidden_size, 0, p->type);
    for (int l = 0; l < c->n_layers && s == RT_OK; l++) s = add_layer(w, m, l, p->type);
    if (s == RT_OK) s = rt_gguf_writer_add_f32(w, "output_norm.weight", 1, ne_h, m->w.final_norm, RT_GGML_F32);
    if (s == RT_OK && !c->tie_word_embeddings)
        s = rt_gguf_add_rows(w, "output.weight", 2, m->w.lm_head, c->vocab_size, c->hidden_size, 0, p->type);
    if (s == RT_OK) s = put_rope_freqs(w, c);
    if (s == RT_OK) s = rt_gguf_writer_save(w, path);
    rt_gguf_writer_free(w);
    return s;
}
