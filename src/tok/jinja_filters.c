/* jinja_filters.c: the filters and tests chat templates use. tojson is transformers' own (json.dumps
 * with ensure_ascii=False; `indent` honoured), not Jinja's HTML-escaping one. An unknown filter or test
 * is an RT_ERR_UNSUPPORTED naming it. */
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

#define IS(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))

jv jx_as_list(jx_ctx *c, jv v, size_t pos) {
    if (v.t == JV_LIST) return v;
    jv out = jv_list_new(c, 8);
    if (v.t == JV_DICT) {
        for (size_t i = 0; i < v.u.d->n; i++) jv_list_push(c, &out, v.u.d->k[i]);
    } else if (v.t == JV_STR) {
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = i + 1;
            while (k < v.u.s.n && ((unsigned char)v.u.s.s[k] & 0xC0) == 0x80) k++;
            jv_list_push(c, &out, jv_str(v.u.s.s + i, k - i));
            i = k;
        }
    } else if (v.t != JV_UNDEF) {
        jx_fail(c, RT_ERR_FORMAT, pos, "'%s' object is not iterable", jv_type_name(v));
    }
    return out;
}

static jv need_str(jx_ctx *c, jv v, const char *filter, size_t pos) {
    if (v.t == JV_UNDEF) return jv_str("", 0);
    if (v.t != JV_STR) return jv_stringify(c, v);
    (void)filter, (void)pos;
    return v;
}

/* selectattr/rejectattr/select/reject: the items whose attribute (or themselves) pass the test. */
static jv select_items(jx_ctx *c, jv seq, const jx_args *a, int by_attr, int keep, size_t pos) {
    jv items = jx_as_list(c, seq, pos), out = jv_list_new(c, 8);
    size_t first = by_attr ? 1 : 0;
    jv *attr = by_attr ? jx_arg(a, 0, NULL) : NULL;
    if (by_attr && (!attr || attr->t != JV_STR)) jx_fail(c, RT_ERR_FORMAT, pos, "selectattr expects an attribute name");
    jv *test = jx_arg(a, first, NULL);
    if (test && test->t != JV_STR) jx_fail(c, RT_ERR_FORMAT, pos, "select expects a test name");
    jx_args rest = *a;
    rest.pos = a->pos + (first + 1 < a->n_pos ? first + 1 : a->n_pos);
    rest.n_pos = a->n_pos > first + 1 ? a->n_pos - first - 1 : 0;
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv v = items.u.l->v[i];
        if (attr) v = jx_getattr(c, v, attr->u.s.s, attr->u.s.n, pos);
        int pass = test ? jx_test(c, test->u.s.s, test->u.s.n, v, &rest, pos) : jv_truthy(v);
        if (pass == keep) jv_list_push(c, &out, items.u.l->v[i]);
    }
    out.u.l->iterator = 1;
    return out;
}

static jv map_items(jx_ctx *c, jv seq, const jx_args *a, size_t pos) {
    jv items = jx_as_list(c, seq, pos), out = jv_list_new(c, items.u.l->n + 1);
    jv *attr = jx_arg(a, a->n_pos, "attribute"), *dflt = jx_arg(a, a->n_pos, "default");
    jv *filter = a->n_pos ? &a->pos[0] : NULL;
    if (!attr && (!filter || filter->t != JV_STR)) jx_fail(c, RT_ERR_FORMAT, pos, "map expects a filter name or attribute=");
    jx_args rest = *a;
    rest.pos = a->pos + (a->n_pos ? 1 : 0);
    rest.n_pos = a->n_pos ? a->n_pos - 1 : 0;
    rest.n_kw = 0;
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv v = items.u.l->v[i];
        if (attr) {
            v = attr->t == JV_STR ? jx_getattr(c, v, attr->u.s.s, attr->u.s.n, pos) : jx_getitem(c, v, *attr, pos);
            if (v.t == JV_UNDEF && dflt) v = *dflt;
        } else {
            v = jx_filter(c, filter->u.s.s, filter->u.s.n, v, &rest, pos);
        }
        jv_list_push(c, &out, v);
    }
    out.u.l->iterator = 1;
    return out;
}

static jv join(jx_ctx *c, jv seq, const jx_args *a, size_t pos) {
    jv items = jx_as_list(c, seq, pos), *sep = jx_arg(a, 0, "d"), *attr = jx_arg(a, 1, "attribute");
    jx_buf b = {0};
    jx_buf_put(c, &b, "", 0);
    for (size_t i = 0; i < items.u.l->n; i++) {
        if (i && sep) jv_to_str(c, *sep, &b);
        jv v = items.u.l->v[i];
        if (attr && attr->t == JV_STR) v = jx_getattr(c, v, attr->u.s.s, attr->u.s.n, pos);
        jv_to_str(c, v, &b);
    }
    return jv_str(b.p, b.n);
}

