/* tool_effect.c: one API call against the live tables: argument checking in the current version's
 * names, types and formats, then the tool's effect (get, find, insert, update, delete). Errors read like
 * a real API's, with no hint of what changed. */
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

static json_t *table_of(ta_world *w, const json_t *tool, const char **tname) {
    *tname = json_string_value(json_object_get(json_object_get(tool, "effect"), "table"));
    return json_object_get(w->tables, *tname);
}

/* The API's text for a value the caller sent, for "not found" messages. */
static void given_text(const json_t *v, char *out, size_t cap) {
    if (json_is_string(v)) {
        snprintf(out, cap, "%s", json_string_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    snprintf(out, cap, "%s", s ? s : "?");
    free(s);
}

static json_t *project(const json_t *row, const json_t *returns) {
    if (!json_is_array(returns)) return json_deep_copy(row);
    json_t *o = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(returns, i, c) json_object_set(o, json_string_value(c), json_object_get(row, json_string_value(c)));
    return o;
}

static const char *arg_format_for(const json_t *tool, const char *table, const char *col) {
    const json_t *ef = json_object_get(tool, "effect");
    if (!ta_streq(json_string_value(json_object_get(ef, "table")), table)) return NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) if (ta_streq(json_string_value(json_object_get(a, "column")), col))
        return json_string_value(json_object_get(a, "format"));
    return NULL;
}

/* The format a version speaks for a column: the calling tool's argument for it, else any live tool's,
 * so that the parts of a split tool and a lookup agree with the tool that writes the field. */
static const char *column_format(ta_world *w, const json_t *tool, const char *table, const char *col) {
    const char *fmt = arg_format_for(tool, table, col);
    size_t i;
    json_t *t;
    json_array_foreach(w->pk->tools[w->version], i, t) {
        if (fmt) break;
        if (!json_is_true(json_object_get(t, "deprecated"))) fmt = arg_format_for(t, table, col);
    }
    return fmt;
}

json_t *rt_ta_result_out(ta_world *w, const json_t *tool, const json_t *canon) {
    const char *tname;
    table_of(w, tool, &tname);
    if (json_is_array(canon)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(canon, i, v) json_array_append_new(a, rt_ta_result_out(w, tool, v));
        return a;
    }
    if (!json_is_object(canon)) return json_copy((json_t *)canon);
    json_t *o = json_object();
    const char *col;
    json_t *v;
    json_object_foreach((json_t *)canon, col, v) {
        /* A returned column follows the format of the argument bound to it, so one version speaks one
         * format for a field in both directions. */
        const char *fmt = column_format(w, tool, tname, col);
        json_object_set_new(o, col, rt_ta_value_out(v, rt_ta_column_type(w->pk, tname, col), fmt));
    }
    return o;
}

static int list_has(const json_t *list, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (ta_streq(json_string_value(v), s)) return 1;
    return 0;
}

/* Does `row` agree with the call on the arguments that are the `key` or listed in the effect's `list`?
 * An argument the call left out is a mismatch when `need_all`, and no filter otherwise. */
static int row_fits(const json_t *tool, const json_t *row, const json_t *canon, const char *key, const char *list, int need_all) {
    const json_t *ef = json_object_get(tool, "effect");
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), k, a) {
        const char *ak = json_string_value(json_object_get(a, "key"));
        if (!(key && !strcmp(ak, key)) && !list_has(json_object_get(ef, list), ak)) continue;
        const json_t *v = json_object_get(canon, ak);
        if (!v && !need_all) continue;
        if (!v || !json_equal(json_object_get(row, json_string_value(json_object_get(a, "column"))), (json_t *)v)) return 0;
    }
    return 1;
}

/* The row an identifying call names: its key argument, and any "check" arguments must match. */
static int find_row(const json_t *tool, const json_t *rows, const json_t *canon, size_t *index) {
    const char *key = json_string_value(json_object_get(json_object_get(tool, "effect"), "key"));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) if (row_fits(tool, row, canon, key, "check", 1)) {
        *index = i;
        return 1;
    }
    return 0;
}

/* Constant values first, then the arguments, so an argument added by a later version wins. */
static void set_columns(const json_t *tool, json_t *row, const json_t *canon) {
    const json_t *ef = json_object_get(tool, "effect");
    const char *col;
    json_t *v;
    json_object_foreach(json_object_get(ef, "values"), col, v) json_object_set(row, col, v);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) {
        const char *k = json_string_value(json_object_get(a, "key"));
        if (list_has(json_object_get(ef, "set"), k) && json_object_get(canon, k))
            json_object_set(row, json_string_value(json_object_get(a, "column")), json_object_get(canon, k));
    }
}

