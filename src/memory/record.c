/* record.c: one input line: an episode or a doc, validated by the episode format's reader
 * (src/episode), copied into the fields the store indexes. The line itself is kept verbatim, so fields
 * this version does not know survive add -> export. */
#include "memory/memory_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/episode.h"

static char *dup_or_null(const char *s) { return s ? rt_strdup(s) : NULL; }

/* The store's copy of a validated episode (rt_episode_from_json checks it). */
static rt_status parse_episode(json_t *o, const char *where, rt_record *r) {
    rt_episode e;
    RT_TRY(rt_episode_from_json(o, where, &e));
    r->id = rt_strdup(e.id), r->env = rt_strdup(e.env), r->task = rt_strdup(e.task), r->outcome = rt_strdup(e.outcome);
    r->task_type = dup_or_null(e.task_type), r->split = dup_or_null(e.split);
    r->reward = e.reward;
    r->n_steps = e.n_steps;
    r->steps = rt_calloc((size_t)r->n_steps + 1, sizeof *r->steps);
    r->step_text = rt_calloc(3 * (size_t)r->n_steps + 1, sizeof *r->step_text);
    for (int i = 0; i < r->n_steps; i++) {
        r->steps[i].thought = r->step_text[3 * i] = dup_or_null(e.steps[i].thought);
        r->steps[i].action = r->step_text[3 * i + 1] = dup_or_null(e.steps[i].action);
        r->steps[i].observation = r->step_text[3 * i + 2] = dup_or_null(e.steps[i].observation);
    }
    size_t n = json_object_size(e.api_versions);
    r->tools = rt_calloc(n + 1, sizeof *r->tools);
    r->tool_versions = rt_calloc(n + 1, sizeof *r->tool_versions);
    const char *tool;
    json_t *v;
    json_object_foreach((json_t *)e.api_versions, tool, v) {
        char buf[64];
        /* validated: a string (kept whole, however long) or a number */
        r->tools[r->n_tools] = rt_strdup(tool);
        r->tool_versions[r->n_tools++] = rt_strdup(json_is_string(v) ? json_string_value(v) : (rt_version_text(v, buf, sizeof buf), buf));
    }
    rt_episode_free(&e);
    return RT_OK;
}

static rt_status parse_doc(json_t *o, const char *where, rt_record *r) {
    rt_doc d;
    r->is_doc = 1;
    RT_TRY(rt_doc_from_json(o, where, &d));
    r->tool = rt_strdup(d.tool), r->text = rt_strdup(d.text), r->version = d.version;
    d.version = NULL;
    rt_doc_free(&d);
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
    rt_line_kind kind = rt_line_kind_of(o);
    if (!json_is_object(o)) s = rt_fail(RT_ERR_FORMAT, "%s: a line must be a JSON object", where);
    else if (kind == RT_LINE_EPISODE) s = parse_episode(o, where, r);
    else if (kind == RT_LINE_DOC) s = parse_doc(o, where, r);
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
