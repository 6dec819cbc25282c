/* embed_bert.c: a BERT/XLM-R encoder (retrace/bert.h) as a memory embedder.
 *
 * Its spec names the model completely and says where it is:
 *   bert-v1:NAME:DIM:POOLING:FINGERPRINT:PATH
 * NAME is the directory's base name (for people), FINGERPRINT 16 hex digits of the hash of the
 * configuration, every weight, the tokenizer file, the pooling and the token limit, PATH the absolute
 * directory (last, so it may hold ':'). A memory stores the spec; reopening it loads PATH again and
 * refuses the model when anything but the path differs, because the stored vectors would no longer be
 * comparable with new ones. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/bert.h"
#include "retrace/memory.h"

#define BERT_SPEC_PREFIX "bert-v1:"
#define BERT_SPEC_FIELDS 5 /* colons before PATH: the prefix's, then NAME, DIM, POOLING, FINGERPRINT */

static rt_status bert_embed(rt_embedder *e, const char *const *texts, int n, float *out) {
    return rt_bert_embed(e->impl, texts, n, out);
}

static void bert_destroy(rt_embedder *e) { rt_bert_free(e->impl); }

static const rt_embedder_vtable BERT_VT = {"bert", bert_embed, bert_destroy};

static char *make_spec(const rt_bert *m, const char *abs_dir) {
    const char *base = strrchr(abs_dir, '/');
    base = base && base[1] ? base + 1 : abs_dir;
    rt_strbuf sb = {0};
    rt_strbuf_add(&sb, BERT_SPEC_PREFIX);
    for (const char *c = base; *c; c++) rt_strbuf_addf(&sb, "%c", *c == ':' ? '_' : *c);
    rt_strbuf_addf(&sb, ":%d:%s:%016llx:%s", rt_bert_dim(m), rt_bert_pooling_name(rt_bert_get_pooling(m)),
                   (unsigned long long)rt_bert_fingerprint(m), abs_dir);
    return sb.buf;
}

rt_status rt_bert_embedder_create(const char *dir, rt_embedder **out) {
    *out = NULL;
    char abs_dir[PATH_MAX];
    if (!realpath(dir, abs_dir)) return rt_fail(RT_ERR_NOT_FOUND, "embedder: model directory %s does not exist", dir);
    rt_bert *m;
    rt_status s = rt_bert_load(abs_dir, &m);
    if (s != RT_OK) return rt_fail_context(s, "embedder %s", dir);
    if (rt_bert_dim(m) > RT_EMBED_MAX_DIM) {
        rt_bert_free(m);
        return rt_fail(RT_ERR_UNSUPPORTED, "embedder %s: dimension %d exceeds %d", dir, rt_bert_dim(m), RT_EMBED_MAX_DIM);
    }
    rt_embedder *e = rt_calloc(1, sizeof *e);
    e->vt = &BERT_VT;
    e->impl = m;
    e->dim = rt_bert_dim(m);
    e->spec = make_spec(m, abs_dir);
    *out = e;
    return RT_OK;
}

/* The part of a spec before PATH, and PATH itself. */
static const char *spec_path(const char *spec) {
    const char *p = spec;
    for (int i = 0; i < BERT_SPEC_FIELDS; i++) {
        p = strchr(p, ':');
        if (!p) return NULL;
        p++;
    }
    return *p ? p : NULL;
}

int rt_bert_spec_is(const char *spec) { return strncmp(spec, BERT_SPEC_PREFIX, strlen(BERT_SPEC_PREFIX)) == 0; }

rt_status rt_bert_embedder_open_spec(const char *spec, rt_embedder **out) {
    *out = NULL;
    const char *path = spec_path(spec);
    if (!rt_bert_spec_is(spec) || !path)
        return rt_fail(RT_ERR_FORMAT, "embedder spec '%s' is not bert-v1:NAME:DIM:POOLING:FINGERPRINT:PATH", spec);
    rt_embedder *e;
    rt_status s = rt_bert_embedder_create(path, &e);
    if (s != RT_OK) return rt_fail_context(s, "the model of embedder %.*s", (int)(path - spec - 1), spec);
    const char *now_path = spec_path(e->spec);
    size_t id_len = (size_t)(path - spec);
    if ((size_t)(now_path - e->spec) != id_len || strncmp(e->spec, spec, id_len) != 0) {
        s = rt_fail(RT_ERR_STATE, "embedder: the model at %s is now %.*s, not %.*s as when the memory was made (its vectors "
                    "would not compare with the stored ones)", path, (int)(now_path - e->spec - 1), e->spec,
                    (int)(id_len - 1), spec);
        rt_embedder_free(e);
        return s;
    }
    *out = e;
    return RT_OK;
}
