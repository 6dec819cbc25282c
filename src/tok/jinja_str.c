/* jinja_str.c: Python's str methods that chat templates call (strip and its sides, startswith,
 * endswith, split, upper, lower, title, capitalize, replace, find, count, join), the dict methods
 * (items, keys, values, get) and the global functions (raise_exception, strftime_now, namespace,
 * range, dict). Case mapping is in jinja_case.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tok/jinja.h"

jv *jx_arg(const jx_args *a, size_t i, const char *kw) {
    if (i < a->n_pos) return &a->pos[i];
    for (size_t k = 0; kw && k < a->n_kw; k++)
        if (a->kw_n[k] == strlen(kw) && !memcmp(a->kw[k], kw, a->kw_n[k])) return &a->kw_v[k];
    return NULL;
}

static jv str_arg(jx_ctx *c, const jx_args *a, size_t i, const char *what, size_t pos) {
    jv *v = jx_arg(a, i, NULL);
    if (!v || v->t != JV_STR) jx_fail(c, RT_ERR_FORMAT, pos, "%s expects a string argument", what);
    return *v;
}

/* Length of the code point ending at s[e) (e > a). */
static size_t last_cp(const char *s, size_t a, size_t e) {
    size_t k = e - 1;
    while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return e - k;
}

static size_t cp_len(const char *s, size_t i, size_t e) {
    size_t k = i + 1;
    while (k < e && ((unsigned char)s[k] & 0xC0) == 0x80) k++;
    return k - i;
}

/* Is the code point s[i, i+l) stripped: in `chars`, or Python whitespace when chars is NULL? */
static int strippable(const char *s, size_t i, size_t l, const jv *chars) {
    if (chars) {
        for (size_t k = 0; k + l <= chars->u.s.n; k += cp_len(chars->u.s.s, k, chars->u.s.n))
            if (!memcmp(chars->u.s.s + k, s + i, l)) return 1;
        return 0;
    }
    int32_t cp;
    if (!rt_tok_utf8_valid_len((const unsigned char *)s + i, l)) return 0;
    rt_tok_utf8_decode((const unsigned char *)s + i, &cp);
    return jx_py_space(cp);
}

jv jx_strip(jv s, const jv *chars, int left, int right) {
    size_t a = 0, e = s.u.s.n;
    const char *p = s.u.s.s;
    while (left && a < e && strippable(p, a, cp_len(p, a, e), chars)) a += cp_len(p, a, e);
    while (right && e > a && strippable(p, e - last_cp(p, a, e), last_cp(p, a, e), chars)) e -= last_cp(p, a, e);
    return jv_str(p + a, e - a);
}

jv jx_replace(jx_ctx *c, jv s, jv old, jv new, int64_t count) {
    jx_buf b = {0};
    jx_buf_put(c, &b, "", 0);
    size_t i = 0;
    for (int64_t done = 0; i <= s.u.s.n && (count < 0 || done < count); done++) {
        size_t hit = i;
        if (old.u.s.n) {
            while (hit + old.u.s.n <= s.u.s.n && memcmp(s.u.s.s + hit, old.u.s.s, old.u.s.n)) hit++;
            if (hit + old.u.s.n > s.u.s.n) break;
        }
        jx_buf_put(c, &b, s.u.s.s + i, hit - i);
        jx_buf_put(c, &b, new.u.s.s, new.u.s.n);
        if (!old.u.s.n) { /* Python inserts `new` between code points */
            if (hit >= s.u.s.n) { i = s.u.s.n + 1; break; }
            size_t l = cp_len(s.u.s.s, hit, s.u.s.n);
            jx_buf_put(c, &b, s.u.s.s + hit, l);
            i = hit + l;
        } else {
            i = hit + old.u.s.n;
        }
    }
    if (i < s.u.s.n) jx_buf_put(c, &b, s.u.s.s + i, s.u.s.n - i);
    return jv_str(b.p, b.n);
}

