/* tool_pack.c: loading a scenario pack and checking it: every problem is reported with the JSON path
 * where it is ("$.tools[2].args[0].type: unknown type 'dat'"), and all of them, not only the first.
 * The schema is documented in docs/scenario-packs.md. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

#define MAX_PATH 256

void rt_ta_perr(json_t *errors, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rt_ta_perr(json_t *errors, const char *path, const char *fmt, ...) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_string(msg));
}

int rt_ta_ident_ok(const char *s) {
    if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

json_t *rt_ta_table_columns(const ta_pack *p, const char *table) {
    return json_object_get(json_object_get(p->tables, table), "columns");
}

/* A column is "type" or {"type": "enum", "values": [...]}. */
static const char *column_type_text(const json_t *c) {
    return json_is_string(c) ? json_string_value(c) : json_string_value(json_object_get(c, "type"));
}

ta_type rt_ta_column_type(const ta_pack *p, const char *table, const char *column) {
    const json_t *c = json_object_get(rt_ta_table_columns(p, table), column);
    return c ? rt_ta_type_parse(column_type_text(c)) : TA_BAD;
}

json_t *rt_ta_find_tool(const ta_pack *p, int vi, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach(p->tools[vi], i, t) if (ta_streq(json_string_value(json_object_get(t, "name")), name)) return t;
    return NULL;
}

json_t *rt_ta_find_tool_id(const ta_pack *p, int vi, const char *id) {
    size_t i;
    json_t *t;
    json_array_foreach(p->tools[vi], i, t) if (ta_streq(json_string_value(json_object_get(t, "id")), id)) return t;
    return NULL;
}

static json_t *arg_by(const json_t *tool, const char *field, const char *v) {
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) {
        const char *s = json_string_value(json_object_get(a, field));
        if (s && strcmp(s, v) == 0) return a;
    }
    return NULL;
}
json_t *rt_ta_tool_arg(const json_t *tool, const char *name) { return arg_by(tool, "name", name); }
json_t *rt_ta_tool_arg_key(const json_t *tool, const char *key) { return arg_by(tool, "key", key); }

/* Returns 0 when the tables are too broken to check the tools against (bad rows do not count). */
static int check_tables(ta_pack *p, json_t *errors) {
    if (!json_is_object(p->tables) || json_object_size(p->tables) == 0) {
        rt_ta_perr(errors, "$.tables", "must be an object with at least one table");
        return 0;
    }
    int usable = 1;
    const char *tn;
    json_t *t;
    char path[MAX_PATH];
    json_object_foreach(p->tables, tn, t) {
        snprintf(path, sizeof path, "$.tables.%s", tn);
        json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows");
        const char *key = json_string_value(json_object_get(t, "key"));
        if (!json_is_object(cols) || json_object_size(cols) == 0) {
            rt_ta_perr(errors, path, "'columns' must be a non-empty object");
            usable = 0;
            continue;
        }
        const char *cn;
        json_t *c;
        json_object_foreach(cols, cn, c) {
            char cp[MAX_PATH];
            snprintf(cp, sizeof cp, "%s.columns.%s", path, cn);
            ta_type ty = rt_ta_type_parse(column_type_text(c));
            if (ty == TA_BAD) rt_ta_perr(errors, cp, "unknown type (string, int, number, bool, date, money, duration, weight, enum)");
            usable &= ty != TA_BAD;
            if (ty == TA_ENUM && !json_is_array(json_object_get(c, "values"))) rt_ta_perr(errors, cp, "an enum column needs 'values'");
        }
        if (!key || !json_object_get(cols, key)) rt_ta_perr(errors, path, "'key' must name one of its columns");
        if (!json_is_string(json_object_get(t, "row_name"))) rt_ta_perr(errors, path, "'row_name' (e.g. \"event\") must be a string");
        if (!json_is_array(rows)) {
            rt_ta_perr(errors, path, "'rows' must be an array");
            continue;
        }
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            char rp[MAX_PATH];
            snprintf(rp, sizeof rp, "%s.rows[%zu]", path, i);
            if (!json_is_object(row)) {
                rt_ta_perr(errors, rp, "must be an object");
                continue;
            }
            const char *k;
            json_t *v;
            json_object_foreach(row, k, v) {
                json_t *c2 = json_object_get(cols, k);
                char vp[MAX_PATH];
                snprintf(vp, sizeof vp, "%s.%s", rp, k);
                if (!c2) rt_ta_perr(errors, vp, "no such column");
                else if (!rt_ta_canon_valid(v, rt_ta_type_parse(column_type_text(c2))))
                    rt_ta_perr(errors, vp, "not a valid %s value", column_type_text(c2));
            }
            json_object_foreach(cols, k, v) if (!json_object_get(row, k)) rt_ta_perr(errors, rp, "missing column '%s'", k);
        }
    }
    return usable;
}

