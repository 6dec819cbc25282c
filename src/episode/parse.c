/* parse.c: reading the episode and doc formats: which a line is, and each validated, with messages
 * naming the line and the key. The JSON object is kept whole, so fields this version does not know
 * survive a read. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/episode.h"

rt_line_kind rt_line_kind_of(const json_t *o) {
    if (!json_is_object(o)) return RT_LINE_OTHER;
    if (json_object_get(o, "steps") || json_object_get(o, "task") || json_object_get(o, "id")) return RT_LINE_EPISODE;
    if (json_object_get(o, "tool")) return RT_LINE_DOC;
    return RT_LINE_OTHER;
}

/* Versions may be written as numbers (2) or strings ("2.1"); the store keeps their text. */
int rt_version_text(const json_t *v, char *buf, size_t cap) {
    if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, cap, "%g", json_real_value(v));
    else return 0;
    return 1;
}

/* A whole version text, however long a string, or an error naming what. */
static rt_status version_check(const json_t *v, const char *where, const char *what, char **out) {
    char buf[64];
    *out = NULL;
    if (json_is_string(v)) *out = rt_strdup(json_string_value(v));
    else if (rt_version_text(v, buf, sizeof buf)) *out = rt_strdup(buf);
    else return rt_fail(RT_ERR_FORMAT, "%s: %s must be a string or a number", where, what);
    if (!**out) return rt_fail(RT_ERR_FORMAT, "%s: %s is empty", where, what);
    return RT_OK;
}

static rt_status opt_string(json_t *o, const char *key, const char *where, const char **out) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return RT_OK;
    if (!json_is_string(v)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be a string", where, key);
    *out = json_string_value(v);
    return RT_OK;
}

static rt_status req_string(json_t *o, const char *key, const char *where, const char **out) {
    RT_TRY(opt_string(o, key, where, out));
    if (!*out) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key '%s'", where, key);
    if (!**out) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' is empty", where, key);
    return RT_OK;
}

static rt_status parse_steps(json_t *steps, const char *where, rt_episode *e) {
    if (!json_is_array(steps)) return rt_fail(RT_ERR_FORMAT, "%s: key 'steps' must be an array", where);
    e->n_steps = (int)json_array_size(steps);
    e->steps = rt_calloc((size_t)e->n_steps + 1, sizeof *e->steps);
    for (int i = 0; i < e->n_steps; i++) {
        json_t *s = json_array_get(steps, (size_t)i);
        char key_where[512];
        snprintf(key_where, sizeof key_where, "%s: step %d", where, i);
        if (!json_is_object(s)) return rt_fail(RT_ERR_FORMAT, "%s: step %d must be an object", where, i);
        RT_TRY(opt_string(s, "thought", key_where, &e->steps[i].thought));
        RT_TRY(opt_string(s, "action", key_where, &e->steps[i].action));
        RT_TRY(opt_string(s, "observation", key_where, &e->steps[i].observation));
        e->steps[i].slip = json_is_true(json_object_get(s, "slip"));
    }
    return RT_OK;
}

static rt_status check_versions(json_t *o, const char *where, rt_episode *e) {
    json_t *av = json_object_get(o, "api_versions");
    if (!av || json_is_null(av)) return RT_OK;
    if (!json_is_object(av)) return rt_fail(RT_ERR_FORMAT, "%s: key 'api_versions' must be an object", where);
    const char *tool;
    json_t *v;
    json_object_foreach(av, tool, v) {
        char what[256], *text;
        snprintf(what, sizeof what, "api_versions.%s", tool);
        rt_status s = version_check(v, where, what, &text);
        free(text);
        RT_TRY(s);
    }
    e->api_versions = av;
    return RT_OK;
}

