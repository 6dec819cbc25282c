/* tool_expert.c: the toolapi expert follows a template's plan, written once against version 1, and
 * renders each step for the version in use: the tool's current name (or the tools it was split into,
 * or the one that replaces it), current argument names and value formats. Its thought says why, and
 * where the docs of this version differ from what it would otherwise have called. The noisy expert's
 * flaws (wrong row, skipped step, stale call, wandering) are applied here. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

#define CALL_FLAGS JSON_REAL_PRECISION(15)

/* The concrete tools a plan step calls under version vi. */
static int step_tools(const ta_pack *p, int vi, const char *id, json_t **tools, int cap) {
    json_t *t = rt_ta_find_tool_id(p, vi, id);
    if (t && json_is_true(json_object_get(t, "deprecated"))) t = rt_ta_find_tool_id(p, vi, json_string_value(json_object_get(t, "use")));
    if (t) {
        tools[0] = t;
        return 1;
    }
    int n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(p->tools[vi], i, x) {
        const char *from = json_string_value(json_object_get(x, "split_from"));
        if (from && !strcmp(from, id) && n < cap) tools[n++] = x;
    }
    return n;
}

/* What the docs of version vi change for this call, against version 1, in a short clause list. */
static void drift_note(const ta_pack *p, int vi, const char *id, const json_t *tool, const json_t *step_args, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    if (vi == 0) return;
    const json_t *old = rt_ta_find_tool_id(p, 0, id);
    const char *name = json_string_value(json_object_get(tool, "name"));
    const char *tid = json_string_value(json_object_get(tool, "id"));
    json_t *was = rt_ta_find_tool_id(p, vi, id);
    if (was && json_is_true(json_object_get(was, "deprecated")))
        rt_env_appendf(out, cap, &len, " %s is deprecated, so I use %s instead;", id, name);
    else if (json_object_get(tool, "split_from"))
        rt_env_appendf(out, cap, &len, " %s was split, and %s does this part;", id, name);
    else if (strcmp(tid, name) != 0)
        rt_env_appendf(out, cap, &len, " the tool is now called %s;", name);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)step_args, key, v) {
        const json_t *a = rt_ta_tool_arg_key(tool, key), *oa = old ? rt_ta_tool_arg_key(old, key) : NULL;
        if (!a) continue;
        const char *an = json_string_value(json_object_get(a, "name"));
        const char *fmt = json_string_value(json_object_get(a, "format"));
        ta_type t = rt_ta_type_parse(json_string_value(json_object_get(a, "type")));
        if (!oa) {
            rt_env_appendf(out, cap, &len, " '%s' is now required;", an);
            continue;
        }
        const char *on = json_string_value(json_object_get(oa, "name"));
        const char *ofmt = json_string_value(json_object_get(oa, "format"));
        if (strcmp(on, an) != 0) rt_env_appendf(out, cap, &len, " '%s' is now '%s';", on, an);
        if (fmt && ofmt && strcmp(fmt, ofmt) != 0) rt_env_appendf(out, cap, &len, " '%s' takes %s;", an, rt_ta_format_describe(t, fmt));
    }
    if (len > 0) out[len - 1] = '.';
}

