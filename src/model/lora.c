/* lora.c: LoRA adapters: attach, PEFT import and export, merge, and the trainable-parameter list. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "retrace/safetensors.h"

rt_lora_config rt_lora_config_default(void) {
    rt_lora_config c = {.r = 128, .alpha = 256.0f, .rslora = 1, .dropout = 0.05f, .proj_mask = RT_PROJ_ALL_MASK};
    return c;
}

static float lora_scale(const rt_lora_config *c) {
    return c->rslora ? c->alpha / sqrtf((float)c->r) : c->alpha / (float)c->r;
}

/* PEFT's saved key of adapter (l, p), matrix "A" or "B". */
static void peft_key(char *buf, size_t n, int l, rt_proj p, char which) {
    snprintf(buf, n, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", l, p <= RT_PROJ_O ? "self_attn" : "mlp",
             rt_proj_name(p), which);
}

/* Allocates zeroed A, B, dA, dB for every adapted projection. */
static rt_status lora_alloc(rt_model *m, const rt_lora_config *cfg) {
    if (m->has_lora) return rt_fail(RT_ERR_STATE, "the model already has LoRA adapters");
    if (cfg->r <= 0) return rt_fail(RT_ERR_ARG, "LoRA rank must be positive (got %d)", cfg->r);
    if (cfg->dropout < 0.0f || cfg->dropout >= 1.0f) return rt_fail(RT_ERR_ARG, "LoRA dropout must be in [0,1)");
    if (!(cfg->proj_mask & RT_PROJ_ALL_MASK)) return rt_fail(RT_ERR_ARG, "LoRA: no target projection");
    const rt_model_config *c = &m->cfg;
    size_t total = 0;
    for (int p = 0; p < RT_N_PROJ; p++) {
        if (!(cfg->proj_mask & (1u << p))) continue;
        int o, in;
        rt_proj_dims(c, (rt_proj)p, &o, &in);
        total += 2 * (size_t)cfg->r * (size_t)(o + in);
    }
    total *= (size_t)c->n_layers;
    m->lora_mem = rt_alloc_floats(total);
    memset(m->lora_mem, 0, sizeof(float) * total);
    m->lora = rt_calloc((size_t)c->n_layers * RT_N_PROJ, sizeof(rt_lora_linear));
    float *ptr = m->lora_mem;
    for (int l = 0; l < c->n_layers; l++)
        for (int p = 0; p < RT_N_PROJ; p++) {
            if (!(cfg->proj_mask & (1u << p))) continue;
            rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
            rt_proj_dims(c, (rt_proj)p, &ad->out, &ad->in);
            size_t na = (size_t)cfg->r * ad->in, nb = (size_t)ad->out * cfg->r;
            ad->A = ptr, ptr += na;
            ad->B = ptr, ptr += nb;
            ad->dA = ptr, ptr += na;
            ad->dB = ptr, ptr += nb;
        }
    m->has_lora = 1;
    m->lora_cfg = *cfg;
    m->lora_scale = lora_scale(cfg);
    /* Activations were sized without adapters. */
    rt_model_acts_free(m->acts);
    m->acts = NULL;
    return RT_OK;
}

rt_status rt_lora_attach(rt_model *m, const rt_lora_config *cfg, uint64_t seed) {
    RT_TRY(lora_alloc(m, cfg));
    rt_rng rng;
    rt_rng_seed(&rng, seed);
    for (int i = 0; i < m->cfg.n_layers * RT_N_PROJ; i++) {
        rt_lora_linear *ad = &m->lora[i];
        if (!ad->A) continue;
        /* kaiming_uniform_(a=sqrt(5)) on (r, in): gain sqrt(2/(1+5)), bound gain*sqrt(3/in) = 1/sqrt(in). */
        float bound = 1.0f / sqrtf((float)ad->in);
        for (size_t j = 0; j < (size_t)m->lora_cfg.r * ad->in; j++) ad->A[j] = bound * (2.0f * rt_rng_float(&rng) - 1.0f);
    }
    return RT_OK;
}

