/* retrace/model.h: Llama-family decoders (Llama 3, Mistral, Qwen2, SmolLM) with LoRA adapters.
 *
 * A model is loaded from (and saved to) a Hugging Face folder: config.json plus model.safetensors or a
 * sharded index. Weights are float32 in one allocation. Training runs a forward pass that keeps the
 * activations, then a hand-written backward pass that fills the gradients of whatever is trainable:
 * the LoRA adapters (base frozen: no base weight gradient is computed) or every parameter (full
 * fine-tuning). Inference uses a KV cache. */
#ifndef RETRACE_MODEL_H
#define RETRACE_MODEL_H

#include "retrace/base.h"
#include "retrace/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Explicit values; only grow at the end. */
typedef enum { RT_ARCH_LLAMA = 0, RT_ARCH_MISTRAL = 1, RT_ARCH_QWEN2 = 2 } rt_arch;

/* The seven linear projections of a decoder layer, in PEFT's target_modules spelling. */
typedef enum {
    RT_PROJ_Q = 0,
    RT_PROJ_K = 1,
    RT_PROJ_V = 2,
    RT_PROJ_O = 3,
    RT_PROJ_GATE = 4,
    RT_PROJ_UP = 5,
    RT_PROJ_DOWN = 6,
    RT_N_PROJ = 7
} rt_proj;

#define RT_PROJ_ALL_MASK 0x7Fu
const char *rt_proj_name(rt_proj p); /* "q_proj", ..., "down_proj" */
/* Parses "q,k,v,o,gate,up,down" or "q_proj,v_proj" or "all" into a mask. */
rt_status rt_proj_mask_parse(const char *list, unsigned *mask);

typedef struct {
    rt_arch arch;
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int vocab_size;
    int max_position_embeddings;
    float rms_norm_eps;
    rt_rope_params rope;
    int tie_word_embeddings;
    int attention_bias; /* q,k,v biases (Qwen2 always; Llama's attention_bias also adds o) */
    int o_bias;         /* o_proj bias (Llama attention_bias only) */
    int mlp_bias;       /* gate/up/down biases (Llama mlp_bias) */
    int sliding_window; /* 0 = full causal attention */
    int bos_token_id;   /* -1 when absent */
    int eos_token_id;   /* -1 when absent (the first one when a list) */
} rt_model_config;

/* Reads config.json; errors name the file and the key. Unsupported architectures are refused. */
rt_status rt_config_load(const char *path, rt_model_config *cfg);
/* The architecture's class name in config.json ("LlamaForCausalLM", ...). */
const char *rt_arch_name(rt_arch arch);
/* Writes a config.json that transformers loads for the same architecture. */
rt_status rt_config_save(const char *path, const rt_model_config *cfg);
/* Checks the numbers agree (heads divide, head_dim even, ...). */
rt_status rt_config_validate(const rt_model_config *cfg, const char *what);

typedef struct {
    float *w[RT_N_PROJ]; /* (out, in) */
    float *b[RT_N_PROJ]; /* (out) or NULL */
    float *attn_norm;    /* (H) input_layernorm */
    float *mlp_norm;     /* (H) post_attention_layernorm */
} rt_layer_weights;

typedef struct {
    float *embed;      /* (V,H) */
    rt_layer_weights *layers;
    float *final_norm; /* (H) */
    float *lm_head;    /* (V,H); equals embed when tied */
} rt_weights;

/* One LoRA adapter: y += scale * (dropout(x) A^T) B^T. */
typedef struct {
    float *A, *B;   /* (r, in), (out, r) */
    float *dA, *dB; /* gradients */
    int in, out;
} rt_lora_linear;

typedef struct {
    int r;
    float alpha;
    int rslora;     /* scale alpha/sqrt(r) instead of alpha/r */
    float dropout;
    unsigned proj_mask;
} rt_lora_config;

rt_lora_config rt_lora_config_default(void); /* the paper recipe: r 128, alpha 256, rsLoRA, all 7, dropout 0.05 */

