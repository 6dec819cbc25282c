/* tool_docs.c: documentation text of every tool version, generated from its definition, so docs can
 * never disagree with the API they describe. */
#include <string.h>

#include "env/tool_internal.h"

void rt_ta_doc_text(const ta_pack *p, int vi, const json_t *tool, char *out, size_t cap) {
    size_t len = 0;
    const char *name = json_string_value(json_object_get(tool, "name"));
    rt_env_appendf(out, cap, &len, "%s (%s API v%d)\n", name, p->domain, vi + 1);
    if (json_is_true(json_object_get(tool, "deprecated"))) {
        const json_t *u = rt_ta_find_tool_id(p, vi, json_string_value(json_object_get(tool, "use")));
        rt_env_appendf(out, cap, &len, "Deprecated: this function is no longer available. Use %s instead.",
                       json_string_value(json_object_get(u, "name")));
        return;
    }
    rt_env_appendf(out, cap, &len, "%s\nArguments:", json_string_value(json_object_get(tool, "description")));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tool, "args"), i, a) {
        ta_type t = rt_ta_type_parse(json_string_value(json_object_get(a, "type")));
        rt_env_appendf(out, cap, &len, "\n- %s (%s, %s", json_string_value(json_object_get(a, "name")), rt_ta_type_name(t),
                       json_is_true(json_object_get(a, "required")) ? "required" : "optional");
        const char *fmt = json_string_value(json_object_get(a, "format"));
        if (t == TA_DATE) rt_env_appendf(out, cap, &len, ", format %s", rt_ta_format_describe(t, fmt));
        else if (fmt) rt_env_appendf(out, cap, &len, ", %s", rt_ta_format_describe(t, fmt));
        if (t == TA_ENUM) {
            rt_env_appendf(out, cap, &len, ", one of");
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(a, "values"), k, v) rt_env_appendf(out, cap, &len, "%s \"%s\"", k ? "," : "", json_string_value(v));
        }
        const char *desc = json_string_value(json_object_get(a, "description"));
        rt_env_appendf(out, cap, &len, ")%s%s", desc && *desc ? ": " : "", desc ? desc : "");
    }
    if (json_array_size(json_object_get(tool, "args")) == 0) rt_env_appendf(out, cap, &len, " none");
    const json_t *ef = json_object_get(tool, "effect");
    const char *op = json_string_value(json_object_get(ef, "op"));
    const char *table = json_string_value(json_object_get(ef, "table"));
    const char *row = json_string_value(json_object_get(json_object_get(p->tables, table), "row_name"));
    if (!strcmp(op, "delete")) {
        rt_env_appendf(out, cap, &len, "\nReturns: {\"%s\": ..., \"deleted\": true}.",
                       json_string_value(json_object_get(json_object_get(p->tables, table), "key")));
        return;
    }
    rt_env_appendf(out, cap, &len, "\nReturns: %s %s object%s with", !strcmp(op, "find") ? "a list of" : "the", row, !strcmp(op, "find") ? "s" : "");
    json_t *ret = json_object_get(ef, "returns");
    json_t *cols = json_object_get(json_object_get(p->tables, table), "columns");
    const char *c;
    json_t *v;
    int k = 0;
    if (json_is_array(ret)) json_array_foreach(ret, i, v) rt_env_appendf(out, cap, &len, "%s %s", k++ ? "," : "", json_string_value(v));
    else json_object_foreach(cols, c, v) rt_env_appendf(out, cap, &len, "%s %s", k++ ? "," : "", c);
    rt_env_appendf(out, cap, &len, ".");
    if (!strcmp(op, "find")) rt_env_appendf(out, cap, &len, " Arguments given are filters that must match exactly.");
    if (!strcmp(op, "get") || !strcmp(op, "update")) rt_env_appendf(out, cap, &len, " Fails with 404 if there is no such %s.", row);
}

rt_status rt_ta_docs(void *world, json_t *docs) {
    ta_world *w = world;
    char text[4096];
    for (int pi = 0; pi < w->n_packs; pi++) {
        const ta_pack *p = w->packs[pi];
        for (int v = 0; v < p->n_versions; v++) {
            size_t i;
            json_t *t;
            json_array_foreach(p->tools[v], i, t) {
                rt_ta_doc_text(p, v, t, text, sizeof text);
                json_t *d = json_object();
                json_object_set(d, "tool", json_object_get(t, "name"));
                json_object_set_new(d, "version", json_integer(v + 1));
                json_object_set_new(d, "text", json_string(text));
                json_object_set_new(d, "domain", json_string(p->domain));
                json_array_append_new(docs, d);
            }
        }
    }
    return RT_OK;
}
