/* episodes.c: what the agent did, from the episode files: for each configuration one step's retrieved
 * context (the task, the step, the episodes retrieved into its prompt with their ids, types and scores,
 * and what the agent did with it), and one episode of (c) beside (e) on the same seed. An episode file
 * that is missing or unreadable leaves its part out with a note; lines that are not episodes are
 * skipped. */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"
#include "retrace/episode.h"

/* The split an example is taken from: the held-out task types when the bench has them (where the claim
 * is made), else the splits in order. */
static const char *const PREFERRED_SPLIT = "unseen_task";

/* The episodes of a file as a JSON array (NULL when the file cannot be read). */
static json_t *load_episodes(const char *bench_dir, const char *file) {
    char *path = file[0] == '/' ? rt_strdup(file) : rt_path_join(bench_dir, file), *text = NULL;
    size_t len = 0;
    json_t *eps = NULL;
    if (rt_path_exists(path) && !rt_is_dir(path) && rt_file_read(path, &text, &len) == RT_OK) {
        eps = json_array();
        for (size_t i = 0; i < len;) {
            size_t end = i;
            while (end < len && text[end] != '\n') end++;
            json_t *o = end > i ? json_loadb(text + i, end - i, 0, NULL) : NULL;
            if (json_is_object(o) && json_is_array(json_object_get(o, "steps"))) json_array_append(eps, o);
            json_decref(o);
            i = end + 1;
        }
    }
    rt_clear_error();
    free(text);
    free(path);
    return eps;
}

static int split_order(const report_data *d, int k) {
    /* k = 0 is the preferred split when present; then the others in their order */
    int pref = -1;
    for (int j = 0; j < d->n_splits; j++)
        if (!strcmp(d->splits[j].id, PREFERRED_SPLIT)) pref = j;
    if (pref < 0) return k;
    if (k == 0) return pref;
    return k - 1 < pref ? k - 1 : k;
}

