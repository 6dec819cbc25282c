/* weights.c: the encoder's parameters from model.safetensors (F32, F16 or BF16, converted to float32),
 * under the names transformers gives them, with or without the "bert."/"roberta." prefix of the
 * *ForMaskedLM checkpoints, and with LayerNorm's old gamma/beta names. The pooler is not loaded:
 * sentence embeddings pool the last hidden states themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert_internal.h"
#include "retrace/safetensors.h"

#define NAME_MAX_BYTES 160

static const char *const PREFIXES[] = {"", "bert.", "roberta.", "model."};
#define N_PREFIXES (sizeof PREFIXES / sizeof PREFIXES[0])

typedef struct {
    const rt_st_file *f;
    const char *prefix;
} reader;

/* Reads prefix+name (or, for a LayerNorm, its gamma/beta spelling) with the given shape. */
static rt_status read_tensor(const reader *r, const char *name, float *dst, int ndim, int64_t d0, int64_t d1) {
    char full[NAME_MAX_BYTES];
    snprintf(full, sizeof full, "%s%s", r->prefix, name);
    const char *ln = strstr(full, "LayerNorm.");
    if (!rt_st_find(r->f, full) && ln) {
        char alt[NAME_MAX_BYTES];
        const char *leaf = ln + strlen("LayerNorm.");
        snprintf(alt, sizeof alt, "%.*s%s", (int)(leaf - full), full, strcmp(leaf, "weight") == 0 ? "gamma" : "beta");
        if (rt_st_find(r->f, alt)) snprintf(full, sizeof full, "%s", alt);
    }
    int64_t shape[2] = {d0, d1};
    return rt_st_read_f32(r->f, full, dst, ndim, shape);
}

static size_t layer_floats(const rt_bert_config *c) {
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    return 3 * H * H + 3 * H + H * H + H + 2 * H + I * H + I + H * I + H + 2 * H;
}

/* Points the struct into one allocation. */
static rt_status layout(rt_bert_weights *w, const rt_bert_config *c) {
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    size_t emb = ((size_t)c->vocab_size + (size_t)c->max_positions + (size_t)c->type_vocab_size) * H + 2 * H;
    w->n_floats = emb + (size_t)c->n_layers * layer_floats(c);
    w->mem = rt_try_alloc(w->n_floats * sizeof(float), "BERT weights");
    if (!w->mem) return RT_ERR_NOMEM;
    w->layers = rt_calloc((size_t)c->n_layers, sizeof *w->layers);
    float *p = w->mem;
#define TAKE(field, count) (field = p, p += (count))
    TAKE(w->word, (size_t)c->vocab_size * H);
    TAKE(w->pos, (size_t)c->max_positions * H);
    TAKE(w->type, (size_t)c->type_vocab_size * H);
    TAKE(w->emb_ln_w, H);
    TAKE(w->emb_ln_b, H);
    for (int l = 0; l < c->n_layers; l++) {
        rt_bert_layer *L = &w->layers[l];
        TAKE(L->qkv_w, 3 * H * H);
        TAKE(L->qkv_b, 3 * H);
        TAKE(L->attn_out_w, H * H);
        TAKE(L->attn_out_b, H);
        TAKE(L->ln1_w, H);
        TAKE(L->ln1_b, H);
        TAKE(L->inter_w, I * H);
        TAKE(L->inter_b, I);
        TAKE(L->out_w, H * I);
        TAKE(L->out_b, H);
        TAKE(L->ln2_w, H);
        TAKE(L->ln2_b, H);
    }
#undef TAKE
    return RT_OK;
}

static rt_status read_layer(const reader *r, int l, rt_bert_layer *L, const rt_bert_config *c) {
    int64_t H = c->hidden, I = c->intermediate;
    static const char *const QKV[3] = {"query", "key", "value"};
    char name[NAME_MAX_BYTES];
#define LNAME(suffix) (snprintf(name, sizeof name, "encoder.layer.%d.%s", l, suffix), name)
    for (int j = 0; j < 3; j++) {
        char part[64];
        snprintf(part, sizeof part, "attention.self.%s.weight", QKV[j]);
        RT_TRY(read_tensor(r, LNAME(part), L->qkv_w + (size_t)j * (size_t)(H * H), 2, H, H));
        snprintf(part, sizeof part, "attention.self.%s.bias", QKV[j]);
        RT_TRY(read_tensor(r, LNAME(part), L->qkv_b + (size_t)j * (size_t)H, 1, H, 0));
    }
    RT_TRY(read_tensor(r, LNAME("attention.output.dense.weight"), L->attn_out_w, 2, H, H));
    RT_TRY(read_tensor(r, LNAME("attention.output.dense.bias"), L->attn_out_b, 1, H, 0));
    RT_TRY(read_tensor(r, LNAME("attention.output.LayerNorm.weight"), L->ln1_w, 1, H, 0));
    RT_TRY(read_tensor(r, LNAME("attention.output.LayerNorm.bias"), L->ln1_b, 1, H, 0));
    RT_TRY(read_tensor(r, LNAME("intermediate.dense.weight"), L->inter_w, 2, I, H));
    RT_TRY(read_tensor(r, LNAME("intermediate.dense.bias"), L->inter_b, 1, I, 0));
    RT_TRY(read_tensor(r, LNAME("output.dense.weight"), L->out_w, 2, H, I));
    RT_TRY(read_tensor(r, LNAME("output.dense.bias"), L->out_b, 1, H, 0));
    RT_TRY(read_tensor(r, LNAME("output.LayerNorm.weight"), L->ln2_w, 1, H, 0));
    RT_TRY(read_tensor(r, LNAME("output.LayerNorm.bias"), L->ln2_b, 1, H, 0));
#undef LNAME
    return RT_OK;
}

