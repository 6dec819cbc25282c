/* jinja_value.c: the values of the Jinja interpreter and their Python behaviour: truthiness,
 * equality, str() and repr() as Python prints them, json.dumps as transformers' tojson calls it
 * (ensure_ascii=False, separators ", " and ": ", or "," and newlines with an indent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

jv jv_undef(const char *name) {
    jv v = {.t = JV_UNDEF};
    v.u.s.s = name ? name : "";
    v.u.s.n = strlen(v.u.s.s);
    return v;
}
jv jv_none(void) { return (jv){.t = JV_NONE}; }
jv jv_bool(int b) { return (jv){.t = JV_BOOL, .u.i = b != 0}; }
jv jv_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
jv jv_float(double f) { return (jv){.t = JV_FLOAT, .u.f = f}; }
jv jv_str(const char *s, size_t n) { return (jv){.t = JV_STR, .u.s = {s, n}}; }
jv jv_cstr(const char *s) { return jv_str(s, strlen(s)); }

jv jv_str_copy(jx_ctx *c, const char *s, size_t n) {
    char *p = jx_alloc(c, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return jv_str(p, n);
}

jv jv_list_new(jx_ctx *c, size_t cap) {
    jx_list *l = jx_alloc(c, sizeof *l);
    l->cap = cap ? cap : 4;
    l->v = jx_alloc(c, l->cap * sizeof *l->v);
    return (jv){.t = JV_LIST, .u.l = l};
}

jv jv_dict_new(jx_ctx *c, size_t cap) {
    jx_dict *d = jx_alloc(c, sizeof *d);
    d->cap = cap ? cap : 4;
    d->k = jx_alloc(c, d->cap * sizeof *d->k);
    d->v = jx_alloc(c, d->cap * sizeof *d->v);
    return (jv){.t = JV_DICT, .u.d = d};
}

void jv_list_push(jx_ctx *c, jv *list, jv v) {
    jx_list *l = list->u.l;
    if (l->n == l->cap) {
        jv *nv = jx_alloc(c, 2 * l->cap * sizeof *nv);
        memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap *= 2;
    }
    l->v[l->n++] = v;
}

static int key_match(jv k, const char *s, size_t n) { return k.t == JV_STR && k.u.s.n == n && !memcmp(k.u.s.s, s, n); }

jv *jv_dict_get(const jv *dict, const char *key, size_t n) {
    const jx_dict *d = dict->u.d;
    for (size_t i = 0; i < d->n; i++)
        if (key_match(d->k[i], key, n)) return &d->v[i];
    return NULL;
}

void jv_dict_set(jx_ctx *c, jv *dict, jv key, jv v) {
    jx_dict *d = dict->u.d;
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->k[i], key)) {
            d->v[i] = v;
            return;
        }
    if (d->n == d->cap) {
        jv *nk = jx_alloc(c, 2 * d->cap * sizeof *nk), *nv = jx_alloc(c, 2 * d->cap * sizeof *nv);
        memcpy(nk, d->k, d->n * sizeof *nk);
        memcpy(nv, d->v, d->n * sizeof *nv);
        d->k = nk;
        d->v = nv;
        d->cap *= 2;
    }
    d->k[d->n] = key;
    d->v[d->n++] = v;
}

int jv_truthy(jv v) {
    switch (v.t) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0 || v.u.l->iterator;
    case JV_DICT: return v.u.d->n > 0;
    default: return 1;
    }
}

static int is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }

int jv_equal(jv a, jv b) {
    if (is_num(a) && is_num(b)) {
        if (a.t == JV_FLOAT || b.t == JV_FLOAT)
            return (a.t == JV_FLOAT ? a.u.f : (double)a.u.i) == (b.t == JV_FLOAT ? b.u.f : (double)b.u.i);
        return a.u.i == b.u.i;
    }
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.s, b.u.s.s, a.u.s.n);
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple) return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv k = a.u.d->k[i], *o = k.t == JV_STR ? jv_dict_get(&b, k.u.s.s, k.u.s.n) : NULL;
            if (!o || !jv_equal(a.u.d->v[i], *o)) return 0;
        }
        return 1;
    case JV_MACRO: return a.u.m == b.u.m;
    case JV_LOOP: return a.u.loop == b.u.loop;
    default: return a.u.i == b.u.i;
    }
}

void jx_buf_put(jx_ctx *c, jx_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        if (n > JX_MAX_ARENA || b->n > JX_MAX_ARENA) jx_fail(c, RT_ERR_ARG, 0, "a string exceeds %u bytes", JX_MAX_ARENA);
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = jx_alloc(c, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void jx_buf_puts(jx_ctx *c, jx_buf *b, const char *s) { jx_buf_put(c, b, s, strlen(s)); }

/* Python's repr of a float: the shortest digits that read back the same, in Python's layout. */
static void float_repr(jx_ctx *c, double f, jx_buf *b) {
    if (isnan(f)) return jx_buf_puts(c, b, "nan");
    if (isinf(f)) return jx_buf_puts(c, b, f < 0 ? "-inf" : "inf");
    char digits[40];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(digits, sizeof digits, "%.*e", p - 1, f);
        if (strtod(digits, NULL) == f) break;
    }
    snprintf(digits, sizeof digits, "%.*e", p - 1, f);
    int exp = atoi(strchr(digits, 'e') + 1);
    char out[64];
    if (exp < -4 || exp >= 16) {
        /* d.ddde+XX: Python drops a lone ".0" and prints at least two exponent digits. */
        char *e = strchr(digits, 'e');
        *e = '\0';
        snprintf(out, sizeof out, "%se%c%02d", digits, exp < 0 ? '-' : '+', abs(exp));
    } else {
        snprintf(out, sizeof out, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, f);
        if (!strchr(out, '.')) strcat(out, ".0");
    }
    jx_buf_puts(c, b, out);
}

