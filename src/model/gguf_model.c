/* gguf_model.c: a decoder from a GGUF file: its config from the metadata, its tensors (llama.cpp's
 * names) dequantized to float32 into the model's one allocation.
 *
 * Architectures: `llama` (Llama 2/3, Mistral and SmolLM are all written as llama) and `qwen2`.
 * llama.cpp's converter permutes the rows of q_proj and k_proj (weights and biases) of `llama` models
 * from Hugging Face's rotate-half layout to ggml's interleaved one; loading undoes it. Qwen2 is written
 * unpermuted. Not handled, with a clear error: other architectures, RoPE scaling other than linear
 * (YaRN, or Llama 3.1's factors stored as a rope_freqs tensor), partial rotary dimensions. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "retrace/gguf.h"

/* Config bounds: anything past these is a corrupt or hostile header, not a model. */
#define GGUF_MAX_DIM (1 << 20)
#define GGUF_MAX_LAYERS 4096

static rt_status get_dim(const rt_gguf *g, const char *arch, const char *suffix, int64_t dflt, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    RT_TRY(dflt < 0 ? rt_gguf_get_int(g, key, &v) : rt_gguf_get_int_or(g, key, dflt, &v));
    if (v <= 0 || v > GGUF_MAX_DIM)
        return rt_fail(RT_ERR_FORMAT, "%s: key '%s' is %lld, outside 1..%d", rt_gguf_path(g), key, (long long)v, GGUF_MAX_DIM);
    *out = (int)v;
    return RT_OK;
}

static rt_status get_real(const rt_gguf *g, const char *arch, const char *suffix, double dflt, double *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return rt_gguf_get_float_or(g, key, dflt, out);
}

static rt_status read_rope(const rt_gguf *g, const char *arch, rt_model_config *c) {
    memset(&c->rope, 0, sizeof c->rope);
    RT_TRY(get_real(g, arch, "rope.freq_base", 10000.0, &c->rope.theta));
    char key[128], type[64] = "none";
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (rt_gguf_find(g, key)) RT_TRY(rt_gguf_get_name(g, key, type, sizeof type));
    c->rope.kind = RT_ROPE_DEFAULT;
    if (strcmp(type, "linear") == 0) {
        c->rope.kind = RT_ROPE_LINEAR;
        RT_TRY(get_real(g, arch, "rope.scaling.factor", -1.0, &c->rope.factor));
        if (c->rope.factor <= 0) return rt_fail(RT_ERR_FORMAT, "%s: linear rope scaling needs a positive '%s.rope.scaling.factor'", rt_gguf_path(g), arch);
    } else if (strcmp(type, "none") != 0) {
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported (none, linear)", rt_gguf_path(g), type);
    }
    if (rt_gguf_find_tensor(g, "rope_freqs.weight"))
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' (per-frequency RoPE factors, as Llama 3.1 uses) is not supported", rt_gguf_path(g));
    int rot;
    RT_TRY(get_dim(g, arch, "rope.dimension_count", c->head_dim, &rot));
    if (rot != c->head_dim)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: partial rotary embeddings (%s.rope.dimension_count %d, head dim %d) are not supported",
                       rt_gguf_path(g), arch, rot, c->head_dim);
    return RT_OK;
}

