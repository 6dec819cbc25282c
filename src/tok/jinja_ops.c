/* jinja_ops.c: Python's binary operators on Jinja values: + - * / // % ** (ints are 64-bit here and
 * overflow is an error, not a bignum), `~` (string concatenation of str() of both sides), comparisons
 * (numbers, strings by code point, lists lexicographically) and `in` / `not in`. */
#include <math.h>
#include <string.h>

#include "tok/jinja.h"

static int is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double as_f(jv v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }

void jx_undefined_error(jx_ctx *c, jv u, size_t pos) {
    if (u.u.s.n) jx_fail(c, RT_ERR_FORMAT, pos, "'%.*s' is undefined", (int)u.u.s.n, u.u.s.s);
    jx_fail(c, RT_ERR_FORMAT, pos, "an undefined value is used");
}

static _Noreturn void type_error(jx_ctx *c, const char *op, jv a, jv b, size_t pos) {
    if (a.t == JV_UNDEF || b.t == JV_UNDEF) jx_undefined_error(c, a.t == JV_UNDEF ? a : b, pos);
    jx_fail(c, RT_ERR_FORMAT, pos, "unsupported operand types for %s: '%s' and '%s'", op, jv_type_name(a),
            jv_type_name(b));
}

static jv concat(jx_ctx *c, jv a, jv b) {
    jx_buf s = {0};
    jx_buf_put(c, &s, "", 0);
    jv_to_str(c, a, &s);
    jv_to_str(c, b, &s);
    return jv_str(s.p, s.n);
}

static jv repeat(jx_ctx *c, jv seq, int64_t times, size_t pos) {
    if (times < 0) times = 0;
    size_t unit = seq.t == JV_STR ? seq.u.s.n : seq.u.l->n * sizeof(jv);
    if (unit && (uint64_t)times > JX_MAX_ARENA / unit) jx_fail(c, RT_ERR_UNSUPPORTED, pos, "repetition too large");
    if (seq.t == JV_STR) {
        jx_buf s = {0};
        jx_buf_put(c, &s, "", 0);
        for (int64_t i = 0; i < times; i++) jx_buf_put(c, &s, seq.u.s.s, seq.u.s.n);
        return jv_str(s.p, s.n);
    }
    jv l = jv_list_new(c, seq.u.l->n * (size_t)times + 1);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq.u.l->n; k++) jv_list_push(c, &l, seq.u.l->v[k]);
    return l;
}

static jv arith(jx_ctx *c, char op, jv a, jv b, size_t pos) {
    if (op == '+' && a.t == b.t && a.t == JV_STR) return concat(c, a, b);
    if (op == '+' && a.t == b.t && a.t == JV_LIST) {
        jv l = jv_list_new(c, a.u.l->n + b.u.l->n + 1);
        for (size_t i = 0; i < a.u.l->n; i++) jv_list_push(c, &l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) jv_list_push(c, &l, b.u.l->v[i]);
        l.u.l->tuple = a.u.l->tuple;
        return l;
    }
    if (op == '*' && (a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL)) return repeat(c, a, b.u.i, pos);
    if (op == '*' && (b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL)) return repeat(c, b, a.u.i, pos);
    const char *name = op == 'f' ? "//" : op == '^' ? "**" : op == '+' ? "+" : op == '-' ? "-" : op == '*' ? "*" : op == '/' ? "/" : "%";
    if (!is_num(a) || !is_num(b)) type_error(c, name, a, b, pos);
    if (a.t != JV_FLOAT && b.t != JV_FLOAT && op != '/') {
        int64_t x = a.u.i, y = b.u.i, r = 0;
        int ovf = 0;
        switch (op) {
        case '+': ovf = __builtin_add_overflow(x, y, &r); break;
        case '-': ovf = __builtin_sub_overflow(x, y, &r); break;
        case '*': ovf = __builtin_mul_overflow(x, y, &r); break;
        case 'f': case '%':
            if (y == 0) jx_fail(c, RT_ERR_FORMAT, pos, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) ovf = 1;
            else if (op == 'f') r = x / y - ((x % y != 0) && ((x < 0) != (y < 0)));
            else r = x % y, r += (r != 0 && ((r < 0) != (y < 0))) ? y : 0;
            break;
        case '^':
            if (y < 0) return jv_float(pow((double)x, (double)y));
            r = 1; /* by squaring: y may be huge when x is 0, 1 or -1 */
            for (int64_t base = x; y && !ovf; y >>= 1) {
                if (y & 1) ovf = __builtin_mul_overflow(r, base, &r);
                if ((y >> 1) && !ovf) ovf = __builtin_mul_overflow(base, base, &base);
            }
            break;
        }
        if (ovf) jx_fail(c, RT_ERR_UNSUPPORTED, pos, "integer overflow beyond 64 bits");
        return jv_int(r);
    }
    double x = as_f(a), y = as_f(b);
    switch (op) {
    case '+': return jv_float(x + y);
    case '-': return jv_float(x - y);
    case '*': return jv_float(x * y);
    case '^': return jv_float(pow(x, y));
    default:
        if (y == 0) jx_fail(c, RT_ERR_FORMAT, pos, "division by zero");
        if (op == '/') return jv_float(x / y);
        if (op == 'f') return jv_float(floor(x / y));
        double m = fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return jv_float(m);
    }
}

