/* load_pipeline.c: the "normalizer" and "pre_tokenizer" sections of tokenizer.json. Sequences are
 * flattened into one list; an unknown type is an error naming it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

/* The GPT-2 pattern the ByteLevel pre-tokenizer uses when use_regex is true. */
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Unicode \w as Oniguruma defines it (letters, marks, decimal digits, connector punctuation). */
static const char WHITESPACE_PATTERN[] = "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]+|[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}\\s]+";

static const char *type_of(json_t *j) { return json_string_value(json_object_get(j, "type")); }

static int bool_or(json_t *j, const char *key, int dflt) {
    json_t *v = json_object_get(j, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static rt_status get_str(json_t *j, const char *key, const char *section, const char *where, const char **out) {
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) return rt_fail(RT_ERR_FORMAT, "%s: missing field '%s.%s' (a string)", where, section, key);
    *out = json_string_value(v);
    return RT_OK;
}

/* A pattern object {"String": s} or {"Regex": r}: the literal in *lit, or the compiled regex. */
static rt_status load_pattern(json_t *j, const char *section, const char *where, char **lit, rt_tok_regex **re) {
    json_t *p = json_object_get(j, "pattern");
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    *lit = NULL;
    *re = NULL;
    if (json_is_string(s)) {
        *lit = rt_strdup(json_string_value(s));
        return RT_OK;
    }
    if (json_is_string(r)) return rt_tok_regex_compile(json_string_value(r), where, re);
    return rt_fail(RT_ERR_FORMAT, "%s: missing field '%s.pattern' ({\"String\"} or {\"Regex\"})", where, section);
}

/* Escapes a literal for PCRE2 (every ASCII non-alphanumeric char gets a backslash). */
static char *escape_literal(const char *s) {
    rt_tok_buf b = {0};
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            rt_tok_buf_putc(&b, '\\');
        rt_tok_buf_putc(&b, (char)c);
    }
    rt_tok_buf_put(&b, "", 0);
    return b.p;
}

rt_status rt_tok_load_sequence(rt_tokenizer *t, json_t *j, const char *key, const char *section, const char *where,
                               rt_status (*load)(rt_tokenizer *, json_t *, const char *)) {
    json_t *list = json_object_get(j, key);
    if (!json_is_array(list)) return rt_fail(RT_ERR_FORMAT, "%s: missing field '%s.%s'", where, section, key);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) RT_TRY(load(t, v, where));
    return RT_OK;
}