/* Checks one argument against the table its tool works on; fills in key, column and format. */
int rt_ta_check_arg(ta_pack *p, const char *table, json_t *a, const char *path, json_t *errors) {
    const char *name = json_string_value(json_object_get(a, "name"));
    if (!rt_ta_ident_ok(name)) {
        rt_ta_perr(errors, path, "'name' must be an identifier");
        return 0;
    }
    if (!json_object_get(a, "key")) json_object_set_new(a, "key", json_string(name));
    if (!json_object_get(a, "column")) json_object_set_new(a, "column", json_string(name));
    const char *col = json_string_value(json_object_get(a, "column"));
    const char *ty = json_string_value(json_object_get(a, "type"));
    ta_type t = rt_ta_type_parse(ty);
    char ap[MAX_PATH];
    snprintf(ap, sizeof ap, "%s.type", path);
    if (t == TA_BAD) {
        rt_ta_perr(errors, ap, "unknown type '%s'", ty ? ty : "(none)");
        return 0;
    }
    ta_type ct = col ? rt_ta_column_type(p, table, col) : TA_BAD;
    if (ct == TA_BAD) {
        snprintf(ap, sizeof ap, "%s.column", path);
        rt_ta_perr(errors, ap, "table '%s' has no column '%s'", table, col ? col : "?");
        return 0;
    }
    if (ct != t) rt_ta_perr(errors, ap, "'%s' does not match column '%s' of type %s", ty, col, rt_ta_type_name(ct));
    json_t *unit = json_object_get(a, "unit");
    if (unit && !json_object_get(a, "format")) json_object_set(a, "format", unit);
    json_object_del(a, "unit");
    const char *fmt = json_string_value(json_object_get(a, "format"));
    if (!fmt && rt_ta_format_default(t)) json_object_set_new(a, "format", json_string(fmt = rt_ta_format_default(t)));
    if (fmt && !rt_ta_format_valid(t, fmt)) {
        snprintf(ap, sizeof ap, "%s.format", path);
        rt_ta_perr(errors, ap, "'%s' is not a format of type %s", fmt, rt_ta_type_name(t));
    }
    if (t == TA_ENUM && !json_object_get(a, "values")) {
        json_t *c = json_object_get(rt_ta_table_columns(p, table), col);
        json_object_set(a, "values", json_object_get(c, "values"));
    }
    if (!json_is_boolean(json_object_get(a, "required"))) json_object_set_new(a, "required", json_false());
    if (!json_is_string(json_object_get(a, "description"))) json_object_set_new(a, "description", json_string(""));
    return 1;
}

