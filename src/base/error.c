/* error.c: thread-local error messages behind rt_status codes. */
#include "retrace/base.h"

#include <stdio.h>
#include <string.h>

#define RT_ERRMSG_BYTES 1024

static _Thread_local char g_errmsg[RT_ERRMSG_BYTES];

rt_status rt_fail(rt_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return code;
}

rt_status rt_fail_context(rt_status code, const char *fmt, ...) {
    char prefix[RT_ERRMSG_BYTES];
    char old[RT_ERRMSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_errmsg, sizeof old);
    /* Truncation is acceptable for an error message; copy piecewise so the compiler can see the bounds. */
    size_t n = strnlen(prefix, sizeof g_errmsg - 3);
    memcpy(g_errmsg, prefix, n);
    memcpy(g_errmsg + n, ": ", 2);
    size_t room = sizeof g_errmsg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(g_errmsg + n + 2, old, m);
    g_errmsg[n + 2 + m] = '\0';
    return code;
}

const char *rt_errmsg(void) { return g_errmsg[0] ? g_errmsg : "no error"; }

void rt_clear_error(void) { g_errmsg[0] = '\0'; }

const char *rt_status_name(rt_status s) {
    switch (s) {
    case RT_OK: return "ok";
    case RT_ERR_IO: return "I/O error";
    case RT_ERR_FORMAT: return "format error";
    case RT_ERR_ARG: return "invalid argument";
    case RT_ERR_NOMEM: return "out of memory";
    case RT_ERR_UNSUPPORTED: return "unsupported";
    case RT_ERR_SHAPE: return "shape mismatch";
    case RT_ERR_STATE: return "invalid state";
    case RT_ERR_NOT_FOUND: return "not found";
    }
    return "unknown error";
}