static rt_tok_norm *add_norm(rt_tokenizer *t, rt_tok_norm_kind kind) {
    t->norms = rt_realloc(t->norms, (t->n_norms + 1) * sizeof *t->norms);
    rt_tok_norm *n = &t->norms[t->n_norms++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return n;
}

rt_status rt_tok_load_normalizer(rt_tokenizer *t, json_t *j, const char *where) {
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = type_of(j);
    if (!type) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'normalizer.type'", where);
    if (strcmp(type, "Sequence") == 0)
        return rt_tok_load_sequence(t, j, "normalizers", "normalizer", where, rt_tok_load_normalizer);
    if (strcmp(type, "NFC") == 0) add_norm(t, RT_NORM_NFC);
    else if (strcmp(type, "NFKC") == 0) add_norm(t, RT_NORM_NFKC);
    else if (strcmp(type, "NFD") == 0) add_norm(t, RT_NORM_NFD);
    else if (strcmp(type, "NFKD") == 0) add_norm(t, RT_NORM_NFKD);
    else if (strcmp(type, "Lowercase") == 0) add_norm(t, RT_NORM_LOWERCASE);
    else if (strcmp(type, "StripAccents") == 0) add_norm(t, RT_NORM_STRIP_ACCENTS);
    else if (strcmp(type, "Prepend") == 0) {
        const char *p = NULL;
        RT_TRY(get_str(j, "prepend", "normalizer", where, &p));
        add_norm(t, RT_NORM_PREPEND)->str = rt_strdup(p);
    } else if (strcmp(type, "Replace") == 0) {
        const char *c = NULL;
        RT_TRY(get_str(j, "content", "normalizer", where, &c));
        char *lit;
        rt_tok_regex *re;
        RT_TRY(load_pattern(j, "normalizer", where, &lit, &re));
        rt_tok_norm *n = add_norm(t, RT_NORM_REPLACE);
        n->str = lit;
        n->re = re;
        n->content = rt_strdup(c);
    } else if (strcmp(type, "Strip") == 0) {
        rt_tok_norm *n = add_norm(t, RT_NORM_STRIP);
        n->left = bool_or(j, "strip_left", 1);
        n->right = bool_or(j, "strip_right", 1);
    } else if (strcmp(type, "BertNormalizer") == 0) {
        rt_tok_norm *n = add_norm(t, RT_NORM_BERT);
        n->clean_text = bool_or(j, "clean_text", 1);
        n->handle_chinese = bool_or(j, "handle_chinese_chars", 1);
        n->lowercase = bool_or(j, "lowercase", 1);
        /* strip_accents null means "as lowercase". */
        n->strip_accents = bool_or(j, "strip_accents", n->lowercase);
    } else if (strcmp(type, "Precompiled") == 0) {
        const char *b64 = NULL;
        RT_TRY(get_str(j, "precompiled_charsmap", "normalizer", where, &b64));
        rt_tok_precompiled *pc;
        RT_TRY(rt_tok_precompiled_load(b64, where, &pc));
        add_norm(t, RT_NORM_PRECOMPILED)->pc = pc;
    } else {
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported", where, type);
    }
    return RT_OK;
}

static rt_tok_pretok *add_pre(rt_tokenizer *t, rt_tok_pre_kind kind) {
    t->pretoks = rt_realloc(t->pretoks, (t->n_pretoks + 1) * sizeof *t->pretoks);
    rt_tok_pretok *p = &t->pretoks[t->n_pretoks++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static rt_status parse_behavior(json_t *j, const char *where, rt_tok_split_behavior *out) {
    const char *b = json_string_value(json_object_get(j, "behavior"));
    if (!b) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'pre_tokenizer.behavior'", where);
    static const struct {
        const char *name;
        rt_tok_split_behavior v;
    } names[] = {{"Removed", RT_SPLIT_REMOVED}, {"Isolated", RT_SPLIT_ISOLATED},
                 {"MergedWithPrevious", RT_SPLIT_MERGED_WITH_PREVIOUS}, {"MergedWithNext", RT_SPLIT_MERGED_WITH_NEXT},
                 {"Contiguous", RT_SPLIT_CONTIGUOUS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(b, names[i].name) == 0) {
            *out = names[i].v;
            return RT_OK;
        }
    return rt_fail(RT_ERR_FORMAT, "%s: pre_tokenizer.behavior '%s' is unknown", where, b);
}

static rt_status load_split(rt_tokenizer *t, json_t *j, const char *where) {
    rt_tok_split_behavior behavior = RT_SPLIT_ISOLATED;
    RT_TRY(parse_behavior(j, where, &behavior));
    char *lit;
    rt_tok_regex *re;
    RT_TRY(load_pattern(j, "pre_tokenizer", where, &lit, &re));
    if (lit) {
        char *esc = escape_literal(lit);
        rt_status s = rt_tok_regex_compile(esc, where, &re);
        free(esc);
        free(lit);
        RT_TRY(s);
    }
    rt_tok_pretok *p = add_pre(t, RT_PRE_SPLIT);
    p->re = re;
    p->behavior = behavior;
    p->invert = bool_or(j, "invert", 0);
    return RT_OK;
}

static rt_status load_metaspace(rt_tokenizer *t, json_t *j, const char *where) {
    const char *rep = json_string_value(json_object_get(j, "replacement"));
    if (!rep) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'pre_tokenizer.replacement'", where);
    rt_tok_pretok *p = add_pre(t, RT_PRE_METASPACE);
    p->replacement = rt_strdup(rep);
    p->split = bool_or(j, "split", 1);
    const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
    /* Files older than prepend_scheme say add_prefix_space instead. */
    if (!scheme) p->prepend_scheme = bool_or(j, "add_prefix_space", 1) ? RT_PREPEND_ALWAYS : RT_PREPEND_NEVER;
    else if (strcmp(scheme, "always") == 0) p->prepend_scheme = RT_PREPEND_ALWAYS;
    else if (strcmp(scheme, "never") == 0) p->prepend_scheme = RT_PREPEND_NEVER;
    else if (strcmp(scheme, "first") == 0) p->prepend_scheme = RT_PREPEND_FIRST;
    else return rt_fail(RT_ERR_FORMAT, "%s: pre_tokenizer.prepend_scheme '%s' is unknown", where, scheme);
    return RT_OK;
}

rt_status rt_tok_load_pretokenizer(rt_tokenizer *t, json_t *j, const char *where) {
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = type_of(j);
    if (!type) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'pre_tokenizer.type'", where);
    if (strcmp(type, "Sequence") == 0)
        return rt_tok_load_sequence(t, j, "pretokenizers", "pre_tokenizer", where, rt_tok_load_pretokenizer);
    if (strcmp(type, "Split") == 0) return load_split(t, j, where);
    if (strcmp(type, "Metaspace") == 0) return load_metaspace(t, j, where);
    if (strcmp(type, "ByteLevel") == 0) {
        rt_tok_pretok *p = add_pre(t, RT_PRE_BYTELEVEL);
        p->add_prefix_space = bool_or(j, "add_prefix_space", 1);
        if (bool_or(j, "use_regex", 1)) RT_TRY(rt_tok_regex_compile(GPT2_PATTERN, where, &p->re));
    } else if (strcmp(type, "BertPreTokenizer") == 0) {
        add_pre(t, RT_PRE_BERT);
    } else if (strcmp(type, "Whitespace") == 0) {
        RT_TRY(rt_tok_regex_compile(WHITESPACE_PATTERN, where, &add_pre(t, RT_PRE_WHITESPACE)->re));
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        add_pre(t, RT_PRE_WHITESPACE_SPLIT);
    } else if (strcmp(type, "Digits") == 0) {
        add_pre(t, RT_PRE_DIGITS)->individual_digits = bool_or(j, "individual_digits", 0);
    } else if (strcmp(type, "Punctuation") == 0) {
        rt_tok_split_behavior b = RT_SPLIT_ISOLATED;
        if (json_object_get(j, "behavior")) RT_TRY(parse_behavior(j, where, &b));
        add_pre(t, RT_PRE_PUNCTUATION)->behavior = b;
    } else {
        return rt_fail(RT_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported", where, type);
    }
    return RT_OK;
}