static int list_has(const json_t *list, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

static void check_effect(ta_pack *p, json_t *tool, const char *path, json_t *errors) {
    json_t *ef = json_object_get(tool, "effect");
    char ep[MAX_PATH];
    snprintf(ep, sizeof ep, "%s.effect", path);
    if (!json_is_object(ef)) {
        rt_ta_perr(errors, ep, "must be an object");
        return;
    }
    const char *op = json_string_value(json_object_get(ef, "op"));
    const char *table = json_string_value(json_object_get(ef, "table"));
    static const char *const OPS[] = {"get", "find", "insert", "update", "delete"};
    int known = 0;
    for (int i = 0; i < 5; i++) known |= op && strcmp(op, OPS[i]) == 0;
    if (!known) rt_ta_perr(errors, ep, "'op' must be get, find, insert, update or delete");
    if (!table || !json_object_get(p->tables, table)) {
        rt_ta_perr(errors, ep, "'table' must name a table");
        return;
    }
    json_t *args = json_object_get(tool, "args");
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) {
        char ap[MAX_PATH];
        snprintf(ap, sizeof ap, "%s.args[%zu]", path, i);
        rt_ta_check_arg(p, table, a, ap, errors);
    }
    static const char *const LISTS[] = {"key", "match", "set", "check"};
    for (int l = 0; l < 4; l++) {
        json_t *lst = json_object_get(ef, LISTS[l]);
        if (!lst) continue;
        if (l == 0 && json_is_string(lst)) {
            if (!rt_ta_tool_arg_key(tool, json_string_value(lst))) rt_ta_perr(errors, ep, "'key' names no argument of the tool");
            continue;
        }
        json_t *v;
        json_array_foreach(lst, i, v) if (!json_is_string(v) || !rt_ta_tool_arg_key(tool, json_string_value(v)))
            rt_ta_perr(errors, ep, "'%s' names '%s', not an argument of the tool", LISTS[l], json_is_string(v) ? json_string_value(v) : "?");
    }
    if (op && (!strcmp(op, "get") || !strcmp(op, "update") || !strcmp(op, "delete")) && !json_is_string(json_object_get(ef, "key")))
        rt_ta_perr(errors, ep, "op '%s' needs 'key', the argument that names the row", op);
    json_t *v;
    json_array_foreach(json_object_get(ef, "returns"), i, v) if (!json_is_string(v) || rt_ta_column_type(p, table, json_string_value(v)) == TA_BAD)
        rt_ta_perr(errors, ep, "'returns' names '%s', not a column of '%s'", json_is_string(v) ? json_string_value(v) : "?", table);
    const char *cn;
    json_object_foreach(json_object_get(ef, "values"), cn, v) {
        ta_type t = rt_ta_column_type(p, table, cn);
        if (t == TA_BAD || !rt_ta_canon_valid(v, t)) rt_ta_perr(errors, ep, "'values.%s' is not a valid value of a column of '%s'", cn, table);
    }
    /* Every argument must do something, or the tool's docs would lie. */
    const char *key = json_string_value(json_object_get(ef, "key"));
    json_array_foreach(args, i, a) {
        const char *k = json_string_value(json_object_get(a, "key"));
        if (!k) continue;
        if ((key && !strcmp(key, k)) || list_has(json_object_get(ef, "match"), k) || list_has(json_object_get(ef, "set"), k) ||
            list_has(json_object_get(ef, "check"), k))
            continue;
        char ap[MAX_PATH];
        snprintf(ap, sizeof ap, "%s.args[%zu]", path, i);
        rt_ta_perr(errors, ap, "argument '%s' is not used by the effect", k);
    }
}