/* -1, 0, 1 for a < b, a == b, a > b, where Python can order them. */
static int order(jx_ctx *c, const char *op, jv a, jv b, size_t pos) {
    if (is_num(a) && is_num(b)) {
        if (a.t != JV_FLOAT && b.t != JV_FLOAT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
        return (as_f(a) > as_f(b)) - (as_f(a) < as_f(b));
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = memcmp(a.u.s.s, b.u.s.s, n);
        return r ? (r > 0) - (r < 0) : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    }
    if (a.t == JV_LIST && b.t == JV_LIST) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i])) return order(c, op, a.u.l->v[i], b.u.l->v[i], pos);
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    jx_fail(c, RT_ERR_FORMAT, pos, "'%s' not supported between instances of '%s' and '%s'", op, jv_type_name(a), jv_type_name(b));
}

static int contains(jx_ctx *c, jv item, jv in, size_t pos) {
    if (in.t == JV_STR) {
        if (item.t != JV_STR) jx_fail(c, RT_ERR_FORMAT, pos, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
        if (!item.u.s.n) return 1;
        for (size_t i = 0; i + item.u.s.n <= in.u.s.n; i++)
            if (!memcmp(in.u.s.s + i, item.u.s.s, item.u.s.n)) return 1;
        return 0;
    }
    if (in.t == JV_LIST) {
        for (size_t i = 0; i < in.u.l->n; i++)
            if (jv_equal(in.u.l->v[i], item)) return 1;
        return 0;
    }
    if (in.t == JV_DICT) {
        for (size_t i = 0; i < in.u.d->n; i++)
            if (jv_equal(in.u.d->k[i], item)) return 1;
        return 0;
    }
    if (in.t == JV_UNDEF) return 0;
    jx_fail(c, RT_ERR_FORMAT, pos, "argument of type '%s' is not iterable", jv_type_name(in));
}

jv jx_binop(jx_ctx *c, const char *op, jv a, jv b, size_t pos) {
    if (!strcmp(op, "==")) return jv_bool(jv_equal(a, b));
    if (!strcmp(op, "!=")) return jv_bool(!jv_equal(a, b));
    if (!strcmp(op, "<")) return jv_bool(order(c, op, a, b, pos) < 0);
    if (!strcmp(op, "<=")) return jv_bool(order(c, op, a, b, pos) <= 0);
    if (!strcmp(op, ">")) return jv_bool(order(c, op, a, b, pos) > 0);
    if (!strcmp(op, ">=")) return jv_bool(order(c, op, a, b, pos) >= 0);
    if (!strcmp(op, "in")) return jv_bool(contains(c, a, b, pos));
    if (!strcmp(op, "not in")) return jv_bool(!contains(c, a, b, pos));
    if (!strcmp(op, "~")) return concat(c, a, b);
    char k = !strcmp(op, "//") ? 'f' : !strcmp(op, "**") ? '^' : op[0];
    return arith(c, k, a, b, pos);
}
