/* tool_value.c: typed values of the toolapi world: parsing API values in a version's format into the
 * canonical form the tables hold (ISO dates, integer base units), rendering them back, and the
 * templates of task texts. Quantities are integers in base units so that no rounding differs between
 * machines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

static const char *const TYPE_NAMES[] = {"string", "int", "number", "bool", "date", "money", "duration", "weight", "enum"};

ta_type rt_ta_type_parse(const char *s) {
    for (int i = 0; i < TA_BAD; i++)
        if (s && strcmp(s, TYPE_NAMES[i]) == 0) return (ta_type)i;
    return TA_BAD;
}

const char *rt_ta_type_name(ta_type t) { return t < TA_BAD ? TYPE_NAMES[t] : "?"; }

typedef struct {
    ta_type type;
    const char *name;
    long long factor; /* base units per unit */
    const char *doc;
} unit_def;

static const unit_def UNITS[] = {
    {TA_MONEY, "cents", 1, "an integer number of cents"},      {TA_MONEY, "dollars", 100, "a number of dollars"},
    {TA_DURATION, "minutes", 1, "an integer number of minutes"}, {TA_DURATION, "hours", 60, "a number of hours"},
    {TA_WEIGHT, "grams", 1, "an integer number of grams"},      {TA_WEIGHT, "kilograms", 1000, "a number of kilograms"},
};
static const char *const DATE_FORMATS[][2] = {
    {"iso", "YYYY-MM-DD"}, {"dmy", "DD/MM/YYYY"}, {"mdy", "MM/DD/YYYY"}, {"compact", "YYYYMMDD"},
};

static const unit_def *unit_find(ta_type t, const char *name) {
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++)
        if (UNITS[i].type == t && name && strcmp(UNITS[i].name, name) == 0) return &UNITS[i];
    return NULL;
}

static int is_quantity(ta_type t) { return t == TA_MONEY || t == TA_DURATION || t == TA_WEIGHT; }

int rt_ta_format_valid(ta_type t, const char *fmt) {
    if (t == TA_DATE) {
        for (size_t i = 0; i < 4; i++)
            if (fmt && strcmp(fmt, DATE_FORMATS[i][0]) == 0) return 1;
        return 0;
    }
    if (is_quantity(t)) return unit_find(t, fmt) != NULL;
    return fmt == NULL;
}

const char *rt_ta_format_default(ta_type t) {
    return t == TA_DATE ? "iso" : t == TA_MONEY ? "cents" : t == TA_DURATION ? "minutes" : t == TA_WEIGHT ? "grams" : NULL;
}

const char *rt_ta_format_describe(ta_type t, const char *fmt) {
    if (!fmt) fmt = rt_ta_format_default(t);
    if (t == TA_DATE)
        for (size_t i = 0; i < 4; i++)
            if (strcmp(fmt, DATE_FORMATS[i][0]) == 0) return DATE_FORMATS[i][1];
    const unit_def *u = unit_find(t, fmt);
    return u ? u->doc : "";
}