static rt_status read_arch(const rt_gguf *g, rt_arch *arch, char *name, size_t cap) {
    RT_TRY(rt_gguf_get_name(g, "general.architecture", name, cap));
    if (strcmp(name, "llama") == 0) *arch = RT_ARCH_LLAMA;
    else if (strcmp(name, "qwen2") == 0) *arch = RT_ARCH_QWEN2;
    else return rt_fail(RT_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (llama, qwen2)", rt_gguf_path(g), name);
    return RT_OK;
}

static int token_id_or(const rt_gguf *g, const char *key) {
    int64_t v;
    return rt_gguf_get_int_or(g, key, -1, &v) == RT_OK && v >= 0 && v < INT32_MAX ? (int)v : -1;
}

rt_status rt_gguf_model_config(const rt_gguf *g, rt_model_config *c) {
    memset(c, 0, sizeof *c);
    char arch[64];
    RT_TRY(read_arch(g, &c->arch, arch, sizeof arch));
    RT_TRY(get_dim(g, arch, "embedding_length", -1, &c->hidden_size));
    RT_TRY(get_dim(g, arch, "feed_forward_length", -1, &c->intermediate_size));
    RT_TRY(get_dim(g, arch, "block_count", -1, &c->n_layers));
    if (c->n_layers > GGUF_MAX_LAYERS) return rt_fail(RT_ERR_FORMAT, "%s: %d layers is too many", rt_gguf_path(g), c->n_layers);
    RT_TRY(get_dim(g, arch, "attention.head_count", -1, &c->n_heads));
    RT_TRY(get_dim(g, arch, "attention.head_count_kv", c->n_heads, &c->n_kv_heads));
    RT_TRY(get_dim(g, arch, "attention.key_length", c->hidden_size / c->n_heads, &c->head_dim));
    RT_TRY(get_dim(g, arch, "context_length", 2048, &c->max_position_embeddings));
    double eps;
    RT_TRY(get_real(g, arch, "attention.layer_norm_rms_epsilon", -1.0, &eps));
    c->rms_norm_eps = (float)eps;
    RT_TRY(read_rope(g, arch, c));
    const rt_gguf_tensor *emb = rt_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return rt_fail(RT_ERR_NOT_FOUND, "%s: missing tensor 'token_embd.weight'", rt_gguf_path(g));
    RT_TRY(get_dim(g, arch, "vocab_size", emb->n_dims == 2 ? emb->ne[1] : 0, &c->vocab_size));
    c->tie_word_embeddings = rt_gguf_find_tensor(g, "output.weight") == NULL;
    if (c->arch == RT_ARCH_QWEN2) {
        c->attention_bias = 1;
    } else {
        c->attention_bias = rt_gguf_find_tensor(g, "blk.0.attn_q.bias") != NULL;
        c->o_bias = c->attention_bias;
        c->mlp_bias = rt_gguf_find_tensor(g, "blk.0.ffn_up.bias") != NULL;
    }
    c->bos_token_id = token_id_or(g, "tokenizer.ggml.bos_token_id");
    c->eos_token_id = token_id_or(g, "tokenizer.ggml.eos_token_id");
    return rt_config_validate(c, rt_gguf_path(g));
}

/* llama.cpp's converter reorders each head's rows from [first half; second half] to interleaved
 * pairs: ggml row 2i+a of a head is Hugging Face row a*(hd/2)+i. `rows` holds n_heads*hd rows of
 * `cols` floats (cols 1 for a bias); tmp holds one head. */
static void unpermute_rows(float *rows, int n_heads, int hd, int64_t cols, float *tmp) {
    size_t row_bytes = (size_t)cols * sizeof(float);
    for (int h = 0; h < n_heads; h++) {
        float *head = rows + (size_t)h * hd * cols;
        memcpy(tmp, head, (size_t)hd * row_bytes);
        for (int i = 0; i < hd / 2; i++)
            for (int a = 0; a < 2; a++) memcpy(head + (size_t)(a * (hd / 2) + i) * cols, tmp + (size_t)(2 * i + a) * cols, row_bytes);
    }
}

/* Reads one tensor whose ggml shape must be [in, out] (or [out] for a vector); with dst NULL it only
 * checks the shape (the pass before allocating, so a header cannot make us allocate what the file
 * does not hold). */
static rt_status load_tensor(const rt_gguf *g, const char *name, float *dst, int64_t out, int64_t in) {
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, name);
    if (!t) return rt_fail(RT_ERR_NOT_FOUND, "%s: missing tensor '%s'", rt_gguf_path(g), name);
    int want_dims = in ? 2 : 1;
    int ok = t->n_dims == want_dims && (in ? t->ne[0] == in && t->ne[1] == out : t->ne[0] == out);
    if (!ok)
        return rt_fail(RT_ERR_SHAPE, "%s: tensor '%s' has shape [%lld, %lld] (ggml order), expected [%lld, %lld]", rt_gguf_path(g),
                       name, (long long)t->ne[0], (long long)(t->n_dims > 1 ? t->ne[1] : 0), (long long)(in ? in : out),
                       (long long)(in ? out : 0));
    return dst ? rt_gguf_tensor_to_f32(g, t, dst, in ? out * in : out) : RT_OK;
}