static void check_tools(ta_pack *p, json_t *errors) {
    json_t *tools = p->tools[0];
    if (!json_is_array(tools) || json_array_size(tools) == 0) {
        rt_ta_perr(errors, "$.tools", "must be a non-empty array");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char path[MAX_PATH];
        snprintf(path, sizeof path, "$.tools[%zu]", i);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!rt_ta_ident_ok(name)) {
            rt_ta_perr(errors, path, "'name' must be an identifier");
            continue;
        }
        if (strcmp(name, "finish") == 0) rt_ta_perr(errors, path, "'finish' is reserved");
        for (size_t j = 0; j < i; j++)
            if (ta_streq(json_string_value(json_object_get(json_array_get(tools, j), "name")), name))
                rt_ta_perr(errors, path, "duplicate tool name '%s'", name);
        json_object_set_new(t, "id", json_string(name));
        if (!json_is_string(json_object_get(t, "description"))) rt_ta_perr(errors, path, "'description' must be a string");
        json_t *args = json_object_get(t, "args");
        if (!json_is_array(args)) {
            rt_ta_perr(errors, path, "'args' must be an array");
            continue;
        }
        json_t *a;
        size_t k;
        json_array_foreach(args, k, a) {
            if (!json_is_object(a)) continue;
            const char *an = json_string_value(json_object_get(a, "name"));
            for (size_t j = 0; j < k && an; j++) {
                const char *bn = json_string_value(json_object_get(json_array_get(args, j), "name"));
                if (bn && !strcmp(an, bn)) rt_ta_perr(errors, path, "duplicate argument '%s'", an);
            }
        }
        check_effect(p, t, path, errors);
    }
}

void rt_ta_check_tasks(ta_pack *p, json_t *errors);

void rt_ta_pack_free(ta_pack *p) {
    if (!p) return;
    for (int i = 0; i < p->n_versions; i++) json_decref(p->tools[i]);
    json_decref(p->root);
    free(p->path);
    free(p);
}

rt_status rt_ta_pack_load(const char *path, json_t *errors, ta_pack **out) {
    *out = NULL;
    json_t *root;
    rt_status ls = rt_json_load(path, &root);
    if (ls != RT_OK) {
        json_array_append_new(errors, json_string(rt_errmsg()));
        return ls;
    }
    size_t before = json_array_size(errors);
    ta_pack *p = rt_calloc(1, sizeof *p);
    p->path = rt_strdup(path);
    p->root = root;
    if (!json_is_object(root)) {
        rt_ta_perr(errors, "$", "a pack must be a JSON object");
    } else {
        p->domain = json_string_value(json_object_get(root, "domain"));
        if (!p->domain || !rt_ta_ident_ok(p->domain)) rt_ta_perr(errors, "$.domain", "must be an identifier such as \"calendar\"");
        json_t *fv = json_object_get(root, "format_version");
        if (!json_is_integer(fv) || json_integer_value(fv) != 1) rt_ta_perr(errors, "$.format_version", "must be 1");
        p->tables = json_object_get(root, "tables");
        p->tasks = json_object_get(root, "tasks");
        int tables_ok = check_tables(p, errors);
        p->tools[0] = json_deep_copy(json_object_get(root, "tools"));
        p->n_versions = 1;
        if (tables_ok) check_tools(p, errors);
        json_t *versions = json_object_get(root, "versions");
        if (versions && !json_is_array(versions)) rt_ta_perr(errors, "$.versions", "must be an array");
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) {
            char vp[MAX_PATH];
            snprintf(vp, sizeof vp, "$.versions[%zu]", i);
            if (json_array_size(errors) != before) break;
            json_t *num = json_object_get(v, "version");
            if (!json_is_integer(num) || json_integer_value(num) != (json_int_t)i + 2) {
                rt_ta_perr(errors, vp, "'version' must be %zu (versions count up from 2; version 1 is 'tools')", i + 2);
                break;
            }
            if (p->n_versions == TA_MAX_VERSIONS) {
                rt_ta_perr(errors, vp, "at most %d versions", TA_MAX_VERSIONS);
                break;
            }
            char dp[MAX_PATH];
            snprintf(dp, sizeof dp, "%s.drift", vp);
            if (!rt_ta_drift_apply(p, p->n_versions, json_object_get(v, "drift"), dp, errors)) break;
            p->n_versions++;
        }
        /* Task checks need only the tool names, so they run (and report) even when a tool is broken. */
        if (json_is_array(p->tools[0])) rt_ta_check_tasks(p, errors);
    }
    if (json_array_size(errors) != before) {
        rt_ta_pack_free(p);
        return rt_fail(RT_ERR_FORMAT, "%s: %s", path, json_string_value(json_array_get(errors, before)));
    }
    *out = p;
    return RT_OK;
}