int rt_ta_render_step(ta_world *w, int vi, int si, const json_t *bind, json_t **calls, char *err, size_t errcap) {
    const json_t *step = json_array_get(json_object_get(w->task, "plan"), (size_t)si);
    const char *id = json_string_value(json_object_get(step, "tool"));
    const json_t *sargs = json_object_get(step, "args");
    json_t *tools[8];
    int n = step_tools(w->pk, vi, id, tools, 8);
    ta_scope sc = {bind};
    char why[RT_ENV_TEXT_MAX];
    if (!rt_ta_render_text(json_string_value(json_object_get(step, "thought")), &sc, why, sizeof why, err, errcap)) return 0;
    *calls = json_array();
    for (int i = 0; i < n; i++) {
        const json_t *ef = json_object_get(tools[i], "effect");
        const char *key = json_string_value(json_object_get(ef, "key"));
        json_t *args = json_object();
        int useful = 0;
        const char *k;
        json_t *tmpl;
        json_object_foreach((json_t *)sargs, k, tmpl) {
            const json_t *a = rt_ta_tool_arg_key(tools[i], k);
            if (!a) continue;
            json_t *canon = rt_ta_render_value(tmpl, &sc, err, errcap);
            if (!canon) {
                json_decref(args);
                json_decref(*calls);
                return 0;
            }
            json_object_set_new(args, json_string_value(json_object_get(a, "name")),
                                rt_ta_value_out(canon, rt_ta_type_parse(json_string_value(json_object_get(a, "type"))),
                                             json_string_value(json_object_get(a, "format"))));
            json_decref(canon);
            useful |= !key || strcmp(k, key) != 0;
        }
        /* A part of a split tool that none of this step's arguments need is not called. */
        if (n > 1 && !useful) {
            json_decref(args);
            continue;
        }
        char *s = json_dumps(args, CALL_FLAGS);
        json_decref(args);
        char call[RT_ENV_TEXT_MAX], note[512], thought[RT_ENV_TEXT_MAX];
        snprintf(call, sizeof call, "%s %s", json_string_value(json_object_get(tools[i], "name")), s ? s : "{}");
        free(s);
        drift_note(w->pk, vi, id, tools[i], sargs, note, sizeof note);
        if (note[0]) snprintf(thought, sizeof thought, "%s Per the v%d docs:%s", why, vi + 1, note);
        else snprintf(thought, sizeof thought, "%s", why);
        json_t *c = json_object();
        json_object_set_new(c, "call", json_string(call));
        json_object_set_new(c, "thought", json_string(thought));
        json_array_append_new(*calls, c);
    }
    return 1;
}

/* Values a step saves from its result: "field", "0.field" (first item of a list). */
static void apply_saves(ta_world *w, const json_t *step) {
    const char *var;
    json_t *path;
    json_object_foreach(json_object_get(step, "save"), var, path) {
        const json_t *v = w->last_result;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", json_string_value(path) ? json_string_value(path) : "");
        /* Tolerant of the result's shape, as a reader is: a field of a list means its first item's (a
         * tool deprecated for a search returns a list), an index into an object is the object. */
        char *save = NULL;
        for (char *tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
            int index = isdigit((unsigned char)tok[0]);
            if (json_is_array(v)) v = json_array_get(v, index ? (size_t)strtoul(tok, NULL, 10) : 0);
            if (v && !index) v = json_object_get(v, tok);
        }
        if (v) json_object_set_new(w->xbind, var, json_deep_copy(v));
    }
}

void rt_ta_expert_observe(ta_world *w, const char *action, int ok) {
    if (!w->pending_valid || strcmp(action, w->pending) != 0) return;
    w->pending_valid = 0;
    const json_t *plan = json_object_get(w->task, "plan");
    int stale = w->flaw == RT_FLAW_STALE_CALL && w->pc.tool_step == w->flaw_step && !w->flaw_spent;
    if (!ok && !stale) return; /* retried at the next step */
    if (stale) w->flaw_spent = 1; /* the flawed expert moves on as if the call had worked */
    json_t *calls;
    char err[256];
    int n = 0;
    if (w->pc.tool_step < (int)json_array_size(plan) &&
        rt_ta_render_step(w, stale ? 0 : w->version, w->pc.tool_step, w->xbind, &calls, err, sizeof err)) {
        n = (int)json_array_size(calls);
        json_decref(calls);
    }
    if (w->pc.part + 1 < n && !stale) {
        w->pc.part++;
        return;
    }
    if (ok) apply_saves(w, json_array_get(plan, (size_t)w->pc.tool_step));
    w->pc.tool_step++;
    w->pc.part = 0;
}

