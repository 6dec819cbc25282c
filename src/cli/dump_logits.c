/* dump_logits.c: `retrace generate --dump-logits FILE` writes the model's logits at every prompt
 * position, so another implementation (llama.cpp through tools/check_gguf_export.py, transformers) can
 * be compared with retrace on the same token ids. */
#include <stdlib.h>

#include "cli/cli.h"

rt_status rt_cli_dump_logits(rt_model *m, const int32_t *ids, int n, const char *path) {
    int V = m->cfg.vocab_size;
    float *logits = rt_try_alloc(sizeof(float) * (size_t)n * (size_t)V, path);
    if (!logits) return RT_ERR_NOMEM;
    rt_kv_cache c;
    rt_status s = rt_kv_cache_init(&c, m, n);
    /* One token at a time through the cache, as generation runs, so each row is that position's logits. */
    for (int t = 0; t < n && s == RT_OK; t++) s = rt_model_decode(m, &c, ids + t, 1, logits + (size_t)t * V);
    rt_kv_cache_free(&c);
    rt_st_writer *w = rt_st_writer_new();
    int64_t shape_ids[1] = {n}, shape_logits[2] = {n, V};
    if (s == RT_OK) s = rt_st_writer_add_raw(w, "input_ids", RT_DTYPE_I32, 1, shape_ids, ids);
    if (s == RT_OK) s = rt_st_writer_add_f32(w, "logits", RT_DTYPE_F32, 2, shape_logits, logits);
    if (s == RT_OK) s = rt_st_writer_save(w, path);
    rt_st_writer_free(w);
    free(logits);
    return s;
}