static void str_repr(jx_ctx *c, jv v, jx_buf *b) {
    const char *s = v.u.s.s;
    size_t n = v.u.s.n;
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    jx_buf_put(c, b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '\\' || ch == (unsigned char)q) {
            esc[0] = '\\', esc[1] = (char)ch;
            jx_buf_put(c, b, esc, 2);
        } else if (ch == '\n') jx_buf_puts(c, b, "\\n");
        else if (ch == '\r') jx_buf_puts(c, b, "\\r");
        else if (ch == '\t') jx_buf_puts(c, b, "\\t");
        else if (ch < 0x20 || ch == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", ch);
            jx_buf_puts(c, b, esc);
        } else jx_buf_put(c, b, s + i, 1);
    }
    jx_buf_put(c, b, &q, 1);
}

static void repr(jx_ctx *c, jv v, jx_buf *b) {
    if (v.t == JV_STR) return str_repr(c, v, b);
    if (v.t == JV_UNDEF) return jx_buf_puts(c, b, "Undefined"); /* jinja2's Undefined.__repr__ */
    if (v.t == JV_LIST) {
        jx_buf_puts(c, b, v.u.l->tuple ? "(" : "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jx_buf_puts(c, b, ", ");
            repr(c, v.u.l->v[i], b);
        }
        jx_buf_puts(c, b, v.u.l->tuple ? (v.u.l->n == 1 ? ",)" : ")") : "]");
        return;
    }
    if (v.t == JV_DICT) {
        jx_buf_puts(c, b, v.u.d->ns ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) jx_buf_puts(c, b, ", ");
            repr(c, v.u.d->k[i], b);
            jx_buf_puts(c, b, ": ");
            repr(c, v.u.d->v[i], b);
        }
        jx_buf_puts(c, b, v.u.d->ns ? "}>" : "}");
        return;
    }
    jv_to_str(c, v, b);
}

void jv_to_str(jx_ctx *c, jv v, jx_buf *b) {
    char num[32];
    switch (v.t) {
    case JV_UNDEF: return;
    case JV_NONE: return jx_buf_puts(c, b, "None");
    case JV_BOOL: return jx_buf_puts(c, b, v.u.i ? "True" : "False");
    case JV_INT:
        snprintf(num, sizeof num, "%lld", (long long)v.u.i);
        return jx_buf_puts(c, b, num);
    case JV_FLOAT: return float_repr(c, v.u.f, b);
    case JV_STR: return jx_buf_put(c, b, v.u.s.s, v.u.s.n);
    case JV_LIST: case JV_DICT: return repr(c, v, b);
    case JV_MACRO: return jx_buf_puts(c, b, "<Macro>");
    case JV_LOOP: return jx_buf_puts(c, b, "<LoopContext>");
    default: return jx_buf_puts(c, b, "<function>");
    }
}