static jv split(jx_ctx *c, jv s, const jv *sep, int64_t maxsplit, size_t pos) {
    jv out = jv_list_new(c, 8);
    const char *p = s.u.s.s;
    size_t n = s.u.s.n, i = 0;
    if (sep && sep->t == JV_STR) {
        if (!sep->u.s.n) jx_fail(c, RT_ERR_FORMAT, pos, "split: empty separator");
        size_t start = 0;
        for (int64_t done = 0; maxsplit < 0 || done < maxsplit; done++) {
            size_t hit = start;
            while (hit + sep->u.s.n <= n && memcmp(p + hit, sep->u.s.s, sep->u.s.n)) hit++;
            if (hit + sep->u.s.n > n) break;
            jv_list_push(c, &out, jv_str(p + start, hit - start));
            start = hit + sep->u.s.n;
        }
        jv_list_push(c, &out, jv_str(p + start, n - start));
        return out;
    }
    for (int64_t done = 0;; done++) { /* runs of whitespace, none at the ends */
        while (i < n && strippable(p, i, cp_len(p, i, n), NULL)) i += cp_len(p, i, n);
        if (i >= n) break;
        if (maxsplit >= 0 && done >= maxsplit) {
            jv rest = jx_strip(jv_str(p + i, n - i), NULL, 0, 1);
            jv_list_push(c, &out, rest);
            break;
        }
        size_t a = i;
        while (i < n && !strippable(p, i, cp_len(p, i, n), NULL)) i += cp_len(p, i, n);
        jv_list_push(c, &out, jv_str(p + a, i - a));
    }
    return out;
}

static int affix(jx_ctx *c, jv s, jv x, int end, size_t pos) {
    if (x.t == JV_LIST) {
        for (size_t i = 0; i < x.u.l->n; i++)
            if (affix(c, s, x.u.l->v[i], end, pos)) return 1;
        return 0;
    }
    if (x.t != JV_STR) jx_fail(c, RT_ERR_FORMAT, pos, "startswith/endswith expects a string or a tuple");
    if (x.u.s.n > s.u.s.n) return 0;
    return !memcmp(s.u.s.s + (end ? s.u.s.n - x.u.s.n : 0), x.u.s.s, x.u.s.n);
}

#define IS(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))

static jv str_method(jx_ctx *c, jv s, const char *name, size_t n, const jx_args *a, size_t pos) {
    jv *x = jx_arg(a, 0, NULL);
    const jv *chars = x && x->t == JV_STR ? x : NULL;
    if (IS("strip")) return jx_strip(s, chars, 1, 1);
    if (IS("lstrip")) return jx_strip(s, chars, 1, 0);
    if (IS("rstrip")) return jx_strip(s, chars, 0, 1);
    if (IS("upper")) return jx_case(c, s, 'u');
    if (IS("lower")) return jx_case(c, s, 'l');
    if (IS("title")) return jx_case(c, s, 't');
    if (IS("capitalize")) return jx_case(c, s, 'c');
    if (IS("startswith") || IS("endswith")) {
        if (!x) jx_fail(c, RT_ERR_FORMAT, pos, "%.*s expects an argument", (int)n, name);
        return jv_bool(affix(c, s, *x, IS("endswith"), pos));
    }
    if (IS("split")) {
        jv *m = jx_arg(a, 1, "maxsplit"), *sep = jx_arg(a, 0, "sep");
        return split(c, s, sep, m && m->t == JV_INT ? m->u.i : -1, pos);
    }
    if (IS("replace")) {
        jv *cnt = jx_arg(a, 2, "count");
        return jx_replace(c, s, str_arg(c, a, 0, "replace", pos), str_arg(c, a, 1, "replace", pos),
                          cnt && cnt->t == JV_INT ? cnt->u.i : -1);
    }
    if (IS("find") || IS("count")) {
        jv sub = str_arg(c, a, 0, "find", pos);
        int64_t hits = 0;
        for (size_t i = 0; i + sub.u.s.n <= s.u.s.n; i++)
            if (!memcmp(s.u.s.s + i, sub.u.s.s, sub.u.s.n)) {
                if (IS("find")) return jv_int((int64_t)jx_utf8_count(s.u.s.s, i));
                hits++;
                if (sub.u.s.n) i += sub.u.s.n - 1;
            }
        return jv_int(IS("find") ? -1 : hits);
    }
    if (IS("join")) {
        if (!x || x->t != JV_LIST) jx_fail(c, RT_ERR_FORMAT, pos, "join expects a list");
        jx_buf b = {0};
        jx_buf_put(c, &b, "", 0);
        for (size_t i = 0; i < x->u.l->n; i++) {
            if (i) jx_buf_put(c, &b, s.u.s.s, s.u.s.n);
            jv_to_str(c, x->u.l->v[i], &b);
        }
        return jv_str(b.p, b.n);
    }
    jx_fail(c, RT_ERR_UNSUPPORTED, pos, "unsupported string method '%.*s'", (int)n, name);
}

