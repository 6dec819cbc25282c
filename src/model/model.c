/* model.c: the decoder's parameters: layout in one allocation, loading, saving, initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "retrace/gguf.h"
#include "retrace/safetensors.h"

void rt_proj_dims(const rt_model_config *c, rt_proj p, int *out, int *in) {
    int H = c->hidden_size, I = c->intermediate_size;
    int qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    switch (p) {
    case RT_PROJ_Q: *out = qd, *in = H; break;
    case RT_PROJ_K:
    case RT_PROJ_V: *out = kvd, *in = H; break;
    case RT_PROJ_O: *out = H, *in = qd; break;
    case RT_PROJ_GATE:
    case RT_PROJ_UP: *out = I, *in = H; break;
    default: *out = H, *in = I; break;
    }
}

int rt_proj_has_bias(const rt_model_config *c, rt_proj p) {
    if (p == RT_PROJ_Q || p == RT_PROJ_K || p == RT_PROJ_V) return c->attention_bias;
    if (p == RT_PROJ_O) return c->o_bias;
    return c->mlp_bias;
}

/* Walks the layout in a fixed order, binding w's pointers into base; with base == NULL it only measures. */
static size_t layout(const rt_model_config *c, rt_weights *w, float *base) {
    size_t off = 0;
    size_t H = (size_t)c->hidden_size, V = (size_t)c->vocab_size;
#define TAKE(ptr, n)                  \
    do {                              \
        (ptr) = base ? base + off : NULL; \
        off += (n);                   \
    } while (0)
    TAKE(w->embed, V * H);
    for (int l = 0; l < c->n_layers; l++) {
        rt_layer_weights *L = &w->layers[l];
        TAKE(L->attn_norm, H);
        for (int p = 0; p < RT_N_PROJ; p++) {
            int o, i;
            rt_proj_dims(c, (rt_proj)p, &o, &i);
            TAKE(L->w[p], (size_t)o * i);
            L->b[p] = NULL;
            if (rt_proj_has_bias(c, (rt_proj)p)) TAKE(L->b[p], (size_t)o);
        }
        TAKE(L->mlp_norm, H);
    }
    TAKE(w->final_norm, H);
    if (c->tie_word_embeddings) w->lm_head = w->embed;
    else TAKE(w->lm_head, V * H);
#undef TAKE
    return off;
}

size_t rt_weights_size(const rt_model_config *c) {
    rt_weights tmp;
    tmp.layers = rt_calloc((size_t)c->n_layers, sizeof(rt_layer_weights));
    size_t n = layout(c, &tmp, NULL);
    free(tmp.layers);
    return n;
}

void rt_weights_bind(const rt_model_config *c, rt_weights *w, float *base) { layout(c, w, base); }

int rt_model_tensor_count(const rt_model *m) {
    int per_layer = 2 + RT_N_PROJ;
    for (int p = 0; p < RT_N_PROJ; p++) per_layer += rt_proj_has_bias(&m->cfg, (rt_proj)p);
    return 2 + m->cfg.n_layers * per_layer + (m->cfg.tie_word_embeddings ? 0 : 1);
}

static void add_ref(rt_tensor_ref *r, const char *name, float *data, float *grad, int64_t d0, int64_t d1, int decay) {
    snprintf(r->name, sizeof r->name, "%s", name);
    r->data = data;
    r->grad = grad;
    r->ndim = d1 ? 2 : 1;
    r->shape[0] = d0;
    r->shape[1] = d1;
    r->decay = decay;
}

