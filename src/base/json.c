/* json.c: loading, saving and typed access to JSON objects, with errors that name file and key. */
#include "retrace/base.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rt_status rt_json_load(const char *path, json_t **out) {
    json_error_t err;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!*out) {
        if (!rt_path_exists(path)) return rt_fail(RT_ERR_IO, "%s: no such file", path);
        return rt_fail(RT_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
    }
    return RT_OK;
}

/* The fewest significant digits (1..17) that print x so that it reads back as x; at least the digits of
 * its integer part, so that 500000.0 stays 500000.0 rather than 5e+05. */
static int real_digits(double x) {
    char buf[40];
    int p = 1;
    for (double a = fabs(x); a >= 10.0 && p < 17; a /= 10.0) p++;
    for (; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return p;
    }
    return 17;
}

/* The most digits any real in v needs (jansson prints all reals of a dump with one precision). */
static int max_real_digits(const json_t *v) {
    int most = 1;
    if (json_is_real(v)) return real_digits(json_real_value(v));
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = max_real_digits(json_array_get(v, i));
            most = d > most ? d : most;
        }
    if (json_is_object(v))
        for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            int d = max_real_digits(json_object_iter_value(it));
            most = d > most ? d : most;
        }
    return most;
}

json_t *rt_json_float(float x) {
    char buf[40];
    for (int p = 1; p < 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)x);
        if ((float)strtod(buf, NULL) == x) return json_real(strtod(buf, NULL));
    }
    return json_real((double)x);
}

rt_status rt_json_save(const char *path, const json_t *root) {
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(max_real_digits(root)));
    if (!text) return rt_fail(RT_ERR_NOMEM, "%s: cannot serialise JSON", path);
    size_t n = strlen(text);
    char *buf = rt_malloc(n + 2);
    memcpy(buf, text, n);
    buf[n] = '\n';
    free(text);
    rt_status s = rt_file_write_atomic(path, buf, n + 1);
    free(buf);
    return s;
}

static rt_status get(const json_t *obj, const char *key, const char *file, json_t **v) {
    *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!*v) return rt_fail(RT_ERR_FORMAT, "%s: missing key '%s'", file ? file : "JSON", key);
    return RT_OK;
}

rt_status rt_json_get_int(const json_t *obj, const char *key, const char *file, int64_t *out) {
    json_t *v;
    RT_TRY(get(obj, key, file, &v));
    if (json_is_integer(v)) *out = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v)) *out = (int64_t)json_real_value(v);
    else return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be an integer", file ? file : "JSON", key);
    return RT_OK;
}

rt_status rt_json_get_number(const json_t *obj, const char *key, const char *file, double *out) {
    json_t *v;
    RT_TRY(get(obj, key, file, &v));
    if (!json_is_number(v)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a number", file ? file : "JSON", key);
    *out = json_number_value(v);
    return RT_OK;
}

rt_status rt_json_get_string(const json_t *obj, const char *key, const char *file, const char **out) {
    json_t *v;
    RT_TRY(get(obj, key, file, &v));
    if (!json_is_string(v)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a string", file ? file : "JSON", key);
    *out = json_string_value(v);
    return RT_OK;
}

rt_status rt_json_get_bool(const json_t *obj, const char *key, const char *file, int *out) {
    json_t *v;
    RT_TRY(get(obj, key, file, &v));
    if (!json_is_boolean(v)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be true or false", file ? file : "JSON", key);
    *out = json_is_true(v);
    return RT_OK;
}