jv jx_method(jx_ctx *c, jv self, const char *name, size_t n, const jx_args *a, size_t pos) {
    if (self.t == JV_STR) return str_method(c, self, name, n, a, pos);
    if (self.t == JV_DICT && (IS("items") || IS("keys") || IS("values"))) {
        jv out = jv_list_new(c, self.u.d->n + 1);
        for (size_t i = 0; i < self.u.d->n; i++) {
            jv item = IS("keys") ? self.u.d->k[i] : self.u.d->v[i];
            if (IS("items")) {
                item = jv_list_new(c, 2);
                item.u.l->tuple = 1;
                jv_list_push(c, &item, self.u.d->k[i]);
                jv_list_push(c, &item, self.u.d->v[i]);
            }
            jv_list_push(c, &out, item);
        }
        return out;
    }
    if (self.t == JV_DICT && IS("get")) {
        jv *k = jx_arg(a, 0, NULL), *d = jx_arg(a, 1, "default");
        if (!k) jx_fail(c, RT_ERR_FORMAT, pos, "get expects a key");
        for (size_t i = 0; i < self.u.d->n; i++)
            if (jv_equal(self.u.d->k[i], *k)) return self.u.d->v[i];
        return d ? *d : jv_none();
    }
    jx_fail(c, RT_ERR_UNSUPPORTED, pos, "unsupported method '%.*s' of a %s", (int)n, name, jv_type_name(self));
}

static const char *const GLOBALS[] = {"raise_exception", "strftime_now", "namespace", "range", "dict"};

int jx_global_index(const char *name, size_t n) {
    for (int i = 0; i < (int)(sizeof GLOBALS / sizeof *GLOBALS); i++)
        if (strlen(GLOBALS[i]) == n && !memcmp(GLOBALS[i], name, n)) return i;
    return -1;
}

jv jx_call_global(jx_ctx *c, int fn, const jx_args *a, size_t pos) {
    jv *x = jx_arg(a, 0, NULL);
    if (fn == 0) {
        jv msg = x ? jv_stringify(c, *x) : jv_cstr("");
        jx_fail(c, RT_ERR_ARG, pos, "the chat template raised: %.*s", (int)msg.u.s.n, msg.u.s.s);
    }
    if (fn == 1) {
        jv f = str_arg(c, a, 0, "strftime_now", pos);
        char fmt[256], out[512];
        snprintf(fmt, sizeof fmt, "%.*s", (int)f.u.s.n, f.u.s.s);
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t len = strftime(out, sizeof out, fmt, &tm);
        return jv_str_copy(c, out, len);
    }
    if (fn == 2 || fn == 4) {
        jv d = jv_dict_new(c, a->n_kw + 1);
        d.u.d->ns = fn == 2;
        for (size_t k = 0; k < a->n_kw; k++) jv_dict_set(c, &d, jv_str(a->kw[k], a->kw_n[k]), a->kw_v[k]);
        return d;
    }
    int64_t lim[3] = {0, 0, 1};
    for (size_t i = 0; i < a->n_pos && i < 3; i++) {
        if (a->pos[i].t != JV_INT) jx_fail(c, RT_ERR_FORMAT, pos, "range expects integers");
        lim[i] = a->pos[i].u.i;
    }
    if (a->n_pos == 1) lim[1] = lim[0], lim[0] = 0;
    if (lim[2] == 0) jx_fail(c, RT_ERR_FORMAT, pos, "range step cannot be zero");
    jv out = jv_list_new(c, 8);
    for (int64_t i = lim[0]; lim[2] > 0 ? i < lim[1] : i > lim[1]; i += lim[2]) {
        jx_step(c, pos);
        jv_list_push(c, &out, jv_int(i));
    }
    return out;
}
