/* jinja_expr.c: expressions with Python's semantics: `and`/`or` give an operand, + - * / // % ** on
 * ints (64-bit, overflow is an error) and floats, + and * on strings and lists, comparisons, `in`,
 * attribute and item access as Jinja2 does them (a missing key is undefined; anything done to an
 * undefined value but printing, testing or iterating it is an error), slices, calls. */
#include <math.h>
#include <string.h>

#include "tok/jinja.h"

static jv loop_attr(jx_ctx *c, const jx_loop *l, const char *name, size_t n) {
    (void)c;
#define IS(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))
    if (IS("index")) return jv_int((int64_t)l->index0 + 1);
    if (IS("index0")) return jv_int((int64_t)l->index0);
    if (IS("revindex")) return jv_int((int64_t)(l->length - l->index0));
    if (IS("revindex0")) return jv_int((int64_t)(l->length - l->index0 - 1));
    if (IS("first")) return jv_bool(l->index0 == 0);
    if (IS("last")) return jv_bool(l->index0 + 1 == l->length);
    if (IS("length")) return jv_int((int64_t)l->length);
    if (IS("previtem")) return l->index0 ? l->items[l->index0 - 1] : jv_undef("previtem");
    if (IS("nextitem")) return l->index0 + 1 < l->length ? l->items[l->index0 + 1] : jv_undef("nextitem");
#undef IS
    jv u = jv_undef(NULL);
    u.u.s.s = name, u.u.s.n = n;
    return u;
}

jv jx_getattr(jx_ctx *c, jv obj, const char *name, size_t n, size_t pos) {
    if (obj.t == JV_UNDEF) jx_undefined_error(c, obj, pos);
    if (obj.t == JV_LOOP) return loop_attr(c, obj.u.loop, name, n);
    if (obj.t == JV_DICT) {
        jv *v = jv_dict_get(&obj, name, n);
        if (v) return *v;
    }
    jv u = jv_undef(NULL);
    u.u.s.s = name, u.u.s.n = n;
    return u;
}

jv jx_getitem(jx_ctx *c, jv obj, jv key, size_t pos) {
    if (obj.t == JV_UNDEF) jx_undefined_error(c, obj, pos);
    if (key.t == JV_STR && (obj.t == JV_DICT || obj.t == JV_LOOP)) return jx_getattr(c, obj, key.u.s.s, key.u.s.n, pos);
    if (obj.t == JV_DICT) {
        for (size_t i = 0; i < obj.u.d->n; i++)
            if (jv_equal(obj.u.d->k[i], key)) return obj.u.d->v[i];
    } else if ((obj.t == JV_LIST || obj.t == JV_STR) && (key.t == JV_INT || key.t == JV_BOOL)) {
        int is_str = obj.t == JV_STR;
        size_t len = is_str ? jx_utf8_count(obj.u.s.s, obj.u.s.n) : obj.u.l->n;
        int64_t i = key.u.i < 0 ? key.u.i + (int64_t)len : key.u.i;
        if (i >= 0 && (uint64_t)i < len) {
            if (!is_str) return obj.u.l->v[i];
            size_t a = jx_utf8_offset(obj.u.s.s, obj.u.s.n, (size_t)i), b = jx_utf8_offset(obj.u.s.s, obj.u.s.n, (size_t)i + 1);
            return jv_str(obj.u.s.s + a, b - a);
        }
    }
    return jv_undef(NULL);
}

/* An index of a slice, or dflt (and *given 0) when left out or none. */
static int64_t slice_part(jx_ctx *c, const jx_node *e, int64_t dflt, size_t pos, int *given) {
    *given = 0;
    if (!e) return dflt;
    jv v = jx_eval(c, e);
    if (v.t == JV_NONE || v.t == JV_UNDEF) return dflt;
    *given = 1;
    if (v.t != JV_INT && v.t != JV_BOOL) jx_fail(c, RT_ERR_FORMAT, pos, "slice indices must be integers");
    return v.u.i;
}

