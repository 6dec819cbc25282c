/* config.c: config.json of Llama, Mistral and Qwen2 checkpoints, in both the transformers 4 layout
 * (rope_theta, rope_scaling) and the transformers 5 layout (rope_parameters). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/model.h"

typedef struct {
    const char *architecture;
    const char *model_type;
    rt_arch arch;
} arch_name;

static const arch_name ARCHS[] = {
    {"LlamaForCausalLM", "llama", RT_ARCH_LLAMA},
    {"MistralForCausalLM", "mistral", RT_ARCH_MISTRAL},
    {"Qwen2ForCausalLM", "qwen2", RT_ARCH_QWEN2},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

static rt_status parse_arch(const json_t *root, const char *path, rt_arch *arch) {
    const json_t *list = json_object_get(root, "architectures");
    const char *name = NULL;
    if (json_is_array(list) && json_array_size(list) > 0) name = json_string_value(json_array_get(list, 0));
    const char *type = json_string_value(json_object_get(root, "model_type"));
    for (size_t i = 0; i < N_ARCHS; i++) {
        if ((name && strcmp(name, ARCHS[i].architecture) == 0) || (!name && type && strcmp(type, ARCHS[i].model_type) == 0)) {
            *arch = ARCHS[i].arch;
            return RT_OK;
        }
    }
    if (!name && !type) return rt_fail(RT_ERR_FORMAT, "%s: missing key 'architectures' (and no 'model_type')", path);
    return rt_fail(RT_ERR_UNSUPPORTED,
                   "%s: unsupported architecture '%s' (supported: LlamaForCausalLM, MistralForCausalLM, "
                   "Qwen2ForCausalLM)",
                   path, name ? name : type);
}

static rt_status get_int_opt(const json_t *o, const char *key, const char *path, int dflt, int *out) {
    if (!json_object_get(o, key) || json_is_null(json_object_get(o, key))) {
        *out = dflt;
        return RT_OK;
    }
    int64_t v;
    RT_TRY(rt_json_get_int(o, key, path, &v));
    *out = (int)v;
    return RT_OK;
}

static rt_status get_int(const json_t *o, const char *key, const char *path, int *out) {
    int64_t v;
    RT_TRY(rt_json_get_int(o, key, path, &v));
    if (v <= 0 || v > (1 << 30)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a positive integer (got %lld)", path, key, (long long)v);
    *out = (int)v;
    return RT_OK;
}

static rt_status get_num_opt(const json_t *o, const char *key, const char *path, double dflt, double *out) {
    if (!json_object_get(o, key) || json_is_null(json_object_get(o, key))) {
        *out = dflt;
        return RT_OK;
    }
    return rt_json_get_number(o, key, path, out);
}

static int get_bool_opt(const json_t *o, const char *key, int dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* Token ids may be an integer, a list (the first is used) or null. */
static int token_id(const json_t *v) {
    if (json_is_integer(v)) return (int)json_integer_value(v);
    if (json_is_array(v) && json_array_size(v) > 0 && json_is_integer(json_array_get(v, 0)))
        return (int)json_integer_value(json_array_get(v, 0));
    return -1;
}

