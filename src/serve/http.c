/* http.c: replies (JSON, text, OpenAI-style errors) and the request-body readers that name the JSON
 * path of whatever is wrong. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

void rt_reply_text(rt_reply *out, int status, const char *content_type, char *text) {
    free(out->body);
    out->status = status, out->body = text, out->len = strlen(text), out->content_type = content_type;
}

void rt_reply_json(rt_reply *out, int status, json_t *o) {
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!text) text = rt_strdup("{\"error\":{\"message\":\"the reply could not be encoded\",\"type\":\"server_error\",\"code\":500}}"), status = 500;
    rt_reply_text(out, status, "application/json", text);
}

static const char *error_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 413: return "request_too_large";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

void rt_reply_error(rt_reply *out, int status, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message quoting client bytes may hold invalid UTF-8; jansson refuses such strings. */
    json_t *m = json_string(msg);
    if (!m) m = json_string("(the message held invalid UTF-8)");
    rt_reply_json(out, status, json_pack("{s:{s:o, s:s, s:i}}", "error", "message", m, "type", error_type(status), "code", status));
}

void rt_reply_status(rt_reply *out, rt_status s) {
    int code = s == RT_ERR_NOT_FOUND ? 404 : (s == RT_ERR_ARG || s == RT_ERR_FORMAT || s == RT_ERR_SHAPE) ? 400 : 500;
    rt_reply_error(out, code, "%s", rt_errmsg());
}

json_t *rt_body_object(const rt_req *r, rt_reply *out) {
    if (r->len == 0) return rt_reply_error(out, 400, "$: the request needs a JSON body"), NULL;
    json_error_t e;
    json_t *o = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e);
    if (!o) return rt_reply_error(out, 400, "$: invalid JSON at line %d column %d (byte %d): %s", e.line, e.column, e.position, e.text), NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return rt_reply_error(out, 400, "$: expected a JSON object"), NULL;
    }
    return o;
}

int rt_field_int(json_t *o, const char *path, const char *key, long long lo, long long hi, long long *v, rt_reply *out) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    /* 3.0 is an integer to a JSON client; 3.5 is not. */
    double d = json_is_real(x) ? json_real_value(x) : 0;
    if (json_is_integer(x) || (json_is_real(x) && d == (double)(long long)d && d >= -9e18 && d <= 9e18)) {
        long long n = json_is_integer(x) ? (long long)json_integer_value(x) : (long long)d;
        if (n >= lo && n <= hi) return *v = n, 0;
    }
    rt_reply_error(out, 400, "%s.%s: expected an integer in %lld..%lld", path, key, lo, hi);
    return -1;
}

int rt_field_num(json_t *o, const char *path, const char *key, double lo, double hi, double *v, rt_reply *out) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (json_is_number(x) && json_number_value(x) >= lo && json_number_value(x) <= hi) return *v = json_number_value(x), 0;
    rt_reply_error(out, 400, "%s.%s: expected a number in %g..%g", path, key, lo, hi);
    return -1;
}

int rt_field_bool(json_t *o, const char *path, const char *key, int *v, rt_reply *out) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (json_is_boolean(x)) return *v = json_is_true(x), 0;
    rt_reply_error(out, 400, "%s.%s: expected true or false", path, key);
    return -1;
}

int rt_field_str(json_t *o, const char *path, const char *key, const char **v, rt_reply *out) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (json_is_string(x) && strlen(json_string_value(x)) == json_string_length(x)) return *v = json_string_value(x), 0;
    rt_reply_error(out, 400, "%s.%s: expected a string (without NUL characters)", path, key);
    return -1;
}

int rt_fields_known(json_t *o, const char *path, const char *const *keys, rt_reply *out) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int known = 0;
        for (const char *const *p = keys; *p && !known; p++) known = strcmp(*p, k) == 0;
        if (!known) {
            rt_reply_error(out, 400, "%s.%s: unknown field", path, k);
            return -1;
        }
    }
    return 0;
}
