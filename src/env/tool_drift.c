/* tool_drift.c: API drift. Version N+1 of a pack's tools is version N with its drift rules applied:
 * rename_tool, rename_arg, change_format, add_required_arg, split_tool, deprecate_tool. A rule that does
 * not fit the tool it names (an argument it lacks, a unit of another kind) is an error with its path. */
#include <string.h>

#include "env/tool_internal.h"

void rt_ta_perr(json_t *errors, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_ta_ident_ok(const char *s);
int rt_ta_check_arg(ta_pack *p, const char *table, json_t *a, const char *path, json_t *errors);

static int name_taken(json_t *tools, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) if (ta_streq(json_string_value(json_object_get(t, "name")), name)) return 1;
    return 0;
}

static json_t *live_tool(json_t *tools, const char *name, size_t *index) {
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        if (!ta_streq(json_string_value(json_object_get(t, "name")), name)) continue;
        if (json_is_true(json_object_get(t, "deprecated"))) return NULL;
        if (index) *index = i;
        return t;
    }
    return NULL;
}

static int rule_rename_tool(json_t *tools, json_t *tool, const json_t *r, const char *path, json_t *errors) {
    const char *to = json_string_value(json_object_get(r, "to"));
    if (!rt_ta_ident_ok(to)) return rt_ta_perr(errors, path, "'to' must be an identifier"), 0;
    if (name_taken(tools, to)) return rt_ta_perr(errors, path, "a tool named '%s' already exists", to), 0;
    json_object_set_new(tool, "name", json_string(to));
    return 1;
}

static json_t *rule_arg(json_t *tool, const json_t *r, const char *path, json_t *errors) {
    const char *an = json_string_value(json_object_get(r, "arg"));
    json_t *a = an ? rt_ta_tool_arg(tool, an) : NULL;
    if (!a) rt_ta_perr(errors, path, "tool '%s' has no argument '%s'", json_string_value(json_object_get(tool, "name")), an ? an : "?");
    return a;
}

static int rule_rename_arg(json_t *tool, const json_t *r, const char *path, json_t *errors) {
    json_t *a = rule_arg(tool, r, path, errors);
    const char *to = json_string_value(json_object_get(r, "to"));
    if (!a) return 0;
    if (!rt_ta_ident_ok(to)) return rt_ta_perr(errors, path, "'to' must be an identifier"), 0;
    if (rt_ta_tool_arg(tool, to)) return rt_ta_perr(errors, path, "the tool already has an argument '%s'", to), 0;
    json_object_set_new(a, "name", json_string(to));
    return 1;
}

static int rule_change_format(json_t *tool, const json_t *r, const char *path, json_t *errors) {
    json_t *a = rule_arg(tool, r, path, errors);
    if (!a) return 0;
    const char *fmt = json_string_value(json_object_get(r, "format"));
    if (!fmt) fmt = json_string_value(json_object_get(r, "unit"));
    ta_type t = rt_ta_type_parse(json_string_value(json_object_get(a, "type")));
    if (!fmt || !rt_ta_format_valid(t, fmt) || !rt_ta_format_default(t))
        return rt_ta_perr(errors, path, "'%s' is not a format of argument '%s' (type %s)", fmt ? fmt : "(none)",
                       json_string_value(json_object_get(a, "name")), rt_ta_type_name(t)), 0;
    if (ta_streq(fmt, json_string_value(json_object_get(a, "format")))) return rt_ta_perr(errors, path, "the format is already '%s'", fmt), 0;
    json_object_set_new(a, "format", json_string(fmt));
    return 1;
}

static const char *effect_op(const json_t *tool) { return json_string_value(json_object_get(json_object_get(tool, "effect"), "op")); }

static void list_append(json_t *ef, const char *list, const char *key) {
    json_t *l = json_object_get(ef, list);
    if (!l) json_object_set_new(ef, list, l = json_array());
    json_array_append_new(l, json_string(key));
}