static rt_status parse_rope(const json_t *root, const char *path, rt_rope_params *rope) {
    memset(rope, 0, sizeof *rope);
    /* transformers 5 keeps theta and scaling together in rope_parameters; 4 has them apart. */
    const json_t *params = json_object_get(root, "rope_parameters");
    const json_t *scaling = json_is_object(params) ? params : json_object_get(root, "rope_scaling");
    RT_TRY(get_num_opt(root, "rope_theta", path, 10000.0, &rope->theta));
    if (json_is_object(params)) RT_TRY(get_num_opt(params, "rope_theta", path, rope->theta, &rope->theta));
    rope->kind = RT_ROPE_DEFAULT;
    if (!json_is_object(scaling)) return RT_OK;
    const char *type = json_string_value(json_object_get(scaling, "rope_type"));
    if (!type) type = json_string_value(json_object_get(scaling, "type"));
    if (!type || strcmp(type, "default") == 0) return RT_OK;
    if (strcmp(type, "linear") == 0) {
        rope->kind = RT_ROPE_LINEAR;
        return rt_json_get_number(scaling, "factor", path, &rope->factor);
    }
    if (strcmp(type, "llama3") == 0) {
        rope->kind = RT_ROPE_LLAMA3;
        RT_TRY(rt_json_get_number(scaling, "factor", path, &rope->factor));
        RT_TRY(rt_json_get_number(scaling, "low_freq_factor", path, &rope->low_freq_factor));
        RT_TRY(rt_json_get_number(scaling, "high_freq_factor", path, &rope->high_freq_factor));
        RT_TRY(rt_json_get_number(scaling, "original_max_position_embeddings", path, &rope->original_max_pos));
        if (rope->high_freq_factor <= rope->low_freq_factor)
            return rt_fail(RT_ERR_FORMAT, "%s: rope_scaling: high_freq_factor must exceed low_freq_factor", path);
        return RT_OK;
    }
    return rt_fail(RT_ERR_UNSUPPORTED, "%s: rope scaling type '%s' is not supported (default, linear, llama3)", path, type);
}

rt_status rt_config_validate(const rt_model_config *c, const char *what) {
    if (c->n_heads % c->n_kv_heads != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", what,
                       c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0) return rt_fail(RT_ERR_FORMAT, "%s: head_dim (%d) must be even for rotary embeddings", what, c->head_dim);
    if (c->rms_norm_eps <= 0.0f) return rt_fail(RT_ERR_FORMAT, "%s: rms_norm_eps must be positive", what);
    if (c->rope.theta <= 0.0) return rt_fail(RT_ERR_FORMAT, "%s: rope_theta must be positive", what);
    return RT_OK;
}

rt_status rt_config_load(const char *path, rt_model_config *c) {
    memset(c, 0, sizeof *c);
    json_t *root;
    RT_TRY(rt_json_load(path, &root));
    rt_status s = RT_OK;
    double eps;
    if (!json_is_object(root)) s = rt_fail(RT_ERR_FORMAT, "%s: not a JSON object", path);
    if (s == RT_OK) s = parse_arch(root, path, &c->arch);
    if (s == RT_OK) s = get_int(root, "hidden_size", path, &c->hidden_size);
    if (s == RT_OK) s = get_int(root, "intermediate_size", path, &c->intermediate_size);
    if (s == RT_OK) s = get_int(root, "num_hidden_layers", path, &c->n_layers);
    if (s == RT_OK) s = get_int(root, "num_attention_heads", path, &c->n_heads);
    if (s == RT_OK) s = get_int(root, "vocab_size", path, &c->vocab_size);
    if (s == RT_OK) s = get_int_opt(root, "num_key_value_heads", path, c->n_heads, &c->n_kv_heads);
    if (s == RT_OK) s = get_int_opt(root, "head_dim", path, c->n_heads ? c->hidden_size / c->n_heads : 0, &c->head_dim);
    if (s == RT_OK) s = get_int_opt(root, "max_position_embeddings", path, 2048, &c->max_position_embeddings);
    if (s == RT_OK) s = get_num_opt(root, "rms_norm_eps", path, 1e-6, &eps);
    if (s == RT_OK) s = parse_rope(root, path, &c->rope);
    if (s == RT_OK && (c->n_kv_heads <= 0 || c->head_dim <= 0))
        s = rt_fail(RT_ERR_FORMAT, "%s: num_key_value_heads and head_dim must be positive", path);
    if (s == RT_OK) {
        c->rms_norm_eps = (float)eps;
        c->tie_word_embeddings = get_bool_opt(root, "tie_word_embeddings", 0);
        c->bos_token_id = token_id(json_object_get(root, "bos_token_id"));
        c->eos_token_id = token_id(json_object_get(root, "eos_token_id"));
        if (c->arch == RT_ARCH_QWEN2) {
            c->attention_bias = 1; /* Qwen2 always has q/k/v biases and none on o_proj */
            int use_window = get_bool_opt(root, "use_sliding_window", 0);
            if (use_window) s = get_int_opt(root, "sliding_window", path, 0, &c->sliding_window);
        } else if (c->arch == RT_ARCH_MISTRAL) {
            s = get_int_opt(root, "sliding_window", path, 0, &c->sliding_window);
        } else {
            c->attention_bias = get_bool_opt(root, "attention_bias", 0);
            c->o_bias = c->attention_bias;
            c->mlp_bias = get_bool_opt(root, "mlp_bias", 0);
        }
    }
    if (s == RT_OK) s = rt_config_validate(c, path);
    json_decref(root);
    return s;
}

