/* tool_slip.c: the toolapi world's plausible slips, the ways agents get a call wrong: the expert's next
 * call with an older version's tool or argument name, a shortened argument name, a date in another
 * format, a quantity in another unit, an id without its dash, or the whole call as version 1 documented
 * it. Each is tried on a copy of the tables and kept only if the API rejects it, so nothing changes and
 * the expert's next call is the recovery; its thought opens with what went wrong. Only older versions
 * are imitated, so a slip never shows a name the episode's version has not reached (the held-out newest
 * version stays out of the older versions' episodes). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

#define CALL_FLAGS JSON_REAL_PRECISION(15)

/* Would the API reject this call? Tried on a copy of the tables, so the episode is untouched. */
static int rejected(ta_world *w, const char *name, const json_t *args) {
    json_t *live = w->tables, *result = NULL;
    char err[256];
    w->tables = json_deep_copy(live);
    int ok = rt_ta_call(w, name, args, &result, err, sizeof err);
    json_decref(result);
    json_decref(w->tables);
    w->tables = live;
    return !ok;
}

/* Adds {"call", "note"} to cands when the call differs from the right one and the API rejects it. */
static void offer(ta_world *w, json_t *cands, const char *right, const char *name, const json_t *args, const char *note) {
    char *s = json_dumps(args, CALL_FLAGS), call[RT_ENV_TEXT_MAX];
    snprintf(call, sizeof call, "%s %s", name, s ? s : "{}");
    free(s);
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c) if (!strcmp(json_string_value(json_object_get(c, "call")), call)) return;
    if (!strcmp(call, right) || !rejected(w, name, args)) return;
    json_array_append_new(cands, json_pack("{s:s, s:s}", "call", call, "note", note));
}

/* The tool a call went to under an older version vo: the same id, or the one it was split from. */
static const json_t *older_tool(const ta_pack *p, int vo, const json_t *tool) {
    const json_t *t = rt_ta_find_tool_id(p, vo, json_string_value(json_object_get(tool, "id")));
    const char *from = json_string_value(json_object_get(tool, "split_from"));
    return t ? t : from ? rt_ta_find_tool_id(p, vo, from) : NULL;
}

static void old_names(ta_world *w, json_t *cands, const char *right, const json_t *tool, const char *step_id, const json_t *args) {
    const char *name = json_string_value(json_object_get(tool, "name"));
    char note[256];
    for (int vo = 0; vo <= w->version; vo++) {
        const json_t *olds[2] = {older_tool(w->pk, vo, tool), rt_ta_find_tool_id(w->pk, vo, step_id)};
        for (int k = 0; k < 2; k++) {
            if (!olds[k] || (vo == w->version && !json_is_true(json_object_get(olds[k], "deprecated")))) continue;
            const char *old = json_string_value(json_object_get(olds[k], "name"));
            snprintf(note, sizeof note, "The v%d tool for this is %s, not %s.", w->version + 1, name, old);
            offer(w, cands, right, old, args, note);
        }
    }
}

/* The other unit of a quantity, the other common format of a date. */
static const char *other_format(ta_type t, const char *fmt) {
    const char *base = rt_ta_format_default(t);
    if (!base) return NULL;
    if (!fmt) fmt = base;
    if (t == TA_DATE) return strcmp(fmt, "iso") ? "iso" : "dmy";
    static const char *const OTHER[][2] = {{"cents", "dollars"}, {"minutes", "hours"}, {"grams", "kilograms"}};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(base, OTHER[i][0])) return strcmp(fmt, OTHER[i][0]) ? OTHER[i][0] : OTHER[i][1];
    return NULL;
}

/* "EV-3" -> "EV3": an id written without its dash. Returns 0 when the value is not such an id. */
static int undashed(const char *s, char *out, size_t cap) {
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || !isdigit((unsigned char)dash[1]) || strlen(s) >= cap) return 0;
    for (const char *q = s; q < dash; q++)
        if (!isupper((unsigned char)*q)) return 0;
    snprintf(out, cap, "%.*s%s", (int)(dash - s), s, dash + 1);
    return 1;
}