typedef struct rt_model_acts rt_model_acts;

/* Precision of the frozen base's products in training (rt_model_set_base_dtype). Explicit values. */
typedef enum { RT_BASE_F32 = 0, RT_BASE_BF16 = 1 } rt_base_dtype;

typedef struct {
    rt_model_config cfg;
    rt_weights w;
    float *params;   /* one allocation holding every base weight */
    size_t n_params;
    rt_weights g;    /* gradients, same layout (full fine-tuning only) */
    float *grads;
    /* LoRA */
    int has_lora;
    rt_lora_config lora_cfg;
    float lora_scale;
    rt_lora_linear *lora; /* n_layers * RT_N_PROJ, A == NULL where not adapted */
    float *lora_mem;      /* A,B,dA,dB of all adapters */
    /* training */
    int train_full;       /* 1: every base parameter trainable */
    int training;         /* 1: dropout on */
    uint64_t dropout_seed;
    int64_t forward_count;
    rt_model_acts *acts;
    rt_param *param_list; /* trainable parameters, for the optimizer */
    int n_param_list;
    /* bf16 frozen base (rt_model_set_base_dtype): rounded copies of the projections and the lm_head */
    rt_base_dtype base_dtype;
    uint16_t *base_bf16;  /* one allocation */
    uint16_t **proj_bf16; /* n_layers * RT_N_PROJ pointers into it */
    uint16_t *lm_head_bf16;
} rt_model;

/* Loads config.json and the weights (F32/BF16/F16) from a Hugging Face folder, or a .gguf file
 * (rt_model_load_gguf: llama and qwen2, dequantized to float32; see docs/gguf.md). */
rt_status rt_model_load(const char *dir, rt_model **out);
rt_status rt_model_load_gguf(const char *path, rt_model **out);
struct rt_gguf;
/* The config of an opened GGUF file, from its metadata (errors name the file and the key). */
rt_status rt_gguf_model_config(const struct rt_gguf *g, rt_model_config *cfg);
/* A fresh model with transformers' initialisation (normal(0, 0.02), norms at 1), for pretraining. */
rt_status rt_model_new_random(const rt_model_config *cfg, uint64_t seed, rt_model **out);
/* Saves config.json and model.safetensors (F32) so transformers loads the folder. */
rt_status rt_model_save(const rt_model *m, const char *dir);
void rt_model_free(rt_model *m);
/* Number of base parameters (tied embeddings counted once). */
size_t rt_model_param_count(const rt_model *m);

/* Chooses the precision of the frozen base in training and evaluation passes (rt_model_forward and
 * rt_model_backward). RT_BASE_BF16 rounds a copy of every projection and of the lm_head to bfloat16 once
 * (the float32 weights stay, for generation, merge and save) and runs the base products x W^T and
 * dy W in bf16 with float32 accumulation, as PyTorch's bf16 autocast does; the adapters, norms,
 * attention, loss and optimizer stay float32. Full fine-tuning (rt_model_train_setup with full = 1)
 * always runs in float32. Fails when the build has no oneDNN. rt_lora_merge refreshes the copy; after
 * changing the base weights any other way, call again; RT_BASE_F32 frees it. */
rt_status rt_model_set_base_dtype(rt_model *m, rt_base_dtype dtype);
/* "f32" or "bf16". */
const char *rt_base_dtype_name(rt_base_dtype dtype);

/* ---- LoRA ---- */

/* Adds adapters: A kaiming-uniform(a=sqrt(5)) (uniform in +-1/sqrt(in)), B zero. */
rt_status rt_lora_attach(rt_model *m, const rt_lora_config *cfg, uint64_t seed);
/* Loads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors). Shapes are checked
 * against the base, each error naming the file and the tensor. */