jv jv_stringify(jx_ctx *c, jv v) {
    if (v.t == JV_STR) return v;
    jx_buf b = {0};
    jv_to_str(c, v, &b);
    return b.p ? jv_str(b.p, b.n) : jv_str("", 0);
}

const char *jv_type_name(jv v) {
    static const char *const names[] = {"Undefined", "NoneType", "bool", "int",   "float",
                                        "str",       "list",     "dict", "function", "Macro", "LoopContext"};
    if (v.t == JV_LIST && v.u.l->tuple) return "tuple";
    return names[v.t];
}

static void json_str(jx_ctx *c, const char *s, size_t n, jx_buf *b) {
    jx_buf_puts(c, b, "\"");
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r"
                        : ch == '\t' ? "\\t" : ch == '\b' ? "\\b" : ch == '\f' ? "\\f" : NULL;
        char u[8];
        if (!esc && ch < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", ch);
            esc = u;
        }
        if (!esc) continue;
        jx_buf_put(c, b, s + run, i - run);
        jx_buf_puts(c, b, esc);
        run = i + 1;
    }
    jx_buf_put(c, b, s + run, n - run);
    jx_buf_puts(c, b, "\"");
}

static void json_nl(jx_ctx *c, int indent, int level, jx_buf *b) {
    jx_buf_puts(c, b, "\n");
    for (int i = 0; i < indent * level; i++) jx_buf_puts(c, b, " ");
}

static void json_val(jx_ctx *c, jv v, int indent, int level, size_t pos, jx_buf *b) {
    if (level > JX_MAX_DEPTH) jx_fail(c, RT_ERR_ARG, pos, "tojson: nesting deeper than %d", JX_MAX_DEPTH);
    const char *sep = indent >= 0 ? "," : ", ";
    switch (v.t) {
    case JV_NONE: return jx_buf_puts(c, b, "null");
    case JV_BOOL: return jx_buf_puts(c, b, v.u.i ? "true" : "false");
    case JV_INT: return jv_to_str(c, v, b);
    case JV_FLOAT:
        if (isnan(v.u.f)) return jx_buf_puts(c, b, "NaN");
        if (isinf(v.u.f)) return jx_buf_puts(c, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        return jv_to_str(c, v, b);
    case JV_STR: return json_str(c, v.u.s.s, v.u.s.n, b);
    case JV_LIST:
        if (!v.u.l->n) return jx_buf_puts(c, b, "[]");
        jx_buf_puts(c, b, "[");
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) jx_buf_puts(c, b, sep);
            if (indent >= 0) json_nl(c, indent, level + 1, b);
            json_val(c, v.u.l->v[i], indent, level + 1, pos, b);
        }
        if (indent >= 0) json_nl(c, indent, level, b);
        return jx_buf_puts(c, b, "]");
    case JV_DICT:
        if (!v.u.d->n) return jx_buf_puts(c, b, "{}");
        jx_buf_puts(c, b, "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) jx_buf_puts(c, b, sep);
            if (indent >= 0) json_nl(c, indent, level + 1, b);
            jv k = v.u.d->k[i];
            if (k.t != JV_STR) k = jv_stringify(c, k);
            json_str(c, k.u.s.s, k.u.s.n, b);
            jx_buf_puts(c, b, ": ");
            json_val(c, v.u.d->v[i], indent, level + 1, pos, b);
        }
        if (indent >= 0) json_nl(c, indent, level, b);
        return jx_buf_puts(c, b, "}");
    default: jx_fail(c, RT_ERR_ARG, pos, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
    }
}

void jv_to_json(jx_ctx *c, jv v, int indent, size_t pos, jx_buf *b) { json_val(c, v, indent, 0, pos, b); }

size_t jx_utf8_count(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

size_t jx_utf8_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    for (; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && k-- == 0) return i;
    return n;
}

int jx_py_space(int32_t cp) { return rt_tok_is_space(cp) || (cp >= 0x1C && cp <= 0x1F); }