static rt_status read_peft_config(const char *path, rt_lora_config *cfg) {
    json_t *root;
    RT_TRY(rt_json_load(path, &root));
    rt_status s = RT_OK;
    const char *type;
    int64_t r;
    double alpha;
    memset(cfg, 0, sizeof *cfg);
    if ((s = rt_json_get_string(root, "peft_type", path, &type)) == RT_OK && strcmp(type, "LORA") != 0)
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: peft_type '%s' is not supported (LORA only)", path, type);
    if (s == RT_OK) s = rt_json_get_int(root, "r", path, &r);
    if (s == RT_OK) s = rt_json_get_number(root, "lora_alpha", path, &alpha);
    if (s == RT_OK && json_is_true(json_object_get(root, "use_dora")))
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: DoRA adapters (use_dora) are not supported", path);
    const char *patterns[] = {"rank_pattern", "alpha_pattern"};
    for (int i = 0; i < 2 && s == RT_OK; i++) {
        json_t *pat = json_object_get(root, patterns[i]);
        if (json_is_object(pat) && json_object_size(pat) > 0)
            s = rt_fail(RT_ERR_UNSUPPORTED, "%s: per-module %s is not supported", path, patterns[i]);
    }
    if (s == RT_OK && !json_is_null(json_object_get(root, "layers_to_transform")) && json_object_get(root, "layers_to_transform"))
        s = rt_fail(RT_ERR_UNSUPPORTED, "%s: layers_to_transform is not supported", path);
    json_t *targets = json_object_get(root, "target_modules");
    if (s == RT_OK && !json_is_array(targets))
        s = rt_fail(RT_ERR_FORMAT, "%s: key 'target_modules' must be a list of module names", path);
    for (size_t i = 0; s == RT_OK && i < json_array_size(targets); i++) {
        const char *name = json_string_value(json_array_get(targets, i));
        unsigned bit = 0;
        for (int p = 0; name && p < RT_N_PROJ; p++)
            if (strcmp(name, rt_proj_name((rt_proj)p)) == 0) bit = 1u << p;
        if (!bit) s = rt_fail(RT_ERR_UNSUPPORTED, "%s: target module '%s' is not a decoder projection", path, name ? name : "?");
        cfg->proj_mask |= bit;
    }
    if (s == RT_OK) {
        cfg->r = (int)r;
        cfg->alpha = (float)alpha;
        cfg->rslora = json_is_true(json_object_get(root, "use_rslora"));
        json_t *d = json_object_get(root, "lora_dropout");
        cfg->dropout = json_is_number(d) ? (float)json_number_value(d) : 0.0f;
        if (r <= 0) s = rt_fail(RT_ERR_FORMAT, "%s: key 'r' must be positive", path);
    }
    json_decref(root);
    return s;
}

rt_status rt_lora_load_peft(rt_model *m, const char *dir) {
    char *cfg_path = rt_path_join(dir, "adapter_config.json");
    rt_lora_config cfg;
    rt_status s = read_peft_config(cfg_path, &cfg);
    free(cfg_path);
    RT_TRY(s);
    char *st_path = rt_path_join(dir, "adapter_model.safetensors");
    rt_st_file *st;
    s = rt_st_open(st_path, &st);
    free(st_path);
    RT_TRY(s);
    s = lora_alloc(m, &cfg);
    char key[RT_TENSOR_NAME_MAX];
    for (int l = 0; l < m->cfg.n_layers && s == RT_OK; l++)
        for (int p = 0; p < RT_N_PROJ && s == RT_OK; p++) {
            rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
            if (!ad->A) continue;
            int64_t shape_a[2] = {cfg.r, ad->in}, shape_b[2] = {ad->out, cfg.r};
            peft_key(key, sizeof key, l, (rt_proj)p, 'A');
            s = rt_st_read_f32(st, key, ad->A, 2, shape_a);
            peft_key(key, sizeof key, l, (rt_proj)p, 'B');
            if (s == RT_OK) s = rt_st_read_f32(st, key, ad->B, 2, shape_b);
        }
    rt_st_close(st);
    if (s != RT_OK && m->has_lora) {
        /* Leave the model as it was: without adapters. */
        rt_free_aligned(m->lora_mem);
        free(m->lora);
        m->lora_mem = NULL;
        m->lora = NULL;
        m->has_lora = 0;
    }
    return s;
}