static jv to_int(jx_ctx *c, jv v, const jx_args *a) {
    jv *d = jx_arg(a, 0, "default");
    jv dflt = d ? *d : jv_int(0);
    if (v.t == JV_INT || v.t == JV_BOOL) return jv_int(v.u.i);
    if (v.t == JV_FLOAT) return v.u.f > -9.2e18 && v.u.f < 9.2e18 ? jv_int((int64_t)v.u.f) : dflt;
    if (v.t != JV_STR) return dflt;
    jv s = jx_strip(v, NULL, 1, 1);
    char tmp[64];
    if (!s.u.s.n || s.u.s.n >= sizeof tmp) return dflt;
    memcpy(tmp, s.u.s.s, s.u.s.n);
    tmp[s.u.s.n] = '\0';
    char *end;
    long long r = strtoll(tmp, &end, 10);
    if (*end == '\0') return jv_int(r);
    double f = strtod(tmp, &end);
    (void)c;
    return *end == '\0' && f > -9.2e18 && f < 9.2e18 ? jv_int((int64_t)f) : dflt;
}

jv jx_filter(jx_ctx *c, const char *name, size_t n, jv v, const jx_args *a, size_t pos) {
    jv *x = jx_arg(a, 0, NULL);
    if (IS("trim")) {
        jv *chars = jx_arg(a, 0, "chars");
        return jx_strip(need_str(c, v, "trim", pos), chars && chars->t == JV_STR ? chars : NULL, 1, 1);
    }
    if (IS("tojson")) {
        jv *ind = jx_arg(a, 0, "indent");
        jx_buf b = {0};
        jx_buf_put(c, &b, "", 0);
        jv_to_json(c, v, ind && ind->t == JV_INT ? (int)(ind->u.i > 64 ? 64 : ind->u.i < 0 ? 0 : ind->u.i) : -1, pos, &b);
        return jv_str(b.p, b.n);
    }
    if (IS("length") || IS("count")) {
        if (v.t == JV_STR) return jv_int((int64_t)jx_utf8_count(v.u.s.s, v.u.s.n));
        if (v.t == JV_LIST) return jv_int((int64_t)v.u.l->n);
        if (v.t == JV_DICT) return jv_int((int64_t)v.u.d->n);
        if (v.t == JV_UNDEF) return jv_int(0);
        jx_fail(c, RT_ERR_FORMAT, pos, "object of type '%s' has no len()", jv_type_name(v));
    }
    if (IS("first") || IS("last")) {
        jv l = jx_as_list(c, v, pos);
        if (!l.u.l->n) return jv_undef(NULL);
        return l.u.l->v[IS("first") ? 0 : l.u.l->n - 1];
    }
    if (IS("join")) return join(c, v, a, pos);
    if (IS("default") || IS("d")) {
        jv *b = jx_arg(a, 1, "boolean");
        int use = v.t == JV_UNDEF || (b && jv_truthy(*b) && !jv_truthy(v));
        jv *d = jx_arg(a, 0, "default_value");
        return use ? (d ? *d : jv_str("", 0)) : v;
    }
    if (IS("upper")) return jx_case(c, need_str(c, v, "upper", pos), 'u');
    if (IS("lower")) return jx_case(c, need_str(c, v, "lower", pos), 'l');
    if (IS("title")) return jx_case(c, need_str(c, v, "title", pos), 'j');
    if (IS("capitalize")) return jx_case(c, need_str(c, v, "capitalize", pos), 'c');
    if (IS("replace")) {
        jv *o = jx_arg(a, 0, "old"), *nw = jx_arg(a, 1, "new"), *cnt = jx_arg(a, 2, "count");
        if (!o || !nw || o->t != JV_STR || nw->t != JV_STR) jx_fail(c, RT_ERR_FORMAT, pos, "replace expects two strings");
        return jx_replace(c, need_str(c, v, "replace", pos), *o, *nw, cnt && cnt->t == JV_INT ? cnt->u.i : -1);
    }
    if (IS("string")) return v.t == JV_UNDEF ? jv_str("", 0) : jv_stringify(c, v);
    if (IS("safe")) return v;
    if ((IS("int") || IS("float")) && v.t == JV_UNDEF) jx_undefined_error(c, v, pos); /* int(Undefined) raises */
    if (IS("int")) return to_int(c, v, a);
    if (IS("float")) {
        if (v.t == JV_INT || v.t == JV_BOOL) return jv_float((double)v.u.i);
        if (v.t == JV_FLOAT) return v;
        jv *d = jx_arg(a, 0, "default");
        if (v.t == JV_STR) {
            jv s = jv_str_copy(c, v.u.s.s, v.u.s.n);
            char *end;
            double f = strtod(s.u.s.s, &end);
            if (s.u.s.n && *end == '\0') return jv_float(f);
        }
        return d ? *d : jv_float(0.0);
    }
    if (IS("list")) {
        jv src = jx_as_list(c, v, pos), out = jv_list_new(c, src.u.l->n + 1);
        for (size_t i = 0; i < src.u.l->n; i++) jv_list_push(c, &out, src.u.l->v[i]);
        return out;
    }
    if (IS("reverse")) {
        if (v.t == JV_STR) {
            jx_buf b = {0};
            jx_buf_put(c, &b, "", 0);
            jv l = jx_as_list(c, v, pos);
            for (size_t i = l.u.l->n; i-- > 0;) jx_buf_put(c, &b, l.u.l->v[i].u.s.s, l.u.l->v[i].u.s.n);
            return jv_str(b.p, b.n);
        }
        jv src = jx_as_list(c, v, pos), out = jv_list_new(c, src.u.l->n + 1);
        for (size_t i = src.u.l->n; i-- > 0;) jv_list_push(c, &out, src.u.l->v[i]);
        out.u.l->iterator = 1;
        return out;
    }
    if (IS("abs")) {
        if (v.t == JV_BOOL) return jv_int(v.u.i); /* a bool is an int to Python */
        if (v.t == JV_INT && v.u.i != INT64_MIN) return jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        if (v.t == JV_FLOAT) return jv_float(v.u.f < 0 ? -v.u.f : v.u.f);
        jx_fail(c, RT_ERR_FORMAT, pos, "bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (IS("items")) {
        jv out = jx_method(c, v.t == JV_UNDEF ? jv_dict_new(c, 1) : v, "items", 5, a, pos);
        if (out.t == JV_LIST) out.u.l->iterator = 1;
        return out;
    }
    if (IS("selectattr") || IS("rejectattr")) return select_items(c, v, a, 1, IS("selectattr"), pos);
    if (IS("select") || IS("reject")) return select_items(c, v, a, 0, IS("select"), pos);
    if (IS("map")) return map_items(c, v, a, pos);
    (void)x;
    jx_fail(c, RT_ERR_UNSUPPORTED, pos, "unsupported filter '%.*s'", (int)n, name);
}

static int is_int(jv v) { return v.t == JV_INT; }

int jx_test(jx_ctx *c, const char *name, size_t n, jv v, const jx_args *a, size_t pos) {
    jv *x = jx_arg(a, 0, NULL);
    if (IS("defined")) return v.t != JV_UNDEF;
    if (IS("undefined")) return v.t == JV_UNDEF;
    if (IS("none")) return v.t == JV_NONE;
    if (IS("string")) return v.t == JV_STR;
    if (IS("number")) return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL;
    if (IS("integer")) return is_int(v);
    if (IS("float")) return v.t == JV_FLOAT;
    if (IS("boolean")) return v.t == JV_BOOL;
    if (IS("true")) return v.t == JV_BOOL && v.u.i;
    if (IS("false")) return v.t == JV_BOOL && !v.u.i;
    if (IS("mapping")) return v.t == JV_DICT;
    if (IS("iterable")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
    if (IS("sequence")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF;
    if (IS("callable")) return v.t == JV_FUNC || v.t == JV_MACRO;
    /* value % 2 == 1, value % 2 == 0, value % num == 0 with Python's %: bools and floats too. */
    if (IS("odd") || IS("even") || IS("divisibleby")) {
        if (IS("divisibleby") && !x) jx_fail(c, RT_ERR_FORMAT, pos, "divisibleby expects a number");
        jv rem = jx_binop(c, "%", v, IS("divisibleby") ? *x : jv_int(2), pos);
        return jv_truthy(jx_binop(c, "==", rem, jv_int(IS("odd")), pos));
    }
    if (IS("lower") || IS("upper")) {
        if (v.t != JV_STR) return 0;
        jv t = jx_case(c, v, IS("lower") ? 'l' : 'u');
        return jv_equal(t, v);
    }
    static const char *const cmp[][3] = {{"eq", "equalto", "=="}, {"ne", "!=", "!="}, {"lt", "lessthan", "<"},
                                          {"le", "<=", "<="},      {"gt", "greaterthan", ">"}, {"ge", ">=", ">="},
                                          {"in", "in", "in"},      {"sameas", "sameas", "=="}};
    for (size_t k = 0; k < sizeof cmp / sizeof *cmp; k++)
        if ((strlen(cmp[k][0]) == n && !memcmp(name, cmp[k][0], n)) || (strlen(cmp[k][1]) == n && !memcmp(name, cmp[k][1], n))) {
            if (!x) jx_fail(c, RT_ERR_FORMAT, pos, "test '%.*s' expects an argument", (int)n, name);
            if (k == 7 && v.t != x->t) return 0;
            return jv_truthy(jx_binop(c, cmp[k][2], v, *x, pos));
        }
    jx_fail(c, RT_ERR_UNSUPPORTED, pos, "unsupported test '%.*s'", (int)n, name);
}