rt_status rt_lora_load_peft(rt_model *m, const char *dir);
/* Checks that the adapter in adapter_dir was trained for the base in model_dir (whose config is cfg):
 * the config.json at the adapter's base_model_name_or_path, when that folder exists, must match cfg in
 * architecture and shapes, else RT_ERR_ARG names both. When the recorded base is not a folder here (a
 * hub name, a moved folder), *unverified is set unless its last name equals model_dir's; callers warn.
 * An adapter that records no base is not checked. */
rt_status rt_lora_check_base(const char *adapter_dir, const char *model_dir, const rt_model_config *cfg, int *unverified);
/* Writes the PEFT layout; base_model_name_or_path is recorded in adapter_config.json. */
rt_status rt_lora_save_peft(const rt_model *m, const char *dir, const char *base_model_name_or_path);
/* Folds the adapters into the base weights (W += scale B A) and removes them. */
rt_status rt_lora_merge(rt_model *m);

/* ---- training ---- */

/* Chooses what trains: full = 1 for every base parameter, else the LoRA adapters (attached first).
 * Fills m->param_list for the optimizer. */
rt_status rt_model_train_setup(rt_model *m, int full);
/* Forward pass over ids (B,T) keeping activations. targets (B,T): the id each position should predict,
 * -1 where no loss is taken. *loss is the mean over the non-ignored positions. Logits (B,T,V) stay
 * readable through rt_model_logits until the next backward. */
rt_status rt_model_forward(rt_model *m, const int32_t *ids, const int32_t *targets, int B, int T, float *loss);
/* Backward pass of the last forward: ACCUMULATES grad_scale * d(mean loss) into the trainable gradients
 * (grad_scale = 1/accumulation_steps for gradient accumulation). */
rt_status rt_model_backward(rt_model *m, float grad_scale);
const float *rt_model_logits(const rt_model *m);
/* Builds targets for causal LM from ids and a loss mask (B,T): target[t] = ids[t+1] where mask[t+1]. */
void rt_causal_targets(int32_t *targets, const int32_t *ids, const int32_t *loss_mask, int B, int T);

/* ---- inference ---- */

typedef struct {
    int max_len, len;
    float *k, *v; /* (n_layers, max_len, n_kv_heads * head_dim) */
} rt_kv_cache;

rt_status rt_kv_cache_init(rt_kv_cache *c, const rt_model *m, int max_len);
void rt_kv_cache_free(rt_kv_cache *c);
/* Runs n tokens at positions c->len.. through the model, appending to the cache; writes the logits of
 * the last token (V) to `logits`. Allocates its scratch per call: loops should use a session. */
rt_status rt_model_decode(rt_model *m, rt_kv_cache *c, const int32_t *tokens, int n, float *logits);

typedef struct {
    int max_new_tokens;
    float temperature; /* 0 = greedy */
    float top_p;       /* 1 = off */
    uint64_t seed;
    int eos_token_id;  /* -1 = none */
    int vocab_limit;   /* sample only ids below this (a tokenizer smaller than a padded vocabulary); 0 = all */
    const char *const *stop_strings; /* NULL-terminated list, or NULL; needs `decode` */
    /* Turns ids into text for stop-string matching; returns bytes written (may be NULL). */
    int (*decode)(void *ctx, const int32_t *ids, int n, char *buf, int cap);
    void *decode_ctx;
    int top_k;         /* sample among the k most likely ids only, before top-p; 0 = off */
} rt_gen_params;

rt_gen_params rt_gen_params_default(void);
/* Generates after `prompt`; out receives up to max_new_tokens ids, *n_out how many. Stops at EOS (not
 * included) or when the decoded continuation contains a stop string (the tokens are kept). */
rt_status rt_generate(rt_model *m, const int32_t *prompt, int n_prompt, const rt_gen_params *p, int32_t *out,
                      int *n_out);
/* Samples one id from logits (V) in place: temperature, then top-p (nucleus). Greedy when temperature 0. */
int rt_sample(float *logits, int V, float temperature, float top_p, rt_rng *rng);