static int days_in_month(int y, int m) {
    static const int D[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return D[m - 1];
}

/* Reads exactly n digits. */
static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int date_parse(const char *s, const char *fmt, int *y, int *m, int *d) {
    size_t n = strlen(s);
    int ok;
    if (strcmp(fmt, "iso") == 0)
        ok = n == 10 && s[4] == '-' && s[7] == '-' && digits(s, 4, y) && digits(s + 5, 2, m) && digits(s + 8, 2, d);
    else if (strcmp(fmt, "dmy") == 0)
        ok = n == 10 && s[2] == '/' && s[5] == '/' && digits(s, 2, d) && digits(s + 3, 2, m) && digits(s + 6, 4, y);
    else if (strcmp(fmt, "mdy") == 0)
        ok = n == 10 && s[2] == '/' && s[5] == '/' && digits(s, 2, m) && digits(s + 3, 2, d) && digits(s + 6, 4, y);
    else
        ok = n == 8 && digits(s, 4, y) && digits(s + 4, 2, m) && digits(s + 6, 2, d);
    return ok && *y >= 1900 && *y <= 2999 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

static void date_write(int y, int m, int d, const char *fmt, char *out, size_t cap) {
    if (strcmp(fmt, "iso") == 0) snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
    else if (strcmp(fmt, "dmy") == 0) snprintf(out, cap, "%02d/%02d/%04d", d, m, y);
    else if (strcmp(fmt, "mdy") == 0) snprintf(out, cap, "%02d/%02d/%04d", m, d, y);
    else snprintf(out, cap, "%04d%02d%02d", y, m, d);
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    case JSON_ARRAY: return "array";
    default: return "object";
    }
}

int rt_ta_value_in(const json_t *v, ta_type t, const char *fmt, const json_t *enum_values, const char *arg,
                json_t **canon, char *err, size_t errcap) {
    *canon = NULL;
#define TYPE_ERR(want) \
    return snprintf(err, errcap, "TypeError: argument '%s' must be %s, not %s", arg, want, json_kind(v)), 0
#define VALUE_ERR() return snprintf(err, errcap, "ValueError: invalid value for argument '%s'", arg), 0
    switch (t) {
    case TA_STRING:
        if (!json_is_string(v)) TYPE_ERR("string");
        *canon = json_copy((json_t *)v);
        return 1;
    case TA_INT:
        if (!json_is_integer(v)) TYPE_ERR("integer");
        *canon = json_copy((json_t *)v);
        return 1;
    case TA_NUMBER:
        if (!json_is_number(v)) TYPE_ERR("number");
        *canon = json_copy((json_t *)v);
        return 1;
    case TA_BOOL:
        if (!json_is_boolean(v)) TYPE_ERR("boolean");
        *canon = json_copy((json_t *)v);
        return 1;
    case TA_ENUM: {
        if (!json_is_string(v)) TYPE_ERR("string");
        size_t i;
        json_t *e;
        json_array_foreach(enum_values, i, e) if (json_equal(e, (json_t *)v)) return (*canon = json_copy((json_t *)v)), 1;
        VALUE_ERR();
    }
    case TA_DATE: {
        if (!json_is_string(v)) TYPE_ERR("string");
        int y, m, d;
        char buf[16];
        if (!date_parse(json_string_value(v), fmt ? fmt : "iso", &y, &m, &d)) VALUE_ERR();
        date_write(y, m, d, "iso", buf, sizeof buf);
        *canon = json_string(buf);
        return 1;
    }
    default: {
        const unit_def *u = unit_find(t, fmt ? fmt : rt_ta_format_default(t));
        if (!u) VALUE_ERR();
        if (u->factor == 1) {
            if (!json_is_integer(v)) TYPE_ERR("integer");
            *canon = json_integer(json_integer_value(v));
            return 1;
        }
        if (!json_is_number(v)) TYPE_ERR("number");
        double x = json_number_value(v) * (double)u->factor;
        double r = round(x);
        if (fabs(x - r) > 1e-6 || fabs(r) > 1e15) VALUE_ERR();
        *canon = json_integer((json_int_t)r);
        return 1;
    }
    }
#undef TYPE_ERR
#undef VALUE_ERR
}

json_t *rt_ta_value_out(const json_t *canon, ta_type t, const char *fmt) {
    if (t == TA_DATE && json_is_string(canon)) {
        int y, m, d;
        char buf[16];
        if (!date_parse(json_string_value(canon), "iso", &y, &m, &d)) return json_copy((json_t *)canon);
        date_write(y, m, d, fmt ? fmt : "iso", buf, sizeof buf);
        return json_string(buf);
    }
    if (is_quantity(t) && json_is_integer(canon)) {
        const unit_def *u = unit_find(t, fmt ? fmt : rt_ta_format_default(t));
        if (u && u->factor > 1) return json_real((double)json_integer_value(canon) / (double)u->factor);
    }
    return json_copy((json_t *)canon);
}

int rt_ta_canon_valid(const json_t *v, ta_type t) {
    int y, m, d;
    switch (t) {
    case TA_STRING:
    case TA_ENUM: return json_is_string(v);
    case TA_NUMBER: return json_is_number(v);
    case TA_BOOL: return json_is_boolean(v);
    case TA_DATE: return json_is_string(v) && date_parse(json_string_value(v), "iso", &y, &m, &d);
    default: return json_is_integer(v);
    }
}

/* ---- templates ---- */

static const char *const MONTHS[] = {"January", "February", "March",     "April",   "May",      "June",
                                     "July",    "August",   "September", "October", "November", "December"};

/* x / factor with up to three decimals, from integers only. */
static void write_ratio(long long x, long long factor, char *out, size_t cap) {
    long long whole = x / factor, frac = (llabs(x % factor) * 1000 + factor / 2) / factor;
    if (frac == 0) snprintf(out, cap, "%lld", whole);
    else if (frac % 100 == 0) snprintf(out, cap, "%lld.%lld", whole, frac / 100);
    else if (frac % 10 == 0) snprintf(out, cap, "%lld.%02lld", whole, frac / 10);
    else snprintf(out, cap, "%lld.%03lld", whole, frac);
}

static const json_t *lookup(const ta_scope *sc, const char *name, size_t n) {
    char key[128];
    if (n >= sizeof key) return NULL;
    memcpy(key, name, n);
    key[n] = '\0';
    char *dot = strchr(key, '.');
    if (dot) *dot = '\0';
    const json_t *v = json_object_get(sc->bind, key);
    if (v && dot) v = json_is_object(v) ? json_object_get(v, dot + 1) : NULL;
    if (v && !dot && json_is_object(v)) return NULL; /* a whole row is not a value */
    return v;
}

/* Text of one value with an optional modifier. */
static int value_text(const json_t *v, const char *mod, size_t mlen, char *out, size_t cap) {
    char num[48];
    if (mlen == 0) {
        if (json_is_string(v)) snprintf(out, cap, "%s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v)) snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
        else if (json_is_real(v)) snprintf(out, cap, "%.6g", json_real_value(v));
        else return 0;
        return 1;
    }
    if (mlen == 4 && strncmp(mod, "long", 4) == 0 && json_is_string(v)) {
        int y, m, d;
        if (!date_parse(json_string_value(v), "iso", &y, &m, &d)) return 0;
        snprintf(out, cap, "%s %d, %d", MONTHS[m - 1], d, y);
        return 1;
    }
    if (!json_is_integer(v)) return 0;
    long long x = json_integer_value(v);
    if (mlen == 7 && strncmp(mod, "dollars", 7) == 0) {
        snprintf(out, cap, "$%lld.%02lld", x / 100, llabs(x % 100));
        return 1;
    }
    if (mlen == 5 && strncmp(mod, "hours", 5) == 0) {
        write_ratio(x, 60, num, sizeof num);
        snprintf(out, cap, "%s hour%s", num, x == 60 ? "" : "s");
        return 1;
    }
    if (mlen == 9 && strncmp(mod, "kilograms", 9) == 0) {
        write_ratio(x, 1000, num, sizeof num);
        snprintf(out, cap, "%s kg", num);
        return 1;
    }
    return 0;
}

int rt_ta_render_text(const char *t, const ta_scope *sc, char *out, size_t cap, char *err, size_t errcap) {
    size_t len = 0;
    out[0] = '\0';
    while (*t) {
        if (*t != '{') {
            if (len + 1 < cap) out[len++] = *t;
            t++;
            continue;
        }
        const char *end = strchr(t, '}');
        if (!end) return snprintf(err, errcap, "unclosed '{' in \"%s\"", t), 0;
        const char *name = t + 1, *colon = memchr(name, ':', (size_t)(end - name));
        size_t nlen = colon ? (size_t)(colon - name) : (size_t)(end - name);
        const json_t *v = lookup(sc, name, nlen);
        char val[256];
        if (!v || !value_text(v, colon ? colon + 1 : "", colon ? (size_t)(end - colon - 1) : 0, val, sizeof val))
            return snprintf(err, errcap, "unknown placeholder {%.*s}", (int)(end - name), name), 0;
        size_t vl = strlen(val);
        if (len + vl < cap) {
            memcpy(out + len, val, vl);
            len += vl;
        }
        t = end + 1;
    }
    out[len < cap ? len : cap - 1] = '\0';
    return 1;
}

json_t *rt_ta_render_value(const json_t *tmpl, const ta_scope *sc, char *err, size_t errcap) {
    if (!json_is_string(tmpl)) return json_copy((json_t *)tmpl);
    const char *s = json_string_value(tmpl);
    size_t n = strlen(s);
    if (n > 2 && s[0] == '{' && s[n - 1] == '}' && !memchr(s + 1, '{', n - 2) && !memchr(s + 1, ':', n - 2)) {
        const json_t *v = lookup(sc, s + 1, n - 2);
        if (!v) return snprintf(err, errcap, "unknown placeholder %s", s), NULL;
        return json_copy((json_t *)v);
    }
    char buf[1024];
    if (!rt_ta_render_text(s, sc, buf, sizeof buf, err, errcap)) return NULL;
    return json_string(buf);
}
