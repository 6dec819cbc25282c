/* jinja_lex.c: template text to tokens, with Jinja's whitespace control as transformers sets it up:
 * `{%-` / `-%}` strip all whitespace on their side; trim_blocks drops the first newline after a block
 * or comment tag; lstrip_blocks drops spaces and tabs from the start of a line up to a block or comment
 * tag (`{%+` keeps them); the source's newlines are normalized to \n and one trailing newline is
 * dropped (keep_trailing_newline=False). String literals decode Python escapes. */
#include <stdlib.h>
#include <string.h>

#include "tok/jinja.h"

typedef struct {
    jx_ctx *c;
    const char *s;
    size_t n, i;
    jx_tok *v;
    size_t len, cap;
} lexer;

static void push(lexer *L, jt_type t, const char *s, size_t n, size_t pos) {
    if (L->len == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 64;
        jx_tok *nv = jx_alloc(L->c, cap * sizeof *nv);
        if (L->len) memcpy(nv, L->v, L->len * sizeof *nv);
        L->v = nv;
        L->cap = cap;
    }
    L->v[L->len++] = (jx_tok){.t = t, .s = s, .n = n, .pos = pos};
}

/* Length of the Python whitespace char at s[i], or 0. */
static size_t space_at(const char *s, size_t n, size_t i) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x80) return (ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1C && ch <= 0x1F)) ? 1 : 0;
    size_t l = rt_tok_utf8_valid_len((const unsigned char *)s + i, n - i);
    int32_t cp;
    if (!l) return 0;
    rt_tok_utf8_decode((const unsigned char *)s + i, &cp);
    return jx_py_space(cp) ? l : 0;
}

static size_t skip_space(const char *s, size_t n, size_t i) {
    size_t l;
    while (i < n && (l = space_at(s, n, i))) i += l;
    return i;
}

/* End of s[a, e) with trailing Python whitespace removed. */
static size_t rstrip_end(const char *s, size_t a, size_t e) {
    while (e > a) {
        size_t k = e - 1;
        while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (space_at(s, e, k) != e - k) break;
        e = k;
    }
    return e;
}

/* Applies the strip rules to the text s[a, e) that precedes a tag of `kind` ('{', '%', '#') whose
 * sign is `sign`, and pushes it. */
static void emit_text(lexer *L, size_t a, size_t e, char kind, char sign, int line_starting) {
    if (sign == '-') {
        e = rstrip_end(L->s, a, e);
    } else if (sign != '+' && kind != '{') {
        size_t l = e;
        while (l > a && L->s[l - 1] != '\n') l--;
        if ((l > a || line_starting) && l < e && skip_space(L->s, e, l) == e) e = l;
    }
    if (e > a) push(L, JT_TEXT, L->s + a, e - a, a);
}

