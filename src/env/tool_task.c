/* tool_task.c: task templates of a pack: checking them, drawing their parameters for an episode, and
 * the goal checks on the final state that give success and partial credit. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "env/tool_internal.h"

void rt_ta_perr(json_t *errors, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_ta_ident_ok(const char *s);

/* Days since 1970-01-01 and back (Howard Hinnant's civil calendar algorithms). */
static long days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d) {
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int iso_days(const json_t *v, long *out) {
    int y, m, d;
    const char *s = json_string_value(v);
    if (!s || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || !rt_ta_canon_valid(v, TA_DATE)) return 0;
    *out = days_from_civil(y, m, d);
    return 1;
}

static int row_matches(const json_t *row, const json_t *where, const ta_scope *sc) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)where, k, v) {
        char err[128];
        json_t *want = sc ? rt_ta_render_value(v, sc, err, sizeof err) : json_incref(v);
        int eq = want && json_equal(json_object_get(row, k), want);
        json_decref(want);
        if (!eq) return 0;
    }
    return 1;
}

int rt_ta_bind_params(ta_pack *p, const json_t *task, rt_rng *rng, json_t *tables, json_t **bind, char *err, size_t errcap) {
    json_t *b = json_object();
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(task, "params"), name, spec) {
        json_t *v = NULL, *x;
        if ((x = json_object_get(spec, "row"))) {
            json_t *rows = json_object_get(json_object_get(tables, json_string_value(x)), "rows");
            json_t *where = json_object_get(spec, "where");
            const char *df = json_string_value(json_object_get(spec, "distinct_from"));
            const json_t *other = df ? json_object_get(b, df) : NULL;
            size_t i, n = 0;
            json_t *row, *pick[1024];
            json_array_foreach(rows, i, row) if (n < 1024 && (!where || row_matches(row, where, NULL)) && !(other && json_equal(row, (json_t *)other)))
                pick[n++] = row;
            if (n) v = json_deep_copy(pick[rt_rng_below(rng, n)]);
        } else if ((x = json_object_get(spec, "choice"))) {
            if (json_array_size(x)) v = json_deep_copy(json_array_get(x, rt_rng_below(rng, json_array_size(x))));
        } else if ((x = json_object_get(spec, "int_between"))) {
            json_int_t lo = json_integer_value(json_array_get(x, 0)), hi = json_integer_value(json_array_get(x, 1));
            if (hi >= lo) v = json_integer(lo + (json_int_t)rt_rng_below(rng, (uint64_t)(hi - lo + 1)));
        } else if ((x = json_object_get(spec, "date_between"))) {
            long lo, hi;
            if (iso_days(json_array_get(x, 0), &lo) && iso_days(json_array_get(x, 1), &hi) && hi >= lo) {
                int y, m, d;
                char buf[16];
                civil_from_days(lo + (long)rt_rng_below(rng, (uint64_t)(hi - lo + 1)), &y, &m, &d);
                snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
                v = json_string(buf);
            }
        }
        if (!v) {
            snprintf(err, errcap, "parameter '%s' has no value to draw", name);
            json_decref(b);
            return 0;
        }
        json_object_set_new(b, name, v);
    }
    (void)p;
    *bind = b;
    return 1;
}

static int answer_matches(const json_t *given, const json_t *want) {
    char a[512], b[512];
    ta_scope none = {NULL};
    char err[64];
    json_t *wrap = json_object();
    json_object_set(wrap, "g", (json_t *)given);
    json_object_set(wrap, "w", (json_t *)want);
    none.bind = wrap;
    int ok = rt_ta_render_text("{g}", &none, a, sizeof a, err, sizeof err) && rt_ta_render_text("{w}", &none, b, sizeof b, err, sizeof err);
    json_decref(wrap);
    if (!ok) return 0;
    /* Case and surrounding blanks do not matter, as a person grading would not mind them. */
    char *s = a, *t = b;
    while (isspace((unsigned char)*s)) s++;
    while (isspace((unsigned char)*t)) t++;
    size_t ls = strlen(s), lt = strlen(t);
    while (ls && isspace((unsigned char)s[ls - 1])) ls--;
    while (lt && isspace((unsigned char)t[lt - 1])) lt--;
    return ls == lt && strncasecmp(s, t, ls) == 0;
}

void rt_ta_goal_count(ta_world *w, int *met, int *total) {
    ta_scope sc = {w->bind};
    *met = *total = 0;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(w->task, "goal"), i, g) {
        json_t *rows = json_object_get(json_object_get(w->tables, json_string_value(json_object_get(g, "table"))), "rows");
        json_t *where = json_object_get(g, "where"), *expect = json_object_get(g, "expect"), *count = json_object_get(g, "count");
        size_t k, n = 0, good = 0;
        json_t *row;
        json_array_foreach(rows, k, row) {
            if (where && !row_matches(row, where, &sc)) continue;
            n++;
            if (expect && row_matches(row, expect, &sc)) good++;
        }
        (*total)++;
        if (count) *met += (json_int_t)n == json_integer_value(count);
        else *met += good > 0;
    }
    json_t *ans = json_object_get(w->task, "answer");
    if (ans) {
        (*total)++;
        char err[128];
        json_t *want = rt_ta_render_value(ans, &sc, err, sizeof err);
        if (want && w->answer && answer_matches(w->answer, want)) (*met)++;
        json_decref(want);
    }
}