static int finish_advice(ta_world *w, rt_env_advice *out) {
    /* The expert answers from what its calls returned ("answer_from", a saved value), so a lookup
     * that failed or read the wrong row gives a wrong or no answer, as it would for an agent. */
    const json_t *ans = json_object_get(w->task, "answer_from");
    if (!ans) ans = json_object_get(w->task, "answer");
    if (!json_object_get(w->task, "answer")) {
        snprintf(out->action, sizeof out->action, "finish {}");
        snprintf(out->thought, sizeof out->thought, "Everything the task asks for is done, so I finish.");
    } else {
        char err[128];
        ta_scope sc = {w->xbind};
        json_t *v = rt_ta_render_value(ans, &sc, err, sizeof err);
        if (!v) return 0;
        json_t *o = json_object();
        json_object_set_new(o, "answer", v);
        char *s = json_dumps(o, CALL_FLAGS);
        char text[256];
        ta_scope sc2 = {o};
        rt_ta_render_text("{answer}", &sc2, text, sizeof text, err, sizeof err);
        snprintf(out->action, sizeof out->action, "finish %s", s ? s : "{}");
        snprintf(out->thought, sizeof out->thought, "The result shows the answer: %s. I submit it.", text);
        free(s);
        json_decref(o);
    }
    snprintf(w->pending, sizeof w->pending, "%s", out->action);
    w->pending_valid = 1;
    return 1;
}

static int expert_next(ta_world *w, rt_env_advice *out) {
    if (w->finished) return 0;
    const json_t *plan = json_object_get(w->task, "plan");
    int n_steps = (int)json_array_size(plan);
    char err[256];
    json_t *calls;
    if (w->flaw == RT_FLAW_WANDER) {
        /* Stuck in a loop: the same lookup again and again until the budget runs out. */
        if (!rt_ta_render_step(w, w->version, w->flaw_step, w->xbind, &calls, err, sizeof err) || json_array_size(calls) == 0) return 0;
        snprintf(out->action, sizeof out->action, "%s", json_string_value(json_object_get(json_array_get(calls, 0), "call")));
        snprintf(out->thought, sizeof out->thought, "I am not sure that worked; let me check again.");
        json_decref(calls);
        return 1;
    }
    if (w->flaw == RT_FLAW_SKIP_STEP && w->pc.tool_step == w->flaw_step && !w->flaw_spent) {
        w->flaw_spent = 1;
        w->pc.tool_step++;
        w->pc.part = 0;
    }
    if (w->pc.tool_step >= n_steps) return finish_advice(w, out);
    int stale = w->flaw == RT_FLAW_STALE_CALL && w->pc.tool_step == w->flaw_step && !w->flaw_spent;
    if (!rt_ta_render_step(w, stale ? 0 : w->version, w->pc.tool_step, w->xbind, &calls, err, sizeof err)) return 0;
    if (json_array_size(calls) == 0) {
        json_decref(calls);
        w->pc.tool_step++;
        w->pc.part = 0;
        return expert_next(w, out);
    }
    json_t *c = json_array_get(calls, (size_t)(stale ? 0 : w->pc.part));
    out->slip = stale; /* the flawed expert's version-1 call disagrees with the docs in force */
    snprintf(out->action, sizeof out->action, "%s", json_string_value(json_object_get(c, "call")));
    snprintf(out->thought, sizeof out->thought, "%s", json_string_value(json_object_get(c, "thought")));
    json_decref(calls);
    snprintf(w->pending, sizeof w->pending, "%s", out->action);
    w->pending_valid = 1;
    return 1;
}

/* After a slip (tool_slip.c) the recovery's thought first says what went wrong. */
int rt_ta_expert(void *world, rt_env_advice *out) {
    ta_world *w = world;
    out->slip = 0;
    int r = expert_next(w, out);
    if (r == 1 && w->note_ready) rt_env_prefix(out->thought, sizeof out->thought, w->slip_note);
    w->note_ready = 0;
    return r;
}