/* Python's slice of a list or string (by code point), negative steps included. */
static jv slice(jx_ctx *c, const jx_node *e) {
    jv obj = jx_eval(c, e->a);
    if (obj.t == JV_UNDEF) jx_undefined_error(c, obj, e->pos);
    if (obj.t != JV_LIST && obj.t != JV_STR) jx_fail(c, RT_ERR_FORMAT, e->pos, "'%s' object is not subscriptable", jv_type_name(obj));
    int64_t len = obj.t == JV_STR ? (int64_t)jx_utf8_count(obj.u.s.s, obj.u.s.n) : (int64_t)obj.u.l->n;
    int g_start, g_stop, g_step;
    int64_t step = slice_part(c, e->d, 1, e->pos, &g_step);
    if (step == 0) jx_fail(c, RT_ERR_FORMAT, e->pos, "slice step cannot be zero");
    int64_t lo = step < 0 ? -1 : 0, hi = step < 0 ? len - 1 : len;
    int64_t start = slice_part(c, e->b, step < 0 ? hi : lo, e->pos, &g_start);
    int64_t stop = slice_part(c, e->c, step < 0 ? lo : hi, e->pos, &g_stop);
    if (g_start && start < 0) start = start + len < lo ? lo : start + len;
    else if (start > hi) start = hi;
    if (g_stop && stop < 0) stop = stop + len < lo ? lo : stop + len;
    else if (stop > hi) stop = hi;
    jv out = jv_list_new(c, 8);
    jx_buf b = {0};
    jx_buf_put(c, &b, "", 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        jv item = jx_getitem(c, obj, jv_int(i), e->pos);
        if (obj.t == JV_STR) jx_buf_put(c, &b, item.u.s.s, item.u.s.n);
        else jv_list_push(c, &out, item);
    }
    if (obj.t == JV_STR) return jv_str(b.p, b.n);
    out.u.l->tuple = obj.u.l->tuple;
    return out;
}

jx_args jx_eval_args(jx_ctx *c, const jx_node *call, size_t first, jv *prepend) {
    jx_args a = {0};
    size_t n = call->n_kids - first + (prepend != NULL);
    a.pos = jx_alloc(c, (n + 1) * sizeof *a.pos);
    a.kw = jx_alloc(c, (n + 1) * sizeof *a.kw);
    a.kw_n = jx_alloc(c, (n + 1) * sizeof *a.kw_n);
    a.kw_v = jx_alloc(c, (n + 1) * sizeof *a.kw_v);
    if (prepend) a.pos[a.n_pos++] = *prepend;
    for (size_t i = first; i < call->n_kids; i++) {
        const jx_node *k = call->kids[i];
        if (k->k == JN_KWARG) {
            a.kw[a.n_kw] = k->s, a.kw_n[a.n_kw] = k->n, a.kw_v[a.n_kw++] = jx_eval(c, k->a);
        } else {
            if (a.n_kw) jx_fail(c, RT_ERR_FORMAT, k->pos, "positional argument follows keyword argument");
            a.pos[a.n_pos++] = jx_eval(c, k);
        }
    }
    return a;
}

static jv call(jx_ctx *c, const jx_node *e) {
    const jx_node *f = e->a;
    if (f->k == JN_ATTR) {
        jv self = jx_eval(c, f->a);
        if (self.t == JV_UNDEF) jx_undefined_error(c, self, f->pos);
        if (self.t == JV_STR || self.t == JV_DICT || self.t == JV_LIST) {
            jx_args a = jx_eval_args(c, e, 0, NULL);
            return jx_method(c, self, f->s, f->n, &a, f->pos);
        }
    }
    jv fn = jx_eval(c, f);
    jx_args a = jx_eval_args(c, e, 0, NULL);
    if (fn.t == JV_MACRO) return jx_call_macro(c, fn.u.m, &a, e->pos);
    if (fn.t == JV_FUNC) return jx_call_global(c, (int)fn.u.i, &a, e->pos);
    if (fn.t == JV_UNDEF) jx_undefined_error(c, fn, e->pos);
    jx_fail(c, RT_ERR_FORMAT, e->pos, "'%s' object is not callable", jv_type_name(fn));
}