static const char *const GGUF_PROJ[RT_N_PROJ] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

/* L NULL: check shapes only. */
static rt_status load_layer(const rt_gguf *g, const rt_model_config *c, int l, rt_layer_weights *L, float *tmp) {
    char name[96];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
    RT_TRY(load_tensor(g, name, L ? L->attn_norm : NULL, c->hidden_size, 0));
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
    RT_TRY(load_tensor(g, name, L ? L->mlp_norm : NULL, c->hidden_size, 0));
    for (int p = 0; p < RT_N_PROJ; p++) {
        int o, in;
        rt_proj_dims(c, (rt_proj)p, &o, &in);
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, GGUF_PROJ[p]);
        RT_TRY(load_tensor(g, name, L ? L->w[p] : NULL, o, in));
        if (rt_proj_has_bias(c, (rt_proj)p)) {
            snprintf(name, sizeof name, "blk.%d.%s.bias", l, GGUF_PROJ[p]);
            RT_TRY(load_tensor(g, name, L ? L->b[p] : NULL, o, 0));
        }
        if (L && c->arch == RT_ARCH_LLAMA && (p == RT_PROJ_Q || p == RT_PROJ_K)) {
            int heads = p == RT_PROJ_Q ? c->n_heads : c->n_kv_heads;
            unpermute_rows(L->w[p], heads, c->head_dim, in, tmp);
            if (L->b[p]) unpermute_rows(L->b[p], heads, c->head_dim, 1, tmp);
        }
    }
    return RT_OK;
}

/* m NULL: check every shape against c, allocating nothing. */
static rt_status load_weights(const rt_gguf *g, const rt_model_config *c, rt_model *m) {
    RT_TRY(load_tensor(g, "token_embd.weight", m ? m->w.embed : NULL, c->vocab_size, c->hidden_size));
    RT_TRY(load_tensor(g, "output_norm.weight", m ? m->w.final_norm : NULL, c->hidden_size, 0));
    if (!c->tie_word_embeddings) RT_TRY(load_tensor(g, "output.weight", m ? m->w.lm_head : NULL, c->vocab_size, c->hidden_size));
    float *tmp = m ? rt_malloc((size_t)c->head_dim * c->hidden_size * sizeof(float)) : NULL;
    rt_status s = RT_OK;
    for (int l = 0; l < c->n_layers && s == RT_OK; l++) s = load_layer(g, c, l, m ? &m->w.layers[l] : NULL, tmp);
    free(tmp);
    return s;
}

rt_status rt_model_load_gguf(const char *path, rt_model **out) {
    *out = NULL;
    rt_gguf *g;
    RT_TRY(rt_gguf_open(path, &g));
    rt_model_config cfg;
    rt_status s = rt_gguf_model_config(g, &cfg);
    if (s == RT_OK) s = load_weights(g, &cfg, NULL);
    rt_model *m = s == RT_OK ? rt_model_alloc(&cfg) : NULL;
    if (s == RT_OK) s = load_weights(g, &cfg, m);
    rt_gguf_close(g);
    if (s != RT_OK) {
        rt_model_free(m);
        return s;
    }
    *out = m;
    return RT_OK;
}