/* Tool ids a plan step may use under some version: the v1 id, and every tool split from it. */
static int key_known(const ta_pack *p, const char *tool, const char *key) {
    for (int v = 0; v < p->n_versions; v++) {
        size_t i;
        json_t *t;
        json_array_foreach(p->tools[v], i, t) {
            const char *id = json_string_value(json_object_get(t, "id")), *from = json_string_value(json_object_get(t, "split_from"));
            if ((ta_streq(id, tool) || ta_streq(from, tool)) && rt_ta_tool_arg_key(t, key)) return 1;
        }
    }
    return 0;
}

static void check_where(const ta_pack *p, const char *table, const json_t *obj, const char *path, const char *what, json_t *errors) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) if (rt_ta_column_type(p, table, k) == TA_BAD)
        rt_ta_perr(errors, path, "'%s' names '%s', not a column of '%s'", what, k, table);
}

static void check_params(const ta_pack *p, const json_t *params, const char *path, json_t *errors) {
    if (params && !json_is_object(params)) {
        rt_ta_perr(errors, path, "'params' must be an object");
        return;
    }
    const char *name;
    json_t *spec;
    json_object_foreach((json_t *)params, name, spec) {
        char pp[256];
        snprintf(pp, sizeof pp, "%s.params.%s", path, name);
        const char *row = json_string_value(json_object_get(spec, "row"));
        if (row) {
            if (!json_object_get(p->tables, row)) rt_ta_perr(errors, pp, "no table '%s'", row);
            else if (json_object_get(spec, "where")) check_where(p, row, json_object_get(spec, "where"), pp, "where", errors);
        } else if (!json_is_array(json_object_get(spec, "choice")) && !json_is_array(json_object_get(spec, "int_between")) &&
                   !json_is_array(json_object_get(spec, "date_between"))) {
            rt_ta_perr(errors, pp, "needs one of row, choice, int_between, date_between");
        }
    }
}

void rt_ta_check_tasks(ta_pack *p, json_t *errors) {
    if (!json_is_array(p->tasks) || json_array_size(p->tasks) == 0) {
        rt_ta_perr(errors, "$.tasks", "must be a non-empty array");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(p->tasks, i, t) {
        char path[256];
        snprintf(path, sizeof path, "$.tasks[%zu]", i);
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *split = json_string_value(json_object_get(t, "split"));
        if (!rt_ta_ident_ok(id)) rt_ta_perr(errors, path, "'id' must be an identifier");
        for (size_t j = 0; j < i && id; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(p->tasks, j), "id"));
            if (other && !strcmp(other, id)) rt_ta_perr(errors, path, "duplicate task id '%s'", id);
        }
        if (!split || (strcmp(split, "train") && strcmp(split, "test"))) rt_ta_perr(errors, path, "'split' must be \"train\" or \"test\"");
        if (!json_is_string(json_object_get(t, "text"))) rt_ta_perr(errors, path, "'text' must be a string");
        check_params(p, json_object_get(t, "params"), path, errors);
        json_t *plan = json_object_get(t, "plan");
        if (!json_is_array(plan) || json_array_size(plan) == 0) rt_ta_perr(errors, path, "'plan' must be a non-empty array");
        size_t k;
        json_t *st;
        json_array_foreach(plan, k, st) {
            char sp[256];
            snprintf(sp, sizeof sp, "%s.plan[%zu]", path, k);
            const char *tool = json_string_value(json_object_get(st, "tool"));
            if (!tool || !rt_ta_find_tool_id(p, 0, tool)) {
                rt_ta_perr(errors, sp, "names no tool '%s' of version 1", tool ? tool : "?");
                continue;
            }
            const char *key;
            json_t *v;
            json_t *args = json_object_get(st, "args");
            if (!json_is_object(args)) rt_ta_perr(errors, sp, "'args' must be an object");
            /* Arguments may come from later versions; when those failed to build, do not guess. */
            int all_versions = p->n_versions == 1 + (int)json_array_size(json_object_get(p->root, "versions"));
            json_object_foreach(args, key, v) if (all_versions && !key_known(p, tool, key)) rt_ta_perr(errors, sp, "'%s' takes no argument '%s' in any version", tool, key);
            if (!json_is_string(json_object_get(st, "thought"))) rt_ta_perr(errors, sp, "'thought' must be a string (the expert's reason)");
        }
        json_t *goal = json_object_get(t, "goal");
        if (goal && !json_is_array(goal)) rt_ta_perr(errors, path, "'goal' must be an array");
        if (json_array_size(goal) == 0 && !json_object_get(t, "answer")) rt_ta_perr(errors, path, "needs a 'goal' check or an 'answer'");
        if (json_object_get(t, "answer_from") && (!json_object_get(t, "answer") || !json_is_string(json_object_get(t, "answer_from"))))
            rt_ta_perr(errors, path, "'answer_from' must be a template string, and needs 'answer'");
        json_t *g;
        json_array_foreach(goal, k, g) {
            char gp[256];
            snprintf(gp, sizeof gp, "%s.goal[%zu]", path, k);
            const char *table = json_string_value(json_object_get(g, "table"));
            if (!table || !json_object_get(p->tables, table)) {
                rt_ta_perr(errors, gp, "'table' must name a table");
                continue;
            }
            check_where(p, table, json_object_get(g, "where"), gp, "where", errors);
            check_where(p, table, json_object_get(g, "expect"), gp, "expect", errors);
            if (!json_object_get(g, "expect") && !json_is_integer(json_object_get(g, "count")))
                rt_ta_perr(errors, gp, "needs 'expect' or an integer 'count'");
        }
    }
}