static rt_status write_peft_config(const rt_model *m, const char *path, const char *base_name) {
    const rt_lora_config *c = &m->lora_cfg;
    json_t *targets = json_array();
    for (int p = 0; p < RT_N_PROJ; p++)
        if (c->proj_mask & (1u << p)) json_array_append_new(targets, json_string(rt_proj_name((rt_proj)p)));
    json_t *root = json_object();
    json_object_set_new(root, "peft_type", json_string("LORA"));
    json_object_set_new(root, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(root, "r", json_integer(c->r));
    json_object_set_new(root, "lora_alpha", json_real(c->alpha));
    json_object_set_new(root, "use_rslora", json_boolean(c->rslora));
    json_object_set_new(root, "lora_dropout", json_real(c->dropout));
    json_object_set_new(root, "target_modules", targets);
    json_object_set_new(root, "bias", json_string("none"));
    json_object_set_new(root, "fan_in_fan_out", json_false());
    json_object_set_new(root, "inference_mode", json_true());
    json_object_set_new(root, "init_lora_weights", json_true());
    json_object_set_new(root, "use_dora", json_false());
    json_object_set_new(root, "modules_to_save", json_null());
    json_object_set_new(root, "layers_to_transform", json_null());
    json_object_set_new(root, "rank_pattern", json_object());
    json_object_set_new(root, "alpha_pattern", json_object());
    json_object_set_new(root, "base_model_name_or_path", base_name ? json_string(base_name) : json_null());
    rt_status s = rt_json_save(path, root);
    json_decref(root);
    return s;
}

rt_status rt_lora_save_peft(const rt_model *m, const char *dir, const char *base_name) {
    if (!m->has_lora) return rt_fail(RT_ERR_STATE, "%s: the model has no LoRA adapters to save", dir);
    RT_TRY(rt_mkdir_p(dir));
    rt_st_writer *w = rt_st_writer_new();
    rt_status s = RT_OK;
    char key[RT_TENSOR_NAME_MAX];
    for (int l = 0; l < m->cfg.n_layers && s == RT_OK; l++)
        for (int p = 0; p < RT_N_PROJ && s == RT_OK; p++) {
            const rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
            if (!ad->A) continue;
            int64_t shape_a[2] = {m->lora_cfg.r, ad->in}, shape_b[2] = {ad->out, m->lora_cfg.r};
            peft_key(key, sizeof key, l, (rt_proj)p, 'A');
            s = rt_st_writer_add_f32(w, key, RT_DTYPE_F32, 2, shape_a, ad->A);
            peft_key(key, sizeof key, l, (rt_proj)p, 'B');
            if (s == RT_OK) s = rt_st_writer_add_f32(w, key, RT_DTYPE_F32, 2, shape_b, ad->B);
        }
    char *path = rt_path_join(dir, "adapter_model.safetensors");
    if (s == RT_OK) s = rt_st_writer_save(w, path);
    free(path);
    rt_st_writer_free(w);
    RT_TRY(s);
    path = rt_path_join(dir, "adapter_config.json");
    s = write_peft_config(m, path, base_name);
    free(path);
    return s;
}

rt_status rt_lora_merge(rt_model *m) {
    if (!m->has_lora) return rt_fail(RT_ERR_STATE, "no LoRA adapters to merge");
    int r = m->lora_cfg.r;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int p = 0; p < RT_N_PROJ; p++) {
            const rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
            if (!ad->A) continue;
            /* W (out,in) += scale * B (out,r) @ A (r,in) */
            rt_sgemm(0, 0, ad->out, ad->in, r, m->lora_scale, ad->B, r, ad->A, ad->in, 1.0f, m->w.layers[l].w[p], ad->in);
        }
    rt_free_aligned(m->lora_mem);
    free(m->lora);
    m->lora_mem = NULL;
    m->lora = NULL;
    m->has_lora = 0;
    rt_model_acts_free(m->acts);
    m->acts = NULL;
    /* A bf16 copy of the base (training passes) must follow the merged weights. */
    return m->base_dtype == RT_BASE_BF16 ? rt_model_set_base_dtype(m, RT_BASE_BF16) : RT_OK;
}

static void param_list_free(rt_model *m) {
    for (int i = 0; i < m->n_param_list; i++) free((char *)m->param_list[i].name);
    free(m->param_list);
    m->param_list = NULL;
    m->n_param_list = 0;
}

rt_status rt_model_train_setup(rt_model *m, int full) {
    param_list_free(m);
    m->training = 1;
    m->train_full = full;
    if (full) {
        if (!m->grads) {
            m->grads = rt_alloc_floats(m->n_params);
            m->g.layers = rt_calloc((size_t)m->cfg.n_layers, sizeof(rt_layer_weights));
            rt_weights_bind(&m->cfg, &m->g, m->grads);
        }
        memset(m->grads, 0, sizeof(float) * m->n_params);
        int n = rt_model_tensor_count(m);
        rt_tensor_ref *refs = rt_malloc(sizeof *refs * (size_t)n);
        rt_model_tensors(m, refs);
        m->param_list = rt_calloc((size_t)n, sizeof(rt_param));
        for (int i = 0; i < n; i++) {
            size_t numel = (size_t)refs[i].shape[0] * (refs[i].ndim == 2 ? (size_t)refs[i].shape[1] : 1);
            m->param_list[i] = (rt_param){rt_strdup(refs[i].name), refs[i].data, refs[i].grad, numel, refs[i].decay};
        }
        m->n_param_list = n;
        free(refs);
        return RT_OK;
    }
    if (!m->has_lora) return rt_fail(RT_ERR_STATE, "LoRA training needs adapters: attach or load them first");
    m->param_list = rt_calloc((size_t)m->cfg.n_layers * RT_N_PROJ * 2, sizeof(rt_param));
    char key[RT_TENSOR_NAME_MAX];
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int p = 0; p < RT_N_PROJ; p++) {
            rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
            if (!ad->A) continue;
            size_t na = (size_t)m->lora_cfg.r * ad->in, nb = (size_t)ad->out * m->lora_cfg.r;
            memset(ad->dA, 0, sizeof(float) * na);
            memset(ad->dB, 0, sizeof(float) * nb);
            peft_key(key, sizeof key, l, (rt_proj)p, 'A');
            m->param_list[m->n_param_list++] = (rt_param){rt_strdup(key), ad->A, ad->dA, na, 1};
            peft_key(key, sizeof key, l, (rt_proj)p, 'B');
            m->param_list[m->n_param_list++] = (rt_param){rt_strdup(key), ad->B, ad->dB, nb, 1};
        }
    return RT_OK;
}