int rt_model_tensors(const rt_model *m, rt_tensor_ref *refs) {
    const rt_model_config *c = &m->cfg;
    const rt_weights *w = &m->w, *g = m->grads ? &m->g : NULL;
    int n = 0;
    char name[RT_TENSOR_NAME_MAX];
    int64_t H = c->hidden_size, V = c->vocab_size;
    add_ref(&refs[n++], "model.embed_tokens.weight", w->embed, g ? g->embed : NULL, V, H, 1);
    for (int l = 0; l < c->n_layers; l++) {
        const rt_layer_weights *L = &w->layers[l], *G = g ? &g->layers[l] : NULL;
        snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        add_ref(&refs[n++], name, L->attn_norm, G ? G->attn_norm : NULL, H, 0, 0);
        for (int p = 0; p < RT_N_PROJ; p++) {
            int o, i;
            rt_proj_dims(c, (rt_proj)p, &o, &i);
            const char *block = p <= RT_PROJ_O ? "self_attn" : "mlp";
            snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", l, block, rt_proj_name((rt_proj)p));
            add_ref(&refs[n++], name, L->w[p], G ? G->w[p] : NULL, o, i, 1);
            if (L->b[p]) {
                snprintf(name, sizeof name, "model.layers.%d.%s.%s.bias", l, block, rt_proj_name((rt_proj)p));
                add_ref(&refs[n++], name, L->b[p], G ? G->b[p] : NULL, o, 0, 0);
            }
        }
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        add_ref(&refs[n++], name, L->mlp_norm, G ? G->mlp_norm : NULL, H, 0, 0);
    }
    add_ref(&refs[n++], "model.norm.weight", w->final_norm, g ? g->final_norm : NULL, H, 0, 0);
    if (!c->tie_word_embeddings) add_ref(&refs[n++], "lm_head.weight", w->lm_head, g ? g->lm_head : NULL, V, H, 1);
    return n;
}

rt_model *rt_model_alloc(const rt_model_config *cfg) {
    rt_model *m = rt_calloc(1, sizeof *m);
    m->cfg = *cfg;
    m->n_params = rt_weights_size(cfg);
    m->params = rt_alloc_floats(m->n_params);
    m->w.layers = rt_calloc((size_t)cfg->n_layers, sizeof(rt_layer_weights));
    rt_weights_bind(cfg, &m->w, m->params);
    return m;
}

size_t rt_model_param_count(const rt_model *m) { return m->n_params; }

rt_status rt_model_new_random(const rt_model_config *cfg, uint64_t seed, rt_model **out) {
    RT_TRY(rt_config_validate(cfg, "model config"));
    rt_model *m = rt_model_alloc(cfg);
    rt_rng rng;
    rt_rng_seed(&rng, seed);
    int n = rt_model_tensor_count(m);
    rt_tensor_ref *refs = rt_malloc(sizeof *refs * (size_t)n);
    rt_model_tensors(m, refs);
    for (int i = 0; i < n; i++) {
        size_t numel = (size_t)refs[i].shape[0] * (refs[i].ndim == 2 ? (size_t)refs[i].shape[1] : 1);
        int is_norm = strstr(refs[i].name, "norm") != NULL;
        int is_bias = strstr(refs[i].name, ".bias") != NULL;
        for (size_t j = 0; j < numel; j++)
            refs[i].data[j] = is_norm ? 1.0f : is_bias ? 0.0f : 0.02f * rt_rng_normal(&rng);
    }
    free(refs);
    *out = m;
    return RT_OK;
}

rt_status rt_model_load(const char *dir, rt_model **out) {
    *out = NULL;
    if (rt_gguf_path_is_gguf(dir)) return rt_model_load_gguf(dir, out);
    char *cfg_path = rt_path_join(dir, "config.json");
    rt_model_config cfg;
    rt_status s = rt_config_load(cfg_path, &cfg);
    free(cfg_path);
    RT_TRY(s);
    rt_st_file *st;
    RT_TRY(rt_st_open(dir, &st));
    rt_model *m = rt_model_alloc(&cfg);
    int n = rt_model_tensor_count(m);
    rt_tensor_ref *refs = rt_malloc(sizeof *refs * (size_t)n);
    rt_model_tensors(m, refs);
    for (int i = 0; i < n && s == RT_OK; i++) s = rt_st_read_f32(st, refs[i].name, refs[i].data, refs[i].ndim, refs[i].shape);
    /* Some tied checkpoints still carry lm_head.weight; it must then equal the embedding, which we use. */
    free(refs);
    rt_st_close(st);
    if (s != RT_OK) {
        rt_model_free(m);
        return s;
    }
    *out = m;
    return RT_OK;
}