/* The new argument filters a search, is stored by an insert or update, and must match the row of a get
 * or delete (a wrong value then reads as "not found", as a real API would say). */
static int rule_add_required_arg(ta_pack *p, json_t *tool, const json_t *r, const char *path, json_t *errors) {
    json_t *a = json_object_get(r, "arg");
    if (!json_is_object(a)) return rt_ta_perr(errors, path, "'arg' must be an argument object"), 0;
    a = json_deep_copy(a);
    const char *an = json_string_value(json_object_get(a, "name"));
    if (an && rt_ta_tool_arg(tool, an)) {
        json_decref(a);
        return rt_ta_perr(errors, path, "the tool already has an argument '%s'", an), 0;
    }
    json_t *ef = json_object_get(tool, "effect");
    char ap[256];
    snprintf(ap, sizeof ap, "%s.arg", path);
    if (!rt_ta_check_arg(p, json_string_value(json_object_get(ef, "table")), a, ap, errors)) {
        json_decref(a);
        return 0;
    }
    const char *key = json_string_value(json_object_get(a, "key"));
    if (rt_ta_tool_arg_key(tool, key)) {
        json_decref(a);
        return rt_ta_perr(errors, path, "argument key '%s' is already used by the tool", key), 0;
    }
    json_object_set_new(a, "required", json_true());
    const char *op = effect_op(tool);
    list_append(ef, !strcmp(op, "find") ? "match" : (!strcmp(op, "insert") || !strcmp(op, "update")) ? "set" : "check", key);
    json_array_append_new(json_object_get(tool, "args"), a);
    return 1;
}

static int rule_split_tool(json_t *tools, json_t *tool, size_t index, const json_t *r, const char *path, json_t *errors) {
    json_t *into = json_object_get(r, "into");
    const char *name = json_string_value(json_object_get(tool, "name"));
    if (!ta_streq(effect_op(tool), "update")) return rt_ta_perr(errors, path, "only an update tool can be split; '%s' is not one", name), 0;
    if (!json_is_array(into) || json_array_size(into) < 2) return rt_ta_perr(errors, path, "'into' must list at least two tools"), 0;
    json_t *ef = json_object_get(tool, "effect");
    const char *key = json_string_value(json_object_get(ef, "key"));
    json_t *parts = json_array();
    size_t i;
    json_t *part;
    int ok = 1;
    json_array_foreach(into, i, part) {
        const char *pn = json_string_value(json_object_get(part, "name"));
        json_t *names = json_object_get(part, "args");
        if (!rt_ta_ident_ok(pn) || name_taken(tools, pn) || !json_is_array(names)) {
            rt_ta_perr(errors, path, "into[%zu] needs a new tool 'name' and its 'args'", i);
            ok = 0;
            break;
        }
        json_t *t = json_deep_copy(tool), *args = json_array(), *set = json_array();
        json_object_set_new(t, "name", json_string(pn));
        json_object_set_new(t, "id", json_string(pn));
        /* A part of a part still names the version-1 tool it came from: plans are written against it. */
        json_t *root = json_object_get(tool, "split_from");
        json_object_set(t, "split_from", root ? root : json_object_get(tool, "id"));
        if (json_is_string(json_object_get(part, "description"))) json_object_set(t, "description", json_object_get(part, "description"));
        size_t k;
        json_t *n;
        int has_key = 0;
        json_array_foreach(names, k, n) {
            json_t *a = json_is_string(n) ? rt_ta_tool_arg(tool, json_string_value(n)) : NULL;
            if (!a) {
                rt_ta_perr(errors, path, "into[%zu] names '%s', not an argument of '%s'", i, json_is_string(n) ? json_string_value(n) : "?", name);
                ok = 0;
                continue;
            }
            const char *k2 = json_string_value(json_object_get(a, "key"));
            has_key |= ta_streq(k2, key);
            if (!ta_streq(k2, key)) json_array_append_new(set, json_string(k2));
            json_array_append(args, a);
        }
        if (!has_key) {
            rt_ta_perr(errors, path, "into[%zu] must keep the row's key argument", i);
            ok = 0;
        }
        json_object_set_new(t, "args", args);
        json_t *nef = json_object_get(t, "effect");
        json_object_set_new(nef, "set", set);
        json_object_del(nef, "check");
        json_array_append_new(parts, t);
    }
    /* Every argument of the old tool must live on in some part. */
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) {
        const char *k = json_string_value(json_object_get(a, "key"));
        int found = 0;
        size_t j;
        json_array_foreach(parts, j, part) found |= rt_ta_tool_arg_key(part, k) != NULL;
        if (!found && ok) {
            rt_ta_perr(errors, path, "argument '%s' of '%s' is in none of the new tools", json_string_value(json_object_get(a, "name")), name);
            ok = 0;
        }
    }
    if (ok) {
        json_array_remove(tools, index);
        json_array_foreach(parts, i, part) json_array_insert(tools, index + i, part);
    }
    json_decref(parts);
    return ok;
}