static int hexval(char ch) {
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* A quoted literal at L->i: decoded into the arena (Python's unicode-escape rules). */
static void lex_string(lexer *L) {
    size_t start = L->i, i = start + 1;
    char q = L->s[start];
    jx_buf b = {0};
    jx_buf_put(L->c, &b, "", 0);
    for (;;) {
        if (i >= L->n) jx_fail(L->c, RT_ERR_FORMAT, start, "unterminated string literal");
        char ch = L->s[i];
        if (ch == q) break;
        if (ch != '\\' || i + 1 >= L->n) {
            jx_buf_put(L->c, &b, &ch, 1);
            i++;
            continue;
        }
        char e = L->s[i + 1];
        const char *simple = strchr("\\'\"abfnrtv\n", e);
        if (simple && e) {
            static const char map[] = "\\'\"\a\b\f\n\r\t\v";
            if (e != '\n') jx_buf_put(L->c, &b, &map[simple - "\\'\"abfnrtv\n"], 1);
            i += 2;
        } else if (e >= '0' && e <= '7') {
            int v = 0, k = 1;
            for (; k <= 3 && i + k < L->n && L->s[i + k] >= '0' && L->s[i + k] <= '7'; k++) v = v * 8 + L->s[i + k] - '0';
            char out[4];
            jx_buf_put(L->c, &b, out, rt_tok_utf8_encode(v, out));
            i += (size_t)k;
        } else if (e == 'x' || e == 'u' || e == 'U') {
            int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            int32_t v = 0;
            for (int k = 0; k < len; k++) {
                int h = i + 2 + (size_t)k < L->n ? hexval(L->s[i + 2 + k]) : -1;
                if (h < 0) jx_fail(L->c, RT_ERR_FORMAT, i, "truncated \\%c escape in a string literal", e);
                v = v * 16 + h;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                jx_fail(L->c, RT_ERR_FORMAT, i, "escape \\%c names no Unicode scalar value", e);
            char out[4];
            jx_buf_put(L->c, &b, out, rt_tok_utf8_encode(v, out));
            i += 2 + (size_t)len;
        } else {
            jx_buf_put(L->c, &b, L->s + i, 2); /* unknown escapes stay as written */
            i += 2;
        }
    }
    push(L, JT_STRING, b.p, b.n, start);
    L->i = i + 1;
}

static void lex_number(lexer *L) {
    size_t a = L->i, i = a;
    int is_float = 0;
    while (i < L->n && ((L->s[i] >= '0' && L->s[i] <= '9') || L->s[i] == '_')) i++;
    if (i + 1 < L->n && L->s[i] == '.' && L->s[i + 1] >= '0' && L->s[i + 1] <= '9') {
        is_float = 1;
        for (i++; i < L->n && L->s[i] >= '0' && L->s[i] <= '9'; i++) {}
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t k = i + 1;
        if (k < L->n && (L->s[k] == '+' || L->s[k] == '-')) k++;
        if (k < L->n && L->s[k] >= '0' && L->s[k] <= '9') {
            is_float = 1;
            for (i = k; i < L->n && L->s[i] >= '0' && L->s[i] <= '9'; i++) {}
        }
    }
    char tmp[64];
    size_t m = 0;
    for (size_t k = a; k < i && m + 1 < sizeof tmp; k++)
        if (L->s[k] != '_') tmp[m++] = L->s[k];
    tmp[m] = '\0';
    if (i - a >= sizeof tmp) jx_fail(L->c, RT_ERR_FORMAT, a, "number literal too long");
    push(L, is_float ? JT_FLOAT : JT_INT, L->s + a, i - a, a);
    if (is_float) L->v[L->len - 1].f = strtod(tmp, NULL);
    else {
        char *end;
        unsigned long long v = strtoull(tmp, &end, 10);
        if (v > INT64_MAX) jx_fail(L->c, RT_ERR_UNSUPPORTED, a, "integer literal beyond 64 bits");
        L->v[L->len - 1].i = (int64_t)v;
    }
    L->i = i;
}

/* Tokens of one {{ }} or {% %} tag up to its end; returns the position after the end marker and
 * sets *sign to the end's '-' or '+' (0 when none). */
static size_t lex_tag(lexer *L, char kind, char *sign) {
    const char *close = kind == '{' ? "}}" : "%}";
    int depth = 0;
    for (;;) {
        L->i = skip_space(L->s, L->n, L->i);
        if (L->i >= L->n) jx_fail(L->c, RT_ERR_FORMAT, L->i, "unexpected end of template inside a tag");
        const char *p = L->s + L->i;
        size_t left = L->n - L->i;
        if (depth == 0) {
            if (left >= 2 && !memcmp(p, close, 2)) return *sign = 0, L->i + 2;
            if (left >= 3 && (p[0] == '-' || p[0] == '+') && !memcmp(p + 1, close, 2)) return *sign = p[0], L->i + 3;
        }
        char ch = *p;
        if (ch == '\'' || ch == '"') {
            lex_string(L);
        } else if (ch >= '0' && ch <= '9') {
            lex_number(L);
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
            size_t k = 1;
            while (k < left && ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z') || p[k] == '_' ||
                                (p[k] >= '0' && p[k] <= '9')))
                k++;
            push(L, JT_NAME, p, k, L->i);
            L->i += k;
        } else {
            static const char *const two[] = {"**", "//", "==", "!=", "<=", ">="};
            size_t k = 0;
            for (size_t t = 0; t < sizeof two / sizeof *two; t++)
                if (left >= 2 && !memcmp(p, two[t], 2)) k = 2;
            if (!k && strchr("+-*/%~<>=()[]{},.:|", ch) && ch) k = 1;
            if (!k) jx_fail(L->c, RT_ERR_FORMAT, L->i, "unexpected character '%c' in a tag", ch);
            if (k == 1 && (ch == '(' || ch == '[' || ch == '{')) depth++;
            if (k == 1 && (ch == ')' || ch == ']' || ch == '}')) {
                if (depth == 0) jx_fail(L->c, RT_ERR_FORMAT, L->i, "unexpected '%c'", ch);
                depth--;
            }
            push(L, JT_OP, p, k, L->i);
            L->i += k;
        }
    }
}

/* Where the text after a tag starts, given the tag's end sign and whether trim_blocks applies. */
static size_t after_tag(lexer *L, size_t i, char sign, int trim) {
    if (sign == '-') return skip_space(L->s, L->n, i);
    if (sign != '+' && trim && i < L->n && L->s[i] == '\n') return i + 1;
    return i;
}

void jx_lex(jx_ctx *c, const char *src, size_t n, jx_tok **out, size_t *n_out) {
    lexer L = {.c = c, .s = src, .n = n};
    int line_starting = 1;
    while (L.i < n) {
        size_t t = L.i;
        while (t + 1 < n && !(src[t] == '{' && (src[t + 1] == '{' || src[t + 1] == '%' || src[t + 1] == '#'))) t++;
        if (t + 1 >= n) {
            push(&L, JT_TEXT, src + L.i, n - L.i, L.i);
            break;
        }
        char kind = src[t + 1], sign = t + 2 < n && (src[t + 2] == '-' || src[t + 2] == '+') ? src[t + 2] : 0;
        emit_text(&L, L.i, t, kind, sign, line_starting);
        size_t body = t + 2 + (sign != 0), end;
        char esign = 0;
        if (kind == '#') {
            const char *e = NULL;
            for (size_t k = body; k + 1 < n && !e; k++)
                if (src[k] == '#' && src[k + 1] == '}') e = src + k;
            if (!e) jx_fail(c, RT_ERR_FORMAT, t, "unterminated comment");
            size_t k = (size_t)(e - src);
            if (k > body && (src[k - 1] == '-' || src[k - 1] == '+')) esign = src[k - 1];
            end = k + 2;
        } else {
            push(&L, kind == '{' ? JT_VAR : JT_BLOCK, src + t, 2, t);
            L.i = body;
            end = lex_tag(&L, kind, &esign);
            push(&L, JT_END, src + end - 2, 2, end - 2);
        }
        L.i = after_tag(&L, end, esign, kind != '{');
        line_starting = L.i > end && src[L.i - 1] == '\n';
    }
    push(&L, JT_EOF, src + n, 0, n);
    *out = L.v;
    *n_out = L.len;
}