rt_status rt_model_save(const rt_model *m, const char *dir) {
    RT_TRY(rt_mkdir_p(dir));
    int n = rt_model_tensor_count(m);
    rt_tensor_ref *refs = rt_malloc(sizeof *refs * (size_t)n);
    rt_model_tensors(m, refs);
    rt_st_writer *w = rt_st_writer_new();
    rt_status s = RT_OK;
    for (int i = 0; i < n && s == RT_OK; i++)
        s = rt_st_writer_add_f32(w, refs[i].name, RT_DTYPE_F32, refs[i].ndim, refs[i].shape, refs[i].data);
    free(refs);
    char *path = rt_path_join(dir, "model.safetensors");
    if (s == RT_OK) s = rt_st_writer_save(w, path);
    free(path);
    rt_st_writer_free(w);
    if (s != RT_OK) return s;
    char *cfg_path = rt_path_join(dir, "config.json");
    s = rt_config_save(cfg_path, &m->cfg);
    free(cfg_path);
    return s;
}

const char *rt_base_dtype_name(rt_base_dtype dtype) { return dtype == RT_BASE_BF16 ? "bf16" : "f32"; }

static void base_bf16_free(rt_model *m) {
    rt_free_aligned(m->base_bf16);
    free(m->proj_bf16);
    m->base_bf16 = NULL;
    m->proj_bf16 = NULL;
    m->lm_head_bf16 = NULL;
}

rt_status rt_model_set_base_dtype(rt_model *m, rt_base_dtype dtype) {
    if (dtype != RT_BASE_F32 && dtype != RT_BASE_BF16) return rt_fail(RT_ERR_ARG, "unknown base dtype %d", (int)dtype);
    if (dtype == RT_BASE_BF16 && !rt_bf16_built())
        return rt_fail(RT_ERR_UNSUPPORTED, "base dtype bf16: retrace was built without oneDNN (install libdnnl-dev and rebuild)");
    base_bf16_free(m);
    /* The activation buffers hold bf16 scratch only in bf16 mode. */
    rt_model_acts_free(m->acts);
    m->acts = NULL;
    m->base_dtype = dtype;
    if (dtype == RT_BASE_F32) return RT_OK;
    const rt_model_config *c = &m->cfg;
    size_t total = (size_t)c->vocab_size * c->hidden_size;
    for (int p = 0; p < RT_N_PROJ; p++) {
        int o, in;
        rt_proj_dims(c, (rt_proj)p, &o, &in);
        total += (size_t)c->n_layers * o * in;
    }
    /* rt_alloc_floats gives 64-byte alignment, which oneDNN's kernels like; two bf16 per float. */
    m->base_bf16 = (uint16_t *)rt_alloc_floats((total + 1) / 2);
    m->proj_bf16 = rt_calloc((size_t)c->n_layers * RT_N_PROJ, sizeof(uint16_t *));
    uint16_t *ptr = m->base_bf16;
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < RT_N_PROJ; p++) {
            int o, in;
            rt_proj_dims(c, (rt_proj)p, &o, &in);
            m->proj_bf16[l * RT_N_PROJ + p] = ptr;
            rt_bf16_round_array(ptr, m->w.layers[l].w[p], (size_t)o * in);
            ptr += (size_t)o * in;
        }
    m->lm_head_bf16 = ptr;
    rt_bf16_round_array(ptr, m->w.lm_head, (size_t)c->vocab_size * c->hidden_size);
    return RT_OK;
}

void rt_model_free(rt_model *m) {
    if (!m) return;
    base_bf16_free(m);
    rt_free_aligned(m->params);
    rt_free_aligned(m->grads);
    rt_free_aligned(m->lora_mem);
    free(m->w.layers);
    free(m->g.layers);
    free(m->lora);
    if (m->param_list) {
        for (int i = 0; i < m->n_param_list; i++) free((char *)m->param_list[i].name);
        free(m->param_list);
    }
    rt_model_acts_free(m->acts);
    free(m);
}