static rt_status parse_episode(json_t *o, const char *where, int strict, rt_episode *e) {
    RT_TRY(req_string(o, "id", where, &e->id));
    RT_TRY(req_string(o, "task", where, &e->task));
    RT_TRY(opt_string(o, "task_type", where, &e->task_type));
    RT_TRY(opt_string(o, "split", where, &e->split));
    RT_TRY(opt_string(o, "env", where, &e->env));
    RT_TRY(opt_string(o, "outcome", where, &e->outcome));
    json_t *steps = json_object_get(o, "steps");
    if (!strict) { /* what a reader of steps needs: id, task, steps */
        if (!steps) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key 'steps'", where);
        RT_TRY(parse_steps(steps, where, e));
        e->first_observation = json_string_value(json_object_get(json_object_get(o, "meta"), "first_observation"));
        e->api_versions = json_object_get(o, "api_versions");
        return RT_OK;
    }
    RT_TRY(req_string(o, "env", where, &e->env));
    RT_TRY(req_string(o, "outcome", where, &e->outcome));
    if (strcmp(e->outcome, "success") != 0 && strcmp(e->outcome, "failure") != 0)
        return rt_fail(RT_ERR_FORMAT, "%s: outcome must be \"success\" or \"failure\", not \"%s\"", where, e->outcome);
    json_t *rw = json_object_get(o, "reward");
    if (!rw) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key 'reward'", where);
    if (!json_is_number(rw)) return rt_fail(RT_ERR_FORMAT, "%s: key 'reward' must be a number", where);
    e->reward = json_number_value(rw);
    if (!(e->reward >= 0.0 && e->reward <= 1.0)) return rt_fail(RT_ERR_FORMAT, "%s: reward %g is outside 0..1", where, e->reward);
    if (!steps) return rt_fail(RT_ERR_FORMAT, "%s: episode is missing required key 'steps'", where);
    RT_TRY(parse_steps(steps, where, e));
    e->first_observation = json_string_value(json_object_get(json_object_get(o, "meta"), "first_observation"));
    return check_versions(o, where, e);
}

static rt_status read_episode(json_t *o, const char *where, int strict, rt_episode *e) {
    memset(e, 0, sizeof *e);
    if (!json_is_object(o)) return rt_fail(RT_ERR_FORMAT, "%s: a line must be a JSON object", where);
    e->json = json_incref(o);
    rt_status s = parse_episode(o, where, strict, e);
    if (s != RT_OK) rt_episode_free(e);
    return s;
}

rt_status rt_episode_from_json(json_t *o, const char *where, rt_episode *e) { return read_episode(o, where, 1, e); }

rt_status rt_episode_steps_from_json(json_t *o, const char *where, rt_episode *e) { return read_episode(o, where, 0, e); }

void rt_episode_free(rt_episode *e) {
    json_decref(e->json);
    free(e->steps);
    memset(e, 0, sizeof *e);
}

int rt_episode_succeeded(const json_t *o) {
    const char *outcome = json_string_value(json_object_get(o, "outcome"));
    return outcome && strcmp(outcome, "success") == 0;
}

rt_status rt_doc_from_json(json_t *o, const char *where, rt_doc *d) {
    memset(d, 0, sizeof *d);
    rt_status s = RT_OK;
    json_t *v = json_object_get(o, "version");
    if ((s = opt_string(o, "tool", where, &d->tool)) != RT_OK) return s;
    if (!d->tool || !*d->tool) return rt_fail(RT_ERR_FORMAT, "%s: doc key 'tool' must be a non-empty string", where);
    if (!v) return rt_fail(RT_ERR_FORMAT, "%s: doc is missing required key 'version'", where);
    if ((s = version_check(v, where, "doc key 'version'", &d->version)) == RT_OK &&
        (s = opt_string(o, "text", where, &d->text)) == RT_OK && !d->text)
        s = rt_fail(RT_ERR_FORMAT, "%s: doc is missing required key 'text'", where);
    if (s != RT_OK) {
        free(d->version);
        memset(d, 0, sizeof *d);
        return s;
    }
    d->json = json_incref(o);
    return RT_OK;
}

void rt_doc_free(rt_doc *d) {
    json_decref(d->json);
    free(d->version);
    memset(d, 0, sizeof *d);
}