/* A new key: the table's prefix and one more than the largest number in use. */
static json_t *next_key(const json_t *table) {
    const char *key = json_string_value(json_object_get(table, "key"));
    const char *prefix = json_string_value(json_object_get(table, "id_prefix"));
    if (!prefix) prefix = "";
    size_t pl = strlen(prefix), i;
    long best = 0;
    json_t *row;
    json_array_foreach(json_object_get(table, "rows"), i, row) {
        const char *s = json_string_value(json_object_get(row, key));
        if (s && strncmp(s, prefix, pl) == 0) {
            long n = strtol(s + pl, NULL, 10);
            if (n > best) best = n;
        }
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s%ld", prefix, best + 1);
    return json_string(buf);
}

static int not_found(const json_t *tool, const json_t *table, const json_t *args, char *err, size_t errcap) {
    const char *key = json_string_value(json_object_get(json_object_get(tool, "effect"), "key"));
    const json_t *a = rt_ta_tool_arg_key(tool, key);
    const char *name = json_string_value(json_object_get(a, "name"));
    char val[256];
    given_text(json_object_get(args, name), val, sizeof val);
    snprintf(err, errcap, "404 Not Found: no %s with %s '%s'", json_string_value(json_object_get(table, "row_name")), name, val);
    return 0;
}

static int run_effect(ta_world *w, const json_t *tool, const json_t *args, const json_t *canon, json_t **result, char *err, size_t errcap) {
    const char *tname;
    json_t *table = table_of(w, tool, &tname), *rows = json_object_get(table, "rows");
    const json_t *ef = json_object_get(tool, "effect");
    const char *op = json_string_value(json_object_get(ef, "op"));
    json_t *returns = json_object_get(ef, "returns");
    size_t idx;
    if (!strcmp(op, "find")) {
        json_t *out = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) if (row_fits(tool, row, canon, NULL, "match", 0))
            json_array_append_new(out, project(row, returns));
        *result = out;
        return 1;
    }
    if (!strcmp(op, "insert")) {
        json_t *row = json_object();
        const char *key = json_string_value(json_object_get(table, "key"));
        const char *c;
        json_t *v;
        json_object_foreach(json_object_get(table, "columns"), c, v) json_object_set_new(row, c, json_null());
        json_object_set_new(row, key, next_key(table));
        set_columns(tool, row, canon);
        json_array_append_new(rows, row);
        *result = project(row, returns);
        return 1;
    }
    if (!find_row(tool, rows, canon, &idx)) return not_found(tool, table, args, err, errcap);
    json_t *row = json_array_get(rows, idx);
    if (!strcmp(op, "get")) {
        *result = project(row, returns);
    } else if (!strcmp(op, "update")) {
        set_columns(tool, row, canon);
        *result = project(row, returns);
    } else {
        const char *key = json_string_value(json_object_get(table, "key"));
        *result = json_object();
        json_object_set(*result, key, json_object_get(row, key));
        json_object_set_new(*result, "deleted", json_true());
        json_array_remove(rows, idx);
    }
    return 1;
}

int rt_ta_call(ta_world *w, const char *name, const json_t *args, json_t **result, char *err, size_t errcap) {
    *result = NULL;
    json_t *tool = rt_ta_find_tool(w->pk, w->version, name);
    if (!tool) return snprintf(err, errcap, "404 Not Found: unknown function '%s'", name), 0;
    if (json_is_true(json_object_get(tool, "deprecated")))
        return snprintf(err, errcap, "410 Gone: function '%s' is deprecated and no longer available", name), 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v) if (!rt_ta_tool_arg(tool, k))
        return snprintf(err, errcap, "TypeError: %s() got an unexpected keyword argument '%s'", name, k), 0;
    json_t *canon = json_object();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) {
        const char *an = json_string_value(json_object_get(a, "name"));
        json_t *given = json_object_get(args, an), *cv;
        if (!given) {
            if (json_is_true(json_object_get(a, "required"))) {
                json_decref(canon);
                return snprintf(err, errcap, "TypeError: %s() missing required argument '%s'", name, an), 0;
            }
            continue;
        }
        if (!rt_ta_value_in(given, rt_ta_type_parse(json_string_value(json_object_get(a, "type"))),
                         json_string_value(json_object_get(a, "format")), json_object_get(a, "values"), an, &cv, err, errcap)) {
            json_decref(canon);
            return 0;
        }
        json_object_set_new(canon, json_string_value(json_object_get(a, "key")), cv);
    }
    int ok = run_effect(w, tool, args, canon, result, err, errcap);
    json_decref(canon);
    return ok;
}
