/* gguf_write_lora.c: a LoRA adapter as llama.cpp's adapter GGUF (what convert_lora_to_gguf.py writes).
 *
 * llama.cpp computes W x + (alpha / r) * B (A x) with lora_a of ne {in, r} and lora_b of ne {r, out}:
 * since ggml's ne[0] is the fastest dimension, those are PEFT's row-major A (r, in) and B (out, r) as
 * they are, with no transpose. It checks lora_a's ne[0] against the base tensor's ne[0] and lora_b's
 * ne[1] against its ne[1], and the general.architecture against the base model's. The base's q and k
 * rows are permuted in a `llama` GGUF, so B's rows (the output side) are permuted the same way; A,
 * on the input side, is not. */
#include "gguf_write_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rt_status add_pair(rt_gguf_writer *w, const rt_model *m, int l, rt_proj p, rt_ggml_type type) {
    const rt_lora_linear *ad = &m->lora[l * RT_N_PROJ + p];
    int r = m->lora_cfg.r;
    char base[96], name[112];
    rt_gguf_proj_name(base, sizeof base, l, p, "weight");
    snprintf(name, sizeof name, "%s.lora_a", base);
    RT_TRY(rt_gguf_add_rows(w, name, 2, ad->A, r, ad->in, 0, type));
    snprintf(name, sizeof name, "%s.lora_b", base);
    return rt_gguf_add_rows(w, name, 2, ad->B, ad->out, r, rt_gguf_permute_heads(&m->cfg, p), type);
}

rt_status rt_gguf_export_lora(const rt_model *m, const char *path, const rt_gguf_export_params *p) {
    rt_gguf_export_params d = rt_gguf_export_params_default();
    if (!p) p = &d;
    if (!m || !path) return rt_fail(RT_ERR_ARG, "GGUF export: NULL model or path");
    if (!m->has_lora) return rt_fail(RT_ERR_ARG, "%s: the model has no adapter to export", path);
    const rt_lora_config *lc = &m->lora_cfg;
    /* llama.cpp's scale is alpha / r: the alpha that gives rsLoRA's alpha / sqrt(r) is alpha * sqrt(r). */
    float alpha = lc->rslora ? (float)(lc->alpha * sqrt((double)lc->r)) : lc->alpha;
    rt_gguf_writer *w = rt_gguf_writer_new();
    rt_status s = rt_gguf_put_general(w, &m->cfg, "adapter", p->name);
    if (s == RT_OK) s = rt_gguf_writer_set_str(w, "adapter.type", "lora");
    if (s == RT_OK) s = rt_gguf_writer_set_f32(w, "adapter.lora.alpha", alpha);
    for (int l = 0; l < m->cfg.n_layers && s == RT_OK; l++)
        for (int q = 0; q < RT_N_PROJ && s == RT_OK; q++)
            if (m->lora[l * RT_N_PROJ + q].A) s = add_pair(w, m, l, (rt_proj)q, p->type);
    if (s == RT_OK) s = rt_gguf_writer_save(w, path);
    rt_gguf_writer_free(w);
    return s;
}
