/* record.c: one input line: an episode or a doc, validated, with the fields the store indexes.
 * The line itself is kept verbatim, so fields this version does not know survive add -> export. */
#include "memory/memory_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static rt_status opt_string(json_t *o, const char *key, const char *where, char **out) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return RT_OK;
    if (!json_is_string(v)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a string", where, key);
    *out = rt_strdup(json_string_value(v));
    return RT_OK;
}

static rt_status req_string(json_t *o, const char *key, const char *where, char **out) {
    RT_TRY(opt_string(o, key, where, out));
    if (!*out) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key '%s'", where, key);
    if (!**out) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' is empty", where, key);
    return RT_OK;
}

/* Versions may be written as numbers (2) or strings ("2.1"); the store keeps their text. */
int rt_version_text(const json_t *v, char *buf, size_t cap) {
    if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, cap, "%g", json_real_value(v));
    else return 0;
    return 1;
}

static rt_status version_text(json_t *v, const char *where, const char *what, char **out) {
    char buf[64];
    if (json_is_string(v)) *out = rt_strdup(json_string_value(v)); /* whole, however long */
    else if (rt_version_text(v, buf, sizeof buf)) *out = rt_strdup(buf);
    else return rt_fail(RT_ERR_FORMAT, "%s: %s must be a string or a number", where, what);
    if (!**out) return rt_fail(RT_ERR_FORMAT, "%s: %s is empty", where, what);
    return RT_OK;
}

static rt_status parse_steps(json_t *steps, const char *where, rt_record *r) {
    if (!json_is_array(steps)) return rt_fail(RT_ERR_FORMAT, "%s: key 'steps' must be an array", where);
    r->n_steps = (int)json_array_size(steps);
    r->steps = rt_calloc((size_t)r->n_steps + 1, sizeof *r->steps);
    r->step_text = rt_calloc(3 * (size_t)r->n_steps + 1, sizeof *r->step_text);
    static const char *const keys[3] = {"thought", "action", "observation"};
    for (int i = 0; i < r->n_steps; i++) {
        json_t *s = json_array_get(steps, (size_t)i);
        if (!json_is_object(s)) return rt_fail(RT_ERR_FORMAT, "%s: step %d must be an object", where, i);
        for (int k = 0; k < 3; k++) {
            char key_where[512];
            snprintf(key_where, sizeof key_where, "%s: step %d", where, i);
            RT_TRY(opt_string(s, keys[k], key_where, &r->step_text[3 * i + k]));
        }
        r->steps[i].thought = r->step_text[3 * i];
        r->steps[i].action = r->step_text[3 * i + 1];
        r->steps[i].observation = r->step_text[3 * i + 2];
    }
    return RT_OK;
}

static rt_status parse_tools(json_t *o, const char *where, rt_record *r) {
    json_t *av = json_object_get(o, "api_versions");
    if (!av || json_is_null(av)) return RT_OK;
    if (!json_is_object(av)) return rt_fail(RT_ERR_FORMAT, "%s: key 'api_versions' must be an object", where);
    size_t n = json_object_size(av);
    r->tools = rt_calloc(n + 1, sizeof *r->tools);
    r->tool_versions = rt_calloc(n + 1, sizeof *r->tool_versions);
    const char *tool;
    json_t *v;
    json_object_foreach(av, tool, v) {
        char what[256];
        snprintf(what, sizeof what, "api_versions.%s", tool);
        r->tools[r->n_tools] = rt_strdup(tool);
        r->n_tools++;
        RT_TRY(version_text(v, where, what, &r->tool_versions[r->n_tools - 1]));
    }
    return RT_OK;
}

static rt_status parse_episode(json_t *o, const char *where, rt_record *r) {
    RT_TRY(req_string(o, "id", where, &r->id));
    RT_TRY(req_string(o, "env", where, &r->env));
    RT_TRY(req_string(o, "task", where, &r->task));
    RT_TRY(opt_string(o, "task_type", where, &r->task_type));
    RT_TRY(opt_string(o, "split", where, &r->split));
    RT_TRY(req_string(o, "outcome", where, &r->outcome));
    if (strcmp(r->outcome, "success") != 0 && strcmp(r->outcome, "failure") != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: outcome must be \"success\" or \"failure\", not \"%s\"", where, r->outcome);
    json_t *rw = json_object_get(o, "reward");
    if (!rw) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key 'reward'", where);
    if (!json_is_number(rw)) return rt_fail(RT_ERR_FORMAT, "%s: key 'reward' must be a number", where);
    r->reward = json_number_value(rw);
    if (!(r->reward >= 0.0 && r->reward <= 1.0)) return rt_fail(RT_ERR_FORMAT, "%s: reward %g is outside 0..1", where, r->reward);
    json_t *steps = json_object_get(o, "steps");
    if (!steps) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key 'steps'", where);
    RT_TRY(parse_steps(steps, where, r));
    return parse_tools(o, where, r);
}

static rt_status parse_doc(json_t *o, const char *where, rt_record *r) {
    r->is_doc = 1;
    RT_TRY(opt_string(o, "tool", where, &r->tool));
    if (!r->tool || !*r->tool) return rt_fail(RT_ERR_FORMAT, "%s: doc key 'tool' must be a non-empty string", where);
    json_t *v = json_object_get(o, "version");
    if (!v) return rt_fail(RT_ERR_FORMAT, "%s: doc is missing required key 'version'", where);
    RT_TRY(version_text(v, where, "doc key 'version'", &r->version));
    RT_TRY(opt_string(o, "text", where, &r->text));
    if (!r->text) return rt_fail(RT_ERR_FORMAT, "%s: doc is missing required key 'text'", where);
    return RT_OK;
}

rt_status rt_record_parse(const char *line, const char *where, rt_record *r) {
    memset(r, 0, sizeof *r);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    json_error_t err;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!o) return rt_fail(RT_ERR_FORMAT, "%s: invalid JSON at column %d: %s", where, err.column, err.text);
    rt_status s;
    if (!json_is_object(o)) s = rt_fail(RT_ERR_FORMAT, "%s: a line must be a JSON object", where);
    else if (json_object_get(o, "steps") || json_object_get(o, "task") || json_object_get(o, "id")) s = parse_episode(o, where, r);
    else if (json_object_get(o, "tool")) s = parse_doc(o, where, r);
    else s = rt_fail(RT_ERR_FORMAT, "%s: neither an episode (id, task, steps, ...) nor a doc (tool, version, text)", where);
    json_decref(o);
    if (s == RT_OK) {
        r->json = rt_malloc(len + 1);
        memcpy(r->json, line, len);
        r->json[len] = '\0';
    } else rt_record_free(r);
    return s;
}

void rt_record_free(rt_record *r) {
    free(r->json);
    free(r->id), free(r->env), free(r->task), free(r->task_type), free(r->split), free(r->outcome);
    if (r->step_text)
        for (int i = 0; i < 3 * r->n_steps; i++) free(r->step_text[i]);
    free(r->step_text);
    free(r->steps);
    for (int i = 0; i < r->n_tools; i++) free(r->tools[i]), free(r->tool_versions ? r->tool_versions[i] : NULL);
    free(r->tools);
    free(r->tool_versions);
    free(r->tool), free(r->version), free(r->text);
    memset(r, 0, sizeof *r);
}