/* ---- generation sessions: prefix reuse and batched decoding ----
 *
 * A session is a KV cache that remembers the tokens it holds. Its generate call takes the FULL prompt,
 * keeps the longest prefix the cache already holds (dropping the rest), prefills only the new suffix,
 * then decodes. An agent whose prompt only grows between steps (static retrieval: system prompt,
 * retrieved episodes, then the history) prefills just the tokens added since the last step:
 *
 *     rt_gen_session *s;
 *     RT_TRY(rt_gen_session_new(m, 4096, &s));       // one per episode; max_len >= prompt + new tokens
 *     for each step:
 *         build the full prompt ids (chat template and all), then
 *         RT_TRY(rt_gen_session_generate(s, ids, n, &gp, out, &n_out));
 *     rt_gen_session_free(s);
 *
 * Several episodes step together with rt_generate_batch: one session each (each its own prompt, length,
 * parameters and seed); their new suffixes are prefilled together and they decode in lockstep, every
 * layer's projections one (B, H) x (H, out) product, so the weights are read once per token for all B.
 * A sequence stops on its own (EOS, stop string, max_new_tokens) while the others go on.
 *
 * Results equal rt_generate's bit for bit (greedy tokens, and sampled ones for the same seed): every
 * row is computed the same way alone, chunked or batched. The kernels are this module's own (tiled
 * AVX2/FMA where the build has it, portable C otherwise), threaded with OpenMP. A session's scratch
 * is kept between calls. A session serves one model and one thread at a time; the model must not
 * change (adapters, merges, weights) while a session holds a cache computed with it, or call
 * rt_gen_session_reset. */
typedef struct rt_gen_session rt_gen_session;

/* What the last generate call did for this session (in tokens). */
typedef struct {
    int reused;    /* prompt tokens whose cache entries were kept */
    int prefilled; /* prompt tokens run through the model */
    int decoded;   /* generated tokens run through the model (the last generated one never is) */
} rt_gen_stats;

/* A session for up to max_len positions (prompt plus generated tokens). The cache takes 2 * n_layers *
 * n_kv_heads * head_dim floats per position (SmolLM2-135M: 46 KB, 92 MB for 2048); it is allocated for
 * 512 positions and grows as prompts need, up to max_len, so a generous max_len costs nothing. */
rt_status rt_gen_session_new(rt_model *m, int max_len, rt_gen_session **out);
void rt_gen_session_free(rt_gen_session *s);
/* Forgets the cache (the next call prefills its whole prompt). */
void rt_gen_session_reset(rt_gen_session *s);
/* Number of tokens the cache holds, and those tokens (valid until the next call). */
int rt_gen_session_len(const rt_gen_session *s);
const int32_t *rt_gen_session_tokens(const rt_gen_session *s);
rt_gen_stats rt_gen_session_stats(const rt_gen_session *s);
/* on = 1: the projections and lm_head use the model's bfloat16 copies (rt_model_set_base_dtype with
 * RT_BASE_BF16 makes them), activations and sums stay float32: half the weight bytes per token, logits
 * within bf16 rounding of float32. In a batch the first session's setting applies. */
rt_status rt_gen_session_set_bf16(rt_gen_session *s, int on);
/* As rt_generate, for the full prompt, reusing the cached prefix (see above). */
rt_status rt_gen_session_generate(rt_gen_session *s, const int32_t *prompt, int n_prompt, const rt_gen_params *p,
                                  int32_t *out, int *n_out);
/* B sequences at once: sequence b continues sessions[b] with prompts[b] (n_prompts[b] ids) under
 * params[b], writing up to params[b].max_new_tokens ids to outs[b] and the count to n_outs[b]. The
 * sessions must be distinct and of one model; the first one's scratch is used. */
rt_status rt_generate_batch(rt_gen_session *const *sessions, int B, const int32_t *const *prompts,
                            const int *n_prompts, const rt_gen_params *params, int32_t *const *outs, int *n_outs);

#ifdef __cplusplus
}
#endif
#endif