const char *rt_arch_name(rt_arch arch) { return ARCHS[arch].architecture; }

rt_status rt_config_save(const char *path, const rt_model_config *c) {
    const arch_name *a = &ARCHS[c->arch];
    json_t *root = json_object();
    json_object_set_new(root, "architectures", json_pack("[s]", a->architecture));
    json_object_set_new(root, "model_type", json_string(a->model_type));
    json_object_set_new(root, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(root, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(root, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(root, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(root, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(root, "head_dim", json_integer(c->head_dim));
    json_object_set_new(root, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(root, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(root, "rms_norm_eps", rt_json_float(c->rms_norm_eps));
    json_object_set_new(root, "rope_theta", json_real(c->rope.theta));
    json_object_set_new(root, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    json_object_set_new(root, "hidden_act", json_string("silu"));
    json_object_set_new(root, "torch_dtype", json_string("float32"));
    json_object_set_new(root, "bos_token_id", c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
    json_object_set_new(root, "eos_token_id", c->eos_token_id >= 0 ? json_integer(c->eos_token_id) : json_null());
    if (c->rope.kind == RT_ROPE_LLAMA3)
        json_object_set_new(root, "rope_scaling",
                            json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor", c->rope.factor,
                                      "low_freq_factor", c->rope.low_freq_factor, "high_freq_factor",
                                      c->rope.high_freq_factor, "original_max_position_embeddings",
                                      (int)c->rope.original_max_pos));
    else if (c->rope.kind == RT_ROPE_LINEAR)
        json_object_set_new(root, "rope_scaling", json_pack("{s:s, s:f}", "rope_type", "linear", "factor", c->rope.factor));
    else
        json_object_set_new(root, "rope_scaling", json_null());
    if (c->arch == RT_ARCH_LLAMA) {
        json_object_set_new(root, "attention_bias", json_boolean(c->attention_bias));
        json_object_set_new(root, "mlp_bias", json_boolean(c->mlp_bias));
    }
    if (c->arch == RT_ARCH_MISTRAL)
        json_object_set_new(root, "sliding_window", c->sliding_window ? json_integer(c->sliding_window) : json_null());
    if (c->arch == RT_ARCH_QWEN2) {
        json_object_set_new(root, "use_sliding_window", json_boolean(c->sliding_window > 0));
        json_object_set_new(root, "sliding_window", c->sliding_window ? json_integer(c->sliding_window) : json_null());
    }
    rt_status s = rt_json_save(path, root);
    json_decref(root);
    return s;
}

const char *rt_proj_name(rt_proj p) {
    static const char *const names[RT_N_PROJ] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    return (unsigned)p < RT_N_PROJ ? names[p] : "?";
}

rt_status rt_proj_mask_parse(const char *list, unsigned *mask) {
    *mask = 0;
    if (strcmp(list, "all") == 0 || strcmp(list, "all-linear") == 0) {
        *mask = RT_PROJ_ALL_MASK;
        return RT_OK;
    }
    char *copy = rt_strdup(list);
    rt_status s = RT_OK;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int p = 0; p < RT_N_PROJ; p++) {
            const char *name = rt_proj_name((rt_proj)p);
            size_t n = strlen(name) - 5; /* without "_proj" */
            if (strcmp(tok, name) == 0 || (strlen(tok) == n && strncmp(tok, name, n) == 0)) {
                *mask |= 1u << p;
                found = 1;
            }
        }
        if (!found) {
            s = rt_fail(RT_ERR_ARG, "unknown projection '%s' (use q,k,v,o,gate,up,down or all)", tok);
            break;
        }
    }
    free(copy);
    if (s == RT_OK && *mask == 0) s = rt_fail(RT_ERR_ARG, "no projection named in '%s'", list);
    return s;
}