static const char *str(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* A retrieved episode as the prompt showed it, in short: its task, its actions in order, its outcome. */
static void past_episode(rt_strbuf *s, const json_t *ep) {
    rt_strbuf acts = {0};
    size_t k;
    const json_t *step;
    json_array_foreach(json_object_get(ep, "steps"), k, step) {
        const char *a = str(step, "action");
        if (!a || !a[0]) continue;
        if (acts.len) rt_strbuf_add(&acts, " \xe2\x86\x92 "); /* an arrow */
        rt_strbuf_add(&acts, a);
    }
    rt_strbuf_add(s, "<div class=\"past\">task: ");
    rt_html_escape(s, str(ep, "task"));
    rt_strbuf_add(s, "<br/>actions: ");
    rt_html_escape_cut(s, acts.buf ? acts.buf : "none", 500);
    rt_strbuf_add(s, "<br/>outcome: ");
    rt_html_escape(s, str(ep, "outcome") ? str(ep, "outcome") : "n/a");
    rt_strbuf_add(s, "</div>");
    free(acts.buf);
}

/* The retrieved episodes of a step: successes and failures, each id, type and score; with bench_dir,
 * each one's task and actions as found in the folder's experience files. */
static void retrieved_list(rt_strbuf *s, const json_t *retrieved, const char *task_type, const char *bench_dir) {
    static const char *const KINDS[] = {"successes", "failures"};
    rt_strbuf_add(s, "<ul class=\"retrieved\">\n");
    for (int k = 0; k < 2; k++) {
        const json_t *hits = json_object_get(retrieved, KINDS[k]), *h;
        size_t i;
        json_array_foreach(hits, i, h) {
            const char *type = str(h, "task_type");
            double score = 0;
            int have_score = rt_report_cell_num(h, "score", &score);
            rt_strbuf_addf(s, "<li class=\"%s\">%s <code>", k ? "fail" : "succ", k ? "failed run" : "successful run");
            rt_html_escape(s, str(h, "id") ? str(h, "id") : "n/a");
            rt_strbuf_add(s, "</code>, type <code>");
            rt_html_escape(s, type && type[0] ? type : "n/a");
            rt_strbuf_add(s, "</code>");
            if (type && task_type && !strcmp(type, task_type))
                rt_strbuf_add(s, " <span class=\"same\">(same type)</span>");
            if (have_score) rt_strbuf_addf(s, ", score %.3f", score);
            json_t *past = bench_dir ? rt_report_find_episode(bench_dir, str(h, "id")) : NULL;
            if (past) past_episode(s, past);
            json_decref(past);
            rt_strbuf_add(s, "</li>\n");
        }
    }
    rt_strbuf_add(s, "</ul>\n");
}

/* think / act / obs of a step (an invalid output shows the raw output instead). */
static void step_text(rt_strbuf *s, const json_t *step) {
    static const char *const KEYS[][2] = {{"thought", "think"}, {"action", "act"}, {"output", "output"},
                                          {"observation", "obs"}};
    rt_strbuf_add(s, "<div class=\"step\">");
    for (int k = 0; k < 4; k++) {
        const char *v = str(step, KEYS[k][0]);
        if (!v || !v[0]) continue;
        rt_strbuf_addf(s, "<span class=\"key\">%s:</span> ", KEYS[k][1]);
        rt_html_escape_cut(s, v, 600);
        rt_strbuf_add(s, "\n");
    }
    rt_strbuf_add(s, "</div>");
}

static void episode_head(rt_strbuf *s, const json_t *ep) {
    const json_t *seed = json_object_get(json_object_get(ep, "meta"), "seed");
    rt_strbuf_add(s, "<p class=\"ephead\">episode <code>");
    rt_html_escape(s, str(ep, "id") ? str(ep, "id") : "n/a");
    rt_strbuf_add(s, "</code>");
    if (json_is_integer(seed)) rt_strbuf_addf(s, ", seed %" JSON_INTEGER_FORMAT, json_integer_value(seed));
    rt_strbuf_add(s, ", type <code>");
    rt_html_escape(s, str(ep, "task_type") ? str(ep, "task_type") : "n/a");
    rt_strbuf_addf(s, "</code>, <b>%s</b> in %zu steps<br/>task: ", rt_episode_succeeded(ep) ? "success" : "failure",
                   json_array_size(json_object_get(ep, "steps")));
    rt_html_escape(s, str(ep, "task"));
    rt_strbuf_add(s, "</p>\n");
}

/* The first step of a file whose prompt had a retrieved episode: *ep_out and the step's index. */
static int find_retrieval(const json_t *eps, const json_t **ep_out) {
    size_t i, k;
    const json_t *ep, *step;
    json_array_foreach(eps, i, ep) {
        json_array_foreach(json_object_get(ep, "steps"), k, step) {
            const json_t *r = json_object_get(step, "retrieved");
            if (json_array_size(json_object_get(r, "successes")) + json_array_size(json_object_get(r, "failures")) > 0) {
                *ep_out = ep;
                return (int)k;
            }
        }
    }
    return -1;
}

static void example(rt_strbuf *s, const report_data *d, const char *bench_dir, int i) {
    rt_strbuf_add(s, "<h3>");
    rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
    rt_strbuf_add(s, "</h3>\n");
    int files = 0;
    for (int k = 0; k < d->n_splits; k++) {
        int j = split_order(d, k);
        const char *file = rt_report_episode_file(d, i, j);
        json_t *eps = file ? load_episodes(bench_dir, file) : NULL;
        const json_t *ep = NULL;
        files += eps != NULL;
        int at = eps ? find_retrieval(eps, &ep) : -1;
        if (at >= 0) {
            rt_strbuf_add(s, "<p class=\"note\">From ");
            rt_report_file_link(s, d, bench_dir, file);
            rt_strbuf_add(s, " (");
            rt_html_escape(s, d->splits[j].label);
            rt_strbuf_add(s, ").</p>\n");
            episode_head(s, ep);
            const char *obs0 = str(json_object_get(ep, "meta"), "first_observation");
            if (obs0) {
                rt_strbuf_add(s, "<p>First observation:</p>\n<div class=\"step\">");
                rt_html_escape_cut(s, obs0, 1200);
                rt_strbuf_add(s, "</div>\n");
            }
            const json_t *step = json_array_get(json_object_get(ep, "steps"), (size_t)at);
            rt_strbuf_addf(s, "<p>The prompt of step %d held, besides the task and the history, these retrieved "
                              "episodes:</p>\n", at + 1);
            retrieved_list(s, json_object_get(step, "retrieved"), str(ep, "task_type"), bench_dir);
            rt_strbuf_addf(s, "<p>What the agent did at step %d:</p>\n", at + 1);
            step_text(s, step);
            json_decref(eps);
            return;
        }
        json_decref(eps);
    }
    if (files > 0)
        rt_strbuf_add(s, "<p class=\"na\">No retrieval: no step of its episodes had a retrieved episode in its prompt "
                         "(the prompt held the task, the first observation and the history only).</p>\n");
    else rt_strbuf_add(s, "<p class=\"na\">n/a: no episode file of this configuration could be read.</p>\n");
}

void rt_report_examples(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    if (!rt_report_has_episode_files(d)) return;
    rt_strbuf_add(s, "<h2 id=\"retrieved\">Retrieved context, one step per configuration</h2>\n<p class=\"note\">The "
                     "first step with a retrieved episode in the first episode that has one, preferring held-out task "
                     "types: the ids, types and scores of what retrieval put in that step's prompt, as the episode "
                     "file records it.</p>\n");
    for (int i = 0; i < d->n_configs; i++) example(s, d, bench_dir, i);
}

/* ---- (c) beside (e) ---- */

static int config_index(const report_data *d, const char *id) {
    for (int i = 0; i < d->n_configs; i++)
        if (!strcmp(d->configs[i].id, id)) return i;
    return -1;
}

static const json_t *by_seed(const json_t *eps, const json_t *seed) {
    size_t i;
    const json_t *ep;
    json_array_foreach(eps, i, ep) {
        if (json_equal(json_object_get(json_object_get(ep, "meta"), "seed"), (json_t *)seed)) return ep;
    }
    return NULL;
}

/* A seed both files ran: the first where (e) succeeded and (c) failed, else where they differ, else the
 * first both have. */
static int pick_pair(const json_t *ce, const json_t *ee, const json_t **c_ep, const json_t **e_ep) {
    for (int want = 0; want < 3; want++) {
        size_t i;
        const json_t *e;
        json_array_foreach(ee, i, e) {
            const json_t *seed = json_object_get(json_object_get(e, "meta"), "seed");
            const json_t *c = seed ? by_seed(ce, seed) : NULL;
            if (!c) continue;
            int es = rt_episode_succeeded(e), cs = rt_episode_succeeded(c);
            if ((want == 0 && es && !cs) || (want == 1 && es != cs) || want == 2) {
                *c_ep = c, *e_ep = e;
                return want;
            }
        }
    }
    return -1;
}

static void episode_column(rt_strbuf *s, const report_data *d, int i, const json_t *ep) {
    rt_strbuf_add(s, "<div class=\"col\">\n<h3>");
    rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
    rt_strbuf_add(s, "</h3>\n");
    episode_head(s, ep);
    rt_strbuf_add(s, "<ol class=\"steps\">\n");
    size_t k;
    const json_t *step, *before = NULL;
    json_array_foreach(json_object_get(ep, "steps"), k, step) {
        rt_strbuf_add(s, "<li>");
        step_text(s, step);
        /* what the prompt was given, where it changed (static retrieval gives every step the same) */
        const json_t *r = json_object_get(step, "retrieved");
        if (json_array_size(json_object_get(r, "successes")) + json_array_size(json_object_get(r, "failures")) > 0 &&
            !(before && json_equal((json_t *)r, (json_t *)before)))
            retrieved_list(s, r, str(ep, "task_type"), NULL);
        before = r;
        rt_strbuf_add(s, "</li>\n");
    }
    rt_strbuf_add(s, "</ol>\n</div>\n");
}

void rt_report_side_by_side(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    int c = config_index(d, "c"), e = config_index(d, "e");
    if (c < 0 || e < 0) return;
    for (int k = 0; k < d->n_splits; k++) {
        int j = split_order(d, k);
        const char *cf = rt_report_episode_file(d, c, j), *ef = rt_report_episode_file(d, e, j);
        json_t *ce = cf ? load_episodes(bench_dir, cf) : NULL, *ee = ef && ce ? load_episodes(bench_dir, ef) : NULL;
        const json_t *c_ep = NULL, *e_ep = NULL;
        int why = ee ? pick_pair(ce, ee, &c_ep, &e_ep) : -1;
        if (why >= 0) {
            static const char *const WHY[] = {"the first seed that (e) solved and (c) did not",
                                              "the first seed where they differ", "the first seed both ran"};
            rt_strbuf_add(s, "<h2 id=\"side-by-side\">(c) beside (e) on the same seed</h2>\n<p class=\"note\">");
            rt_html_escape(s, d->splits[j].label);
            rt_strbuf_addf(s, ", %s.</p>\n<div class=\"pair\">\n", WHY[why]);
            episode_column(s, d, c, c_ep);
            episode_column(s, d, e, e_ep);
            rt_strbuf_add(s, "</div>\n");
        }
        json_decref(ce), json_decref(ee);
        if (why >= 0) return;
    }
}
