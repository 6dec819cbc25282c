/* lora_base.c: is an adapter being put on the base model it was trained for?
 *
 * PEFT records only base_model_name_or_path, and shapes alone cannot tell two bases apart (the Llama
 * and Mistral fixtures have the same ones). So the config.json found at the recorded path, when it is
 * still there, is compared with the base being used; a copy of the same model elsewhere passes. */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retrace/model.h"

/* The first field in which two configs differ, or NULL. */
static const char *config_difference(const rt_model_config *a, const rt_model_config *b) {
    if (a->arch != b->arch) return "architecture";
    if (a->hidden_size != b->hidden_size) return "hidden_size";
    if (a->intermediate_size != b->intermediate_size) return "intermediate_size";
    if (a->n_layers != b->n_layers) return "num_hidden_layers";
    if (a->n_heads != b->n_heads) return "num_attention_heads";
    if (a->n_kv_heads != b->n_kv_heads) return "num_key_value_heads";
    if (a->head_dim != b->head_dim) return "head_dim";
    if (a->vocab_size != b->vocab_size) return "vocab_size";
    if (a->rope.theta != b->rope.theta) return "rope_theta";
    if (a->tie_word_embeddings != b->tie_word_embeddings) return "tie_word_embeddings";
    if (a->sliding_window != b->sliding_window) return "sliding_window";
    return NULL;
}

rt_status rt_lora_check_base(const char *adapter_dir, const char *model_dir, const rt_model_config *cfg, int *unverified) {
    *unverified = 0;
    char *cfg_path = rt_path_join(adapter_dir, "adapter_config.json");
    json_t *root;
    rt_status s = rt_json_load(cfg_path, &root);
    free(cfg_path);
    RT_TRY(s);
    const char *base = json_string_value(json_object_get(root, "base_model_name_or_path"));
    char *base_cfg = base && *base ? rt_path_join(base, "config.json") : NULL;
    char real_base[PATH_MAX], real_model[PATH_MAX];
    if (!base_cfg) {
        /* nothing recorded: nothing to check, as in PEFT */
    } else if (!rt_path_exists(base_cfg)) {
        /* a hub name ("org/Name") or a folder that has moved: only the last names can be compared */
        const char *a = strrchr(base, '/'), *b = strrchr(model_dir, '/');
        a = a ? a + 1 : base, b = b ? b + 1 : model_dir;
        if (!*b) b = model_dir; /* a trailing slash: compare whole paths rather than nothing */
        *unverified = strcasecmp(a, b) != 0;
    } else if (!(realpath(base, real_base) && realpath(model_dir, real_model) && !strcmp(real_base, real_model))) {
        rt_model_config other;
        s = rt_config_load(base_cfg, &other);
        const char *diff = s == RT_OK ? config_difference(&other, cfg) : NULL;
        if (s == RT_OK && diff)
            s = rt_fail(RT_ERR_ARG, "%s: this adapter was trained for %s (%s), which differs from %s (%s) in %s", adapter_dir,
                        base, rt_arch_name(other.arch), model_dir, rt_arch_name(cfg->arch), diff);
        else if (s != RT_OK)
            *unverified = 1, s = RT_OK;
    }
    free(base_cfg);
    json_decref(root);
    return s;
}
