/* config.c: config.json of BertModel and XLMRobertaModel checkpoints. Keys the encoder does not use
 * (dropout, initializer_range, ...) are ignored; an unusual value of one it does use is an error rather
 * than a silently different model. */
#include <jansson.h>
#include <string.h>

#include "retrace/bert.h"

#define MAX_DIM_VALUE (1 << 24) /* bounds every size read from the file before anything is allocated */

typedef struct {
    const char *architecture, *model_type;
    rt_bert_arch arch;
} arch_name;

/* The *For* heads share the encoder: their checkpoints load with the "bert."/"roberta." prefix. */
static const arch_name ARCHS[] = {
    {"BertModel", "bert", RT_BERT_ARCH_BERT},
    {"BertForMaskedLM", "bert", RT_BERT_ARCH_BERT},
    {"BertForPreTraining", "bert", RT_BERT_ARCH_BERT},
    {"XLMRobertaModel", "xlm-roberta", RT_BERT_ARCH_XLMR},
    {"XLMRobertaForMaskedLM", "xlm-roberta", RT_BERT_ARCH_XLMR},
    {"RobertaModel", "roberta", RT_BERT_ARCH_XLMR},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

static rt_status parse_arch(const json_t *root, const char *path, rt_bert_arch *arch) {
    const json_t *list = json_object_get(root, "architectures");
    const char *name = NULL;
    if (json_is_array(list) && json_array_size(list) > 0) name = json_string_value(json_array_get(list, 0));
    const char *type = json_string_value(json_object_get(root, "model_type"));
    for (size_t i = 0; i < N_ARCHS; i++)
        if (name ? strcmp(name, ARCHS[i].architecture) == 0 : (type && strcmp(type, ARCHS[i].model_type) == 0)) {
            *arch = ARCHS[i].arch;
            return RT_OK;
        }
    if (!name && !type) return rt_fail(RT_ERR_FORMAT, "%s: missing key 'architectures' (and no 'model_type')", path);
    return rt_fail(RT_ERR_UNSUPPORTED, "%s: architecture '%s' is not an encoder this build runs (BertModel, XLMRobertaModel)",
                   path, name ? name : type);
}

static rt_status get_size(const json_t *o, const char *key, const char *path, int dflt, int lo, int *out) {
    const json_t *v = json_object_get(o, key);
    if (dflt >= 0 && (!v || json_is_null(v))) {
        *out = dflt;
        return RT_OK;
    }
    int64_t x;
    RT_TRY(rt_json_get_int(o, key, path, &x));
    if (x < lo || x > MAX_DIM_VALUE) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' is %lld, outside %d..%d", path, key, (long long)x, lo, MAX_DIM_VALUE);
    *out = (int)x;
    return RT_OK;
}

static rt_status parse_act(const json_t *root, const char *path, rt_bert_act *act) {
    const json_t *v = json_object_get(root, "hidden_act");
    const char *a = v ? json_string_value(v) : "gelu";
    if (!a) return rt_fail(RT_ERR_FORMAT, "%s: key 'hidden_act' is not a string", path);
    if (strcmp(a, "gelu") == 0) *act = RT_BERT_ACT_GELU;
    else if (strcmp(a, "gelu_new") == 0 || strcmp(a, "gelu_pytorch_tanh") == 0) *act = RT_BERT_ACT_GELU_TANH;
    else return rt_fail(RT_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (gelu, gelu_new)", path, a);
    return RT_OK;
}

static rt_status parse(const json_t *root, const char *path, rt_bert_config *c) {
    if (!json_is_object(root)) return rt_fail(RT_ERR_FORMAT, "%s: not a JSON object", path);
    RT_TRY(parse_arch(root, path, &c->arch));
    RT_TRY(get_size(root, "vocab_size", path, -1, 1, &c->vocab_size));
    RT_TRY(get_size(root, "hidden_size", path, -1, 1, &c->hidden));
    RT_TRY(get_size(root, "num_hidden_layers", path, -1, 1, &c->n_layers));
    RT_TRY(get_size(root, "num_attention_heads", path, -1, 1, &c->n_heads));
    RT_TRY(get_size(root, "intermediate_size", path, -1, 1, &c->intermediate));
    RT_TRY(get_size(root, "max_position_embeddings", path, 512, 1, &c->max_positions));
    RT_TRY(get_size(root, "type_vocab_size", path, 2, 1, &c->type_vocab_size));
    RT_TRY(get_size(root, "pad_token_id", path, c->arch == RT_BERT_ARCH_XLMR ? 1 : 0, 0, &c->pad_id));
    RT_TRY(parse_act(root, path, &c->act));
    const char *pet = json_string_value(json_object_get(root, "position_embedding_type"));
    if (pet && strcmp(pet, "absolute") != 0)
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' is not supported (absolute)", path, pet);
    double eps = 1e-12;
    if (json_object_get(root, "layer_norm_eps")) RT_TRY(rt_json_get_number(root, "layer_norm_eps", path, &eps));
    if (!(eps > 0.0 && eps < 1.0)) return rt_fail(RT_ERR_FORMAT, "%s: key 'layer_norm_eps' must be in (0, 1)", path);
    c->ln_eps = (float)eps;
    if (c->hidden % c->n_heads != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path, c->hidden, c->n_heads);
    /* XLM-R numbers positions from padding_idx + 1 (position padding_idx belongs to padding). */
    c->pos_offset = c->arch == RT_BERT_ARCH_XLMR ? c->pad_id + 1 : 0;
    if (c->pos_offset + 2 >= c->max_positions)
        return rt_fail(RT_ERR_FORMAT, "%s: max_position_embeddings %d leaves no room for a sequence", path, c->max_positions);
    return RT_OK;
}

rt_status rt_bert_config_load(const char *path, rt_bert_config *out) {
    memset(out, 0, sizeof *out);
    json_t *root;
    RT_TRY(rt_json_load(path, &root));
    rt_status s = parse(root, path, out);
    json_decref(root);
    return s;
}