/* Does plan step si call something different under version vi than under version 1? */
static int step_drifted(ta_world *w, int si) {
    json_t *a, *b;
    char err[128];
    int differs = 0;
    if (!rt_ta_render_step(w, 0, si, w->bind, &a, err, sizeof err)) return 0;
    if (rt_ta_render_step(w, w->version, si, w->bind, &b, err, sizeof err)) {
        differs = json_array_size(a) != json_array_size(b) ||
                  strcmp(json_string_value(json_object_get(json_array_get(a, 0), "call")),
                         json_string_value(json_object_get(json_array_get(b, 0), "call"))) != 0;
        json_decref(b);
    }
    json_decref(a);
    return differs;
}

static int mutating(const ta_pack *p, const char *id) {
    const json_t *t = rt_ta_find_tool_id(p, 0, id);
    const char *op = json_string_value(json_object_get(json_object_get(t, "effect"), "op"));
    return op && (!strcmp(op, "insert") || !strcmp(op, "update") || !strcmp(op, "delete"));
}

/* A different value for a parameter drawn from a list or a range: the wrong quantity, room or day. */
static int wrong_value(ta_world *w) {
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(w->task, "params"), name, spec) {
        if (json_object_get(spec, "row")) continue;
        json_t *task_one = json_object(), *params = json_object(), *drawn = NULL;
        json_object_set(params, name, spec);
        json_object_set_new(task_one, "params", params);
        char err[64];
        for (int tries = 0; tries < 16; tries++) {
            json_decref(drawn);
            drawn = NULL;
            if (!rt_ta_bind_params(w->pk, task_one, &w->rng, w->tables, &drawn, err, sizeof err)) break;
            if (!json_equal(json_object_get(drawn, name), json_object_get(w->bind, name))) {
                json_object_set(w->xbind, name, json_object_get(drawn, name));
                json_decref(drawn);
                json_decref(task_one);
                return 1;
            }
        }
        json_decref(drawn);
        json_decref(task_one);
    }
    return 0;
}

/* The wrong row: another row of the same table for one of the task's row parameters (or, for tasks
 * without one, a wrong value). */
static int wrong_row(ta_world *w) {
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(w->task, "params"), name, spec) {
        const char *table = json_string_value(json_object_get(spec, "row"));
        if (!table) continue;
        json_t *rows = json_object_get(json_object_get(w->tables, table), "rows");
        size_t n = json_array_size(rows);
        if (n < 2) continue;
        for (int tries = 0; tries < 16; tries++) {
            json_t *r = json_array_get(rows, rt_rng_below(&w->rng, n));
            if (!json_equal(r, json_object_get(w->bind, name))) {
                json_object_set_new(w->xbind, name, json_deep_copy(r));
                return 1;
            }
        }
    }
    return wrong_value(w);
}

int rt_ta_set_flaw(void *world, rt_env_flaw flaw) {
    ta_world *w = world;
    const json_t *plan = json_object_get(w->task, "plan");
    int n = (int)json_array_size(plan);
    w->flaw_spent = 0;
    w->flaw_step = -1;
    switch (flaw) {
    case RT_FLAW_WRONG_OBJECT:
        if (!wrong_row(w)) return 0;
        break;
    case RT_FLAW_SKIP_STEP:
        for (int i = n - 1; i >= 0 && w->flaw_step < 0; i--)
            if (mutating(w->pk, json_string_value(json_object_get(json_array_get(plan, (size_t)i), "tool")))) w->flaw_step = i;
        if (w->flaw_step < 0) return 0;
        break;
    case RT_FLAW_STALE_CALL:
        if (w->version == 0) return 0;
        for (int i = 0; i < n && w->flaw_step < 0; i++)
            if (step_drifted(w, i)) w->flaw_step = i;
        if (w->flaw_step < 0) return 0;
        break;
    case RT_FLAW_WANDER:
        /* Loops on a lookup (never on a change, which could do the task by accident). */
        for (int i = 0; i < n && w->flaw_step < 0; i++)
            if (!mutating(w->pk, json_string_value(json_object_get(json_array_get(plan, (size_t)i), "tool")))) w->flaw_step = i;
        if (w->flaw_step < 0 || w->flaw_step > w->pc.tool_step) return 0;
        break;
    default: break;
    }
    w->flaw = flaw;
    return 1;
}