static int rule_deprecate(json_t *tools, json_t *tool, const json_t *r, const char *path, json_t *errors) {
    const char *use = json_string_value(json_object_get(r, "use"));
    json_t *u = use ? live_tool(tools, use, NULL) : NULL;
    if (!u || u == tool) return rt_ta_perr(errors, path, "'use' must name another live tool, the one plans call instead"), 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) if (!rt_ta_tool_arg_key(u, json_string_value(json_object_get(a, "key"))))
        return rt_ta_perr(errors, path, "'%s' has no argument for '%s' of '%s'", use, json_string_value(json_object_get(a, "name")),
                       json_string_value(json_object_get(tool, "name"))), 0;
    json_object_set_new(tool, "deprecated", json_true());
    json_object_set(tool, "use", json_object_get(u, "id"));
    return 1;
}

int rt_ta_drift_apply(ta_pack *p, int vi, const json_t *rules, const char *path, json_t *errors) {
    if (!json_is_array(rules) || json_array_size(rules) == 0) return rt_ta_perr(errors, path, "must be a non-empty array of rules"), 0;
    json_t *tools = json_deep_copy(p->tools[vi - 1]);
    size_t i;
    json_t *r;
    int ok = 1;
    json_array_foreach(rules, i, r) {
        char rp[256];
        snprintf(rp, sizeof rp, "%s[%zu]", path, i);
        const char *rule = json_string_value(json_object_get(r, "rule"));
        const char *tn = json_string_value(json_object_get(r, "tool"));
        size_t index = 0;
        json_t *tool = tn ? live_tool(tools, tn, &index) : NULL;
        if (!rule) {
            rt_ta_perr(errors, rp, "'rule' is missing");
            ok = 0;
            continue;
        }
        if (!tool) {
            rt_ta_perr(errors, rp, "no live tool '%s' in version %d", tn ? tn : "?", vi);
            ok = 0;
            continue;
        }
        int good;
        if (!strcmp(rule, "rename_tool")) good = rule_rename_tool(tools, tool, r, rp, errors);
        else if (!strcmp(rule, "rename_arg")) good = rule_rename_arg(tool, r, rp, errors);
        else if (!strcmp(rule, "change_format")) good = rule_change_format(tool, r, rp, errors);
        else if (!strcmp(rule, "add_required_arg")) good = rule_add_required_arg(p, tool, r, rp, errors);
        else if (!strcmp(rule, "split_tool")) good = rule_split_tool(tools, tool, index, r, rp, errors);
        else if (!strcmp(rule, "deprecate_tool")) good = rule_deprecate(tools, tool, r, rp, errors);
        else {
            rt_ta_perr(errors, rp, "unknown rule '%s' (rename_tool, rename_arg, change_format, add_required_arg, split_tool, deprecate_tool)", rule);
            good = 0;
        }
        ok &= good;
    }
    if (!ok) {
        json_decref(tools);
        return 0;
    }
    p->tools[vi] = tools;
    return 1;
}
