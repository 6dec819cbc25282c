/* load_decoder.c: the "decoder" and "post_processor" sections of tokenizer.json. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

static const char *type_of(json_t *j) { return json_string_value(json_object_get(j, "type")); }

static rt_tok_decoder *add_dec(rt_tokenizer *t, rt_tok_dec_kind kind) {
    t->decoders = rt_realloc(t->decoders, (t->n_decoders + 1) * sizeof *t->decoders);
    rt_tok_decoder *d = &t->decoders[t->n_decoders++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    return d;
}

static rt_status need_str(json_t *j, const char *key, const char *section, const char *where, const char **out) {
    *out = json_string_value(json_object_get(j, key));
    if (!*out) return rt_fail(RT_ERR_FORMAT, "%s: missing field '%s.%s'", where, section, key);
    return RT_OK;
}

rt_status rt_tok_load_decoder(rt_tokenizer *t, json_t *j, const char *where) {
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = type_of(j);
    if (!type) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'decoder.type'", where);
    if (strcmp(type, "Sequence") == 0)
        return rt_tok_load_sequence(t, j, "decoders", "decoder", where, rt_tok_load_decoder);
    if (strcmp(type, "ByteLevel") == 0) {
        add_dec(t, RT_DEC_BYTELEVEL);
    } else if (strcmp(type, "ByteFallback") == 0) {
        add_dec(t, RT_DEC_BYTE_FALLBACK);
    } else if (strcmp(type, "Fuse") == 0) {
        add_dec(t, RT_DEC_FUSE);
    } else if (strcmp(type, "Replace") == 0) {
        const char *c, *s = json_string_value(json_object_get(json_object_get(j, "pattern"), "String"));
        if (!s) return rt_fail(RT_ERR_UNSUPPORTED, "%s: decoder Replace needs a String pattern", where);
        RT_TRY(need_str(j, "content", "decoder", where, &c));
        rt_tok_decoder *d = add_dec(t, RT_DEC_REPLACE);
        d->str = rt_strdup(s);
        d->content = rt_strdup(c);
    } else if (strcmp(type, "Strip") == 0) {
        const char *c;
        RT_TRY(need_str(j, "content", "decoder", where, &c));
        rt_tok_decoder *d = add_dec(t, RT_DEC_STRIP);
        d->content = rt_strdup(c);
        d->start = (int)json_integer_value(json_object_get(j, "start"));
        d->stop = (int)json_integer_value(json_object_get(j, "stop"));
    } else if (strcmp(type, "Metaspace") == 0) {
        const char *r;
        RT_TRY(need_str(j, "replacement", "decoder", where, &r));
        rt_tok_decoder *d = add_dec(t, RT_DEC_METASPACE);
        d->str = rt_strdup(r);
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        json_t *aps = json_object_get(j, "add_prefix_space");
        d->flag = scheme ? strcmp(scheme, "never") != 0 : (!json_is_boolean(aps) || json_is_true(aps));
    } else if (strcmp(type, "WordPiece") == 0) {
        const char *p = json_string_value(json_object_get(j, "prefix"));
        rt_tok_decoder *d = add_dec(t, RT_DEC_WORDPIECE);
        d->str = rt_strdup(p ? p : "##");
        json_t *c = json_object_get(j, "cleanup");
        d->flag = !json_is_boolean(c) || json_is_true(c);
    } else {
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: decoder type '%s' is not supported", where, type);
    }
    return RT_OK;
}

static void ids_append(int32_t **v, size_t *n, int32_t id) {
    *v = rt_realloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = id;
}

/* TemplateProcessing's "single" template: special tokens before and after the sequence $A. */
static rt_status load_template(rt_tokenizer *t, json_t *j, const char *where) {
    json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    if (!json_is_array(single)) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'post_processor.single'", where);
    int seen_seq = 0;
    size_t i;
    json_t *item;
    json_array_foreach(single, i, item) {
        if (json_object_get(item, "Sequence")) {
            seen_seq = 1;
            continue;
        }
        const char *name = json_string_value(json_object_get(json_object_get(item, "SpecialToken"), "id"));
        if (!name)
            return rt_fail(RT_ERR_FORMAT, "%s: post_processor.single[%zu] is neither Sequence nor SpecialToken", where,
                           i);
        json_t *ids = json_object_get(json_object_get(specials, name), "ids");
        if (!json_is_array(ids))
            return rt_fail(RT_ERR_FORMAT, "%s: post_processor.special_tokens has no ids for '%s'", where, name);
        size_t k;
        json_t *v;
        json_array_foreach(ids, k, v) {
            if (!json_is_integer(v))
                return rt_fail(RT_ERR_FORMAT, "%s: post_processor.special_tokens['%s'].ids is not integers", where,
                               name);
            if (seen_seq) ids_append(&t->post.post, &t->post.n_post, (int32_t)json_integer_value(v));
            else ids_append(&t->post.pre, &t->post.n_pre, (int32_t)json_integer_value(v));
        }
    }
    t->post.active = 1;
    return RT_OK;
}

/* BertProcessing / RobertaProcessing: {"cls": [token, id], "sep": [token, id]}. */
static rt_status load_cls_sep(rt_tokenizer *t, json_t *j, const char *where) {
    json_t *cls = json_array_get(json_object_get(j, "cls"), 1), *sep = json_array_get(json_object_get(j, "sep"), 1);
    if (!json_is_integer(cls) || !json_is_integer(sep))
        return rt_fail(RT_ERR_FORMAT, "%s: missing field 'post_processor.cls' or 'post_processor.sep'", where);
    ids_append(&t->post.pre, &t->post.n_pre, (int32_t)json_integer_value(cls));
    ids_append(&t->post.post, &t->post.n_post, (int32_t)json_integer_value(sep));
    t->post.active = 1;
    return RT_OK;
}

rt_status rt_tok_load_postprocessor(rt_tokenizer *t, json_t *j, const char *where) {
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = type_of(j);
    if (!type) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'post_processor.type'", where);
    if (strcmp(type, "Sequence") == 0)
        return rt_tok_load_sequence(t, j, "processors", "post_processor", where, rt_tok_load_postprocessor);
    /* ByteLevel only adjusts offsets, which retrace does not report. */
    if (strcmp(type, "ByteLevel") == 0) return RT_OK;
    if (strcmp(type, "TemplateProcessing") == 0) return load_template(t, j, where);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) return load_cls_sep(t, j, where);
    return rt_fail(RT_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", where, type);
}