static jv collection(jx_ctx *c, const jx_node *e) {
    if (e->k == JN_DICT) {
        jv d = jv_dict_new(c, e->n_kids / 2 + 1);
        for (size_t i = 0; i + 1 < e->n_kids; i += 2) jv_dict_set(c, &d, jx_eval(c, e->kids[i]), jx_eval(c, e->kids[i + 1]));
        return d;
    }
    jv l = jv_list_new(c, e->n_kids + 1);
    for (size_t i = 0; i < e->n_kids; i++) jv_list_push(c, &l, jx_eval(c, e->kids[i]));
    l.u.l->tuple = e->k == JN_TUPLE;
    return l;
}

jv jx_eval(jx_ctx *c, const jx_node *e) {
    jx_enter(c, e->pos);
    jv v;
    switch (e->k) {
    case JN_LIT: v = e->lit; break;
    case JN_NAME: v = jx_lookup(c, e->s, e->n); break;
    case JN_ATTR: v = jx_getattr(c, jx_eval(c, e->a), e->s, e->n, e->pos); break;
    case JN_ITEM: {
        jv obj = jx_eval(c, e->a);
        v = jx_getitem(c, obj, jx_eval(c, e->b), e->pos);
        break;
    }
    case JN_SLICE: v = slice(c, e); break;
    case JN_CALL: v = call(c, e); break;
    case JN_FILTER: {
        jv x = jx_eval(c, e->a);
        jx_args a = jx_eval_args(c, e, 0, NULL);
        v = jx_filter(c, e->s, e->n, x, &a, e->pos);
        break;
    }
    case JN_TEST: {
        jv x = jx_eval(c, e->a);
        jx_args a = jx_eval_args(c, e, 0, NULL);
        v = jv_bool(jx_test(c, e->s, e->n, x, &a, e->pos) != e->neg);
        break;
    }
    case JN_BIN: {
        jv a = jx_eval(c, e->a);
        v = jx_binop(c, e->s, a, jx_eval(c, e->b), e->pos);
        break;
    }
    case JN_NOT: v = jv_bool(!jv_truthy(jx_eval(c, e->a))); break;
    case JN_NEG: case JN_POS: {
        jv x = jx_eval(c, e->a);
        if (x.t == JV_BOOL) x.t = JV_INT;
        if (x.t != JV_INT && x.t != JV_FLOAT) jx_fail(c, RT_ERR_FORMAT, e->pos, "bad operand type for unary %c: '%s'", e->k == JN_NEG ? '-' : '+', jv_type_name(x));
        if (e->k == JN_NEG && x.t == JV_INT && x.u.i == INT64_MIN) jx_fail(c, RT_ERR_UNSUPPORTED, e->pos, "integer overflow");
        v = e->k == JN_POS ? x : x.t == JV_INT ? jv_int(-x.u.i) : jv_float(-x.u.f);
        break;
    }
    case JN_AND: v = jx_eval(c, e->a); if (jv_truthy(v)) v = jx_eval(c, e->b); break;
    case JN_OR: v = jx_eval(c, e->a); if (!jv_truthy(v)) v = jx_eval(c, e->b); break;
    case JN_COND:
        if (jv_truthy(jx_eval(c, e->a))) v = jx_eval(c, e->b);
        else v = e->c ? jx_eval(c, e->c) : jv_undef(NULL);
        break;
    case JN_LIST: case JN_TUPLE: case JN_DICT: v = collection(c, e); break;
    default: jx_fail(c, RT_ERR_FORMAT, e->pos, "not an expression");
    }
    jx_leave(c);
    return v;
}
