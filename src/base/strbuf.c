/* strbuf.c: a growable NUL-terminated string for building prompts, keys and generated text. */
#include <stdarg.h>
#include <string.h>

#include "retrace/base.h"

static void reserve(rt_strbuf *s, size_t extra) {
    if (s->len + extra + 1 <= s->cap) return;
    s->cap = (s->len + extra + 1) * 2;
    s->buf = rt_realloc(s->buf, s->cap);
}

void rt_strbuf_add(rt_strbuf *s, const char *text) {
    size_t n = strlen(text);
    reserve(s, n);
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

void rt_strbuf_addf(rt_strbuf *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        reserve(s, 0);
        s->buf[s->len] = '\0';
        return;
    }
    reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}