static rt_status read_all(const rt_st_file *f, const rt_bert_config *c, rt_bert_weights *w) {
    reader r = {f, NULL};
    for (size_t i = 0; i < N_PREFIXES && !r.prefix; i++) {
        char probe[NAME_MAX_BYTES];
        snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", PREFIXES[i]);
        if (rt_st_find(f, probe)) r.prefix = PREFIXES[i];
    }
    if (!r.prefix)
        return rt_fail(RT_ERR_NOT_FOUND, "%s: no tensor 'embeddings.word_embeddings.weight' (with or without a bert./roberta. prefix)",
                       rt_st_count(f) > 0 ? rt_st_at(f, 0)->file : "model.safetensors");
    int64_t H = c->hidden;
    RT_TRY(read_tensor(&r, "embeddings.word_embeddings.weight", w->word, 2, c->vocab_size, H));
    RT_TRY(read_tensor(&r, "embeddings.position_embeddings.weight", w->pos, 2, c->max_positions, H));
    RT_TRY(read_tensor(&r, "embeddings.token_type_embeddings.weight", w->type, 2, c->type_vocab_size, H));
    RT_TRY(read_tensor(&r, "embeddings.LayerNorm.weight", w->emb_ln_w, 1, H, 0));
    RT_TRY(read_tensor(&r, "embeddings.LayerNorm.bias", w->emb_ln_b, 1, H, 0));
    for (int l = 0; l < c->n_layers; l++) RT_TRY(read_layer(&r, l, &w->layers[l], c));
    return RT_OK;
}

rt_status rt_bert_weights_load(const char *dir, const rt_bert_config *cfg, rt_bert_weights *w) {
    memset(w, 0, sizeof *w);
    char *st = rt_path_join(dir, "model.safetensors"), *idx = rt_path_join(dir, "model.safetensors.index.json");
    char *bin = rt_path_join(dir, "pytorch_model.bin");
    rt_status s = RT_OK;
    if (!rt_path_exists(st) && !rt_path_exists(idx))
        s = rt_path_exists(bin) ? rt_fail(RT_ERR_UNSUPPORTED,
                                          "%s: only PyTorch weights (pytorch_model.bin), which retrace does not read; convert them "
                                          "once with transformers: AutoModel.from_pretrained(D).save_pretrained(D, "
                                          "safe_serialization=True)",
                                          dir)
                                : rt_fail(RT_ERR_NOT_FOUND, "%s: no model.safetensors", dir);
    free(st), free(idx), free(bin);
    RT_TRY(s);
    rt_st_file *f;
    RT_TRY(rt_st_open(dir, &f));
    s = layout(w, cfg);
    if (s == RT_OK) s = read_all(f, cfg, w);
    rt_st_close(f);
    if (s != RT_OK) rt_bert_weights_free(w);
    return s;
}

void rt_bert_weights_free(rt_bert_weights *w) {
    free(w->mem);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* A 64-bit multiply-xorshift hash over the configuration and the raw bits of every float: fast enough
 * to run on each load (a few ms per 100 MB) and sensitive to any changed weight. */
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

uint64_t rt_bert_weights_hash(const rt_bert_weights *w, const rt_bert_config *c) {
    const int fields[] = {(int)c->arch, c->vocab_size, c->hidden, c->n_layers, c->n_heads, c->intermediate,
                          c->max_positions, c->type_vocab_size, c->pad_id, (int)c->act};
    uint64_t h = 0x6265727431ULL; /* "bert1" */
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) h = mix(h, (uint64_t)(uint32_t)fields[i]);
    uint32_t eps_bits;
    memcpy(&eps_bits, &c->ln_eps, sizeof eps_bits);
    h = mix(h, eps_bits);
    /* Four independent lanes keep the multiplies from forming one long dependency chain. */
    uint64_t lane[4] = {h, h ^ 1, h ^ 2, h ^ 3};
    const uint32_t *bits = (const uint32_t *)w->mem;
    size_t n = w->n_floats, i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 4; k++) lane[k] = mix(lane[k], (uint64_t)bits[i + 2 * k] | (uint64_t)bits[i + 2 * k + 1] << 32);
    for (; i < n; i++) lane[0] = mix(lane[0], bits[i]);
    for (int k = 0; k < 4; k++) h = mix(h, lane[k]);
    return h;
}