/* One argument got wrong: an older or shortened name, another format or unit, an id without its dash. */
static void arg_slips(ta_world *w, json_t *cands, const char *right, const json_t *tool, const json_t *args) {
    const char *name = json_string_value(json_object_get(tool, "name")), *an;
    json_t *v;
    char note[256], buf[128];
    json_object_foreach((json_t *)args, an, v) {
        const json_t *a = rt_ta_tool_arg(tool, an);
        const char *key = json_string_value(json_object_get(a, "key")), *wrong = NULL;
        for (int vo = 0; vo < w->version && !wrong; vo++) {
            const json_t *oa = rt_ta_tool_arg_key(older_tool(w->pk, vo, tool), key);
            const char *on = json_string_value(json_object_get(oa, "name"));
            if (on && strcmp(on, an)) wrong = on;
        }
        const char *us = strrchr(an, '_');
        if (!wrong && us && us[1]) wrong = us + 1; /* "ship_date" -> "date", "event_id" -> "id" */
        if (wrong && !json_object_get(args, wrong)) {
            json_t *bad = json_deep_copy(args);
            json_object_set(bad, wrong, v);
            json_object_del(bad, an);
            snprintf(note, sizeof note, "%s takes '%s' in v%d, not '%s'.", name, an, w->version + 1, wrong);
            offer(w, cands, right, name, bad, note);
            json_decref(bad);
        }
        ta_type t = rt_ta_type_parse(json_string_value(json_object_get(a, "type")));
        const char *fmt = json_string_value(json_object_get(a, "format")), *other = other_format(t, fmt);
        json_t *canon = NULL, *bad = NULL;
        if (other && rt_ta_value_in(v, t, fmt, NULL, an, &canon, buf, sizeof buf)) {
            bad = json_deep_copy(args);
            json_object_set_new(bad, an, rt_ta_value_out(canon, t, other));
            snprintf(note, sizeof note, "In v%d '%s' takes %s.", w->version + 1, an, rt_ta_format_describe(t, fmt));
            offer(w, cands, right, name, bad, note);
        }
        json_decref(canon), json_decref(bad);
        if (json_is_string(v) && undashed(json_string_value(v), buf, sizeof buf)) {
            bad = json_deep_copy(args);
            json_object_set_new(bad, an, json_string(buf));
            snprintf(note, sizeof note, "Ids are written with their dash, like %s.", json_string_value(v));
            offer(w, cands, right, name, bad, note);
            json_decref(bad);
        }
    }
}

/* The call exactly as version 1 documented it. */
static void v1_call(ta_world *w, json_t *cands, const char *right) {
    json_t *calls;
    char err[256], name[128];
    if (w->version == 0 || !rt_ta_render_step(w, 0, w->pc.tool_step, w->xbind, &calls, err, sizeof err)) return;
    const char *call = json_string_value(json_object_get(json_array_get(calls, 0), "call"));
    const char *sp = call ? strchr(call, ' ') : NULL;
    json_t *args = sp ? json_loads(sp + 1, 0, NULL) : NULL;
    if (args && (size_t)(sp - call) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(sp - call), call);
        char note[256];
        snprintf(note, sizeof note, "That is how v1 took this call; the v%d docs differ.", w->version + 1);
        offer(w, cands, right, name, args, note);
    }
    json_decref(args);
    json_decref(calls);
}

int rt_ta_slip(void *world, uint64_t draw, rt_env_advice *out) {
    ta_world *w = world;
    const json_t *plan = json_object_get(w->task, "plan");
    json_t *calls;
    char err[256], name[128];
    if (w->finished || w->flaw == RT_FLAW_WANDER || w->pc.tool_step >= (int)json_array_size(plan)) return 0;
    /* Not the step a flawed expert is about to skip or call the old way: its next action is no recovery. */
    if ((w->flaw == RT_FLAW_SKIP_STEP || w->flaw == RT_FLAW_STALE_CALL) && w->pc.tool_step == w->flaw_step && !w->flaw_spent) return 0;
    if (!rt_ta_render_step(w, w->version, w->pc.tool_step, w->xbind, &calls, err, sizeof err)) return 0;
    const json_t *c = json_array_get(calls, (size_t)w->pc.part);
    const char *right = c ? json_string_value(json_object_get(c, "call")) : NULL;
    const char *sp = right ? strchr(right, ' ') : NULL;
    json_t *args = sp ? json_loads(sp + 1, 0, NULL) : NULL, *cands = json_array();
    const json_t *tool = NULL;
    if (args && (size_t)(sp - right) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(sp - right), right);
        tool = rt_ta_find_tool(w->pk, w->version, name);
    }
    /* Only where the expert's next call works, so that the step after the slip is a recovery. */
    if (tool && !rejected(w, name, args)) {
        const char *step_id = json_string_value(json_object_get(json_array_get(plan, (size_t)w->pc.tool_step), "tool"));
        old_names(w, cands, right, tool, step_id, args);
        arg_slips(w, cands, right, tool, args);
        v1_call(w, cands, right);
    }
    size_t n = json_array_size(cands);
    if (n > 0) {
        const json_t *pick = json_array_get(cands, (size_t)(draw % n));
        snprintf(out->action, sizeof out->action, "%s", json_string_value(json_object_get(pick, "call")));
        /* The slip's thought is the plan's reason, without the expert's reading of the docs. */
        const char *th = json_string_value(json_object_get(c, "thought")), *per = strstr(th, " Per the v");
        snprintf(out->thought, sizeof out->thought, "%.*s", per ? (int)(per - th) : (int)strlen(th), th);
        snprintf(w->slip_action, sizeof w->slip_action, "%s", out->action);
        snprintf(w->slip_note, sizeof w->slip_note, "%s", json_string_value(json_object_get(pick, "note")));
    }
    json_decref(args), json_decref(cands), json_decref(calls);
    return n > 0;
}
