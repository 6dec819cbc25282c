/* embedder.c: opening an embedder from its spec, and the calls every embedder shares. */
#include "retrace/memory.h"

#include <stdlib.h>
#include <string.h>

static rt_status parse_dim(const char *spec, const char *s, int *dim) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > RT_EMBED_MAX_DIM)
        return rt_fail(RT_ERR_ARG, "embedder '%s': bad dimension '%s'", spec, s);
    *dim = (int)v;
    return RT_OK;
}

rt_status rt_embedder_open(const char *spec, rt_embedder **out) {
    *out = NULL;
    int dim = RT_HASH_EMBED_DEFAULT_DIM;
    if (strcmp(spec, "hash") == 0) return rt_hash_embedder_create(dim, out);
    if (strncmp(spec, "hash:", 5) == 0) {
        RT_TRY(parse_dim(spec, spec + 5, &dim));
        return rt_hash_embedder_create(dim, out);
    }
    if (strncmp(spec, "hash-ngram-v1:", 14) == 0) {
        RT_TRY(parse_dim(spec, spec + 14, &dim));
        return rt_hash_embedder_create(dim, out);
    }
    if (rt_bert_spec_is(spec)) return rt_bert_embedder_open_spec(spec, out);
    if (rt_is_dir(spec)) return rt_bert_embedder_create(spec, out);
    return rt_fail(RT_ERR_ARG, "unknown embedder '%s' (hash, hash:DIM or a model directory)", spec);
}

void rt_embedder_free(rt_embedder *e) {
    if (!e) return;
    if (e->vt && e->vt->destroy) e->vt->destroy(e);
    free(e->spec);
    free(e);
}

rt_status rt_embedder_embed(rt_embedder *e, const char *const *texts, int n, float *out) {
    if (n < 0) return rt_fail(RT_ERR_ARG, "embedder: negative batch size");
    return e->vt->embed(e, texts, n, out);
}
