/* tables.c: the results as tables: the compact configuration x split table as `retrace bench` prints it
 * (success k/n with its Wilson interval, mean reward and the share of retrievals of the task's own type
 * beside it), the index ablation and the exact McNemar tests of (e) against its rivals. Every field is
 * optional: a missing one is "n/a" or leaves its part out. */
#include <math.h>
#include <string.h>

#include "report/report_internal.h"

/* "(id) label", escaped. */
void rt_report_config_name(rt_strbuf *s, const char *id, const char *label) {
    rt_strbuf_add(s, "<span class=\"cid\">(");
    rt_html_escape(s, id);
    rt_strbuf_add(s, ")</span> ");
    rt_html_escape(s, label);
}

/* A cell's success, interval, k/n, mean reward and same-type share, each in a span with its class. */
void rt_report_cell_summary(rt_strbuf *s, const json_t *cell) {
    double rate = 0, lo = 0, hi = 0, k = 0, n = 0, reward = 0, same = 0;
    int have_ci, have_rate = rt_report_cell_rate(cell, &rate, &lo, &hi, &have_ci);
    if (!cell) {
        rt_strbuf_add(s, "<span class=\"na\">n/a</span>");
        return;
    }
    rt_strbuf_add(s, "<span class=\"rate\">");
    rt_html_num(s, have_rate, 100 * rate, 1);
    rt_strbuf_add(s, have_rate ? "%</span>" : "</span>");
    if (have_ci) rt_strbuf_addf(s, " <span class=\"ci\">[%.1f&#8211;%.1f]</span>", 100 * lo, 100 * hi);
    if (rt_report_cell_num(cell, "successes", &k) && rt_report_cell_num(cell, "episodes", &n))
        rt_strbuf_addf(s, " <span class=\"kn\">%.0f/%.0f</span>", k, n);
    int have_reward = rt_report_cell_num(cell, "mean_reward", &reward);
    int have_same = rt_report_cell_num(cell, "retrieval_same_type", &same);
    if (!have_reward && !have_same) return;
    rt_strbuf_add(s, "<br/><span class=\"sub\">");
    if (have_reward) rt_strbuf_addf(s, "reward <span class=\"reward\">%.2f</span>", reward);
    if (have_reward && have_same) rt_strbuf_add(s, " &#183; ");
    if (have_same) rt_strbuf_addf(s, "same type <span class=\"same\">%.1f%%</span>", 100 * same);
    rt_strbuf_add(s, "</span>");
}

void rt_report_compact_table(rt_strbuf *s, const report_data *d) {
    rt_strbuf_add(s, "<h2 id=\"results\">Results</h2>\n<div class=\"scroll\"><table class=\"compact\">\n<thead><tr>"
                     "<th>configuration</th>");
    for (int j = 0; j < d->n_splits; j++) {
        rt_strbuf_add(s, "<th>");
        rt_html_escape(s, d->splits[j].label);
        rt_strbuf_add(s, "</th>");
    }
    rt_strbuf_add(s, "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < d->n_configs; i++) {
        rt_strbuf_add(s, "<tr><th scope=\"row\">");
        rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
        rt_strbuf_add(s, "</th>");
        for (int j = 0; j < d->n_splits; j++) {
            rt_strbuf_add(s, "<td data-config=\"");
            rt_html_escape(s, d->configs[i].id);
            rt_strbuf_add(s, "\" data-split=\"");
            rt_html_escape(s, d->splits[j].id);
            rt_strbuf_add(s, "\">");
            rt_report_cell_summary(s, rt_report_cell(d, i, j));
            rt_strbuf_add(s, "</td>");
        }
        rt_strbuf_add(s, "</tr>\n");
    }
    rt_strbuf_add(s, "</tbody>\n</table></div>\n<p class=\"note\">Each cell: success rate, its 95% Wilson interval "
                     "[low&#8211;high], successes/episodes; below, the mean reward and the share of steps whose first "
                     "retrieved success has the task's own type (only where the configuration retrieves). "
                     "n/a: not in results.json.</p>\n");
}

/* The index ablation: one configuration on one split with different memories. */
void rt_report_ablation(rt_strbuf *s, const report_data *d) {
    const json_t *abl = json_object_get(d->root, "index_ablation"), *rows = json_object_get(abl, "rows");
    if (!json_is_array(rows) || json_array_size(rows) == 0) return;
    const char *split = json_string_value(json_object_get(abl, "split"));
    rt_strbuf_add(s, "<h3 id=\"ablation\">Index ablation");
    if (split) {
        const char *label = split;
        for (int j = 0; j < d->n_splits; j++)
            if (!strcmp(d->splits[j].id, split)) label = d->splits[j].label;
        rt_strbuf_add(s, " on ");
        rt_html_escape(s, label);
    }
    rt_strbuf_add(s, "</h3>\n<div class=\"scroll\"><table class=\"ablation\">\n<thead><tr><th>run</th><th>index</th>"
                     "<th>success [95% interval] k/n</th></tr></thead>\n<tbody>\n");
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        const char *id = json_string_value(json_object_get(row, "id"));
        const char *label = json_string_value(json_object_get(row, "label"));
        const json_t *cell = json_object_get(row, "cell");
        rt_strbuf_add(s, "<tr data-ablation=\"");
        rt_html_escape(s, id ? id : "");
        rt_strbuf_add(s, "\"><td>");
        rt_html_escape(s, id ? id : "n/a");
        rt_strbuf_add(s, "</td><td>");
        rt_html_escape(s, label ? label : "n/a");
        rt_strbuf_add(s, "</td><td>");
        rt_report_cell_summary(s, json_is_object(cell) ? cell : NULL);
        rt_strbuf_add(s, "</td></tr>\n");
    }
    rt_strbuf_add(s, "</tbody>\n</table></div>\n");
}

static const char *split_label(const report_data *d, const char *id) {
    for (int j = 0; id && j < d->n_splits; j++)
        if (!strcmp(d->splits[j].id, id)) return d->splits[j].label;
    return id ? id : "n/a";
}

static void test_row(rt_strbuf *s, const report_data *d, const json_t *t) {
    const char *versus = json_string_value(json_object_get(t, "versus"));
    double p = 0, pairs = 0, e_only = 0, other_only = 0;
    int have_p = rt_report_cell_num(t, "p", &p), have_pairs = rt_report_cell_num(t, "pairs", &pairs);
    int have_e = rt_report_cell_num(t, "e_only", &e_only), have_o = rt_report_cell_num(t, "other_only", &other_only);
    rt_strbuf_add(s, "<tr data-versus=\"");
    rt_html_escape(s, versus ? versus : "");
    rt_strbuf_add(s, "\" data-split=\"");
    rt_html_escape(s, json_string_value(json_object_get(t, "split")));
    rt_strbuf_add(s, "\"><td>(e) vs (");
    rt_html_escape(s, versus ? versus : "n/a");
    rt_strbuf_add(s, ")</td><td>");
    rt_html_escape(s, split_label(d, json_string_value(json_object_get(t, "split"))));
    rt_strbuf_add(s, "</td><td class=\"num\">");
    rt_html_num(s, have_pairs, pairs, 0);
    rt_strbuf_add(s, "</td><td class=\"num\">");
    rt_html_num(s, have_e, e_only, 0);
    rt_strbuf_add(s, "</td><td class=\"num\">");
    rt_html_num(s, have_o, other_only, 0);
    rt_strbuf_add(s, "</td><td class=\"num p\">");
    if (have_p) rt_strbuf_addf(s, "%.4g", p);
    else rt_strbuf_add(s, "n/a");
    rt_strbuf_add(s, "</td></tr>\n");
}

/* The exact McNemar tests: results.json's "tests" list, or else each (e) cell's "mcnemar" object. */
void rt_report_tests(rt_strbuf *s, const report_data *d) {
    const json_t *tests = json_object_get(d->root, "tests");
    json_t *gathered = NULL;
    if (!json_is_array(tests) || json_array_size(tests) == 0) {
        gathered = json_array();
        const json_t *row = json_object_get(d->cells, "e");
        for (int j = 0; j < d->n_splits; j++) {
            const json_t *m = json_object_get(json_object_get(row, d->splits[j].id), "mcnemar"), *t;
            const char *versus;
            json_object_foreach((json_t *)m, versus, t) {
                if (!json_is_object(t)) continue;
                json_t *copy = json_deep_copy(t);
                json_object_set_new(copy, "versus", json_string(versus));
                json_object_set_new(copy, "split", json_string(d->splits[j].id));
                json_array_append_new(gathered, copy);
            }
        }
        tests = gathered;
    }
    if (json_array_size(tests) > 0) {
        rt_strbuf_add(s, "<h3 id=\"tests\">Paired tests</h3>\n<div class=\"scroll\"><table class=\"tests\">\n<thead><tr>"
                         "<th>comparison</th><th>split</th><th>pairs</th><th>(e) only</th><th>other only</th>"
                         "<th>p</th></tr></thead>\n<tbody>\n");
        size_t i;
        const json_t *t;
        json_array_foreach(tests, i, t) if (json_is_object(t)) test_row(s, d, t);
        rt_strbuf_add(s, "</tbody>\n</table></div>\n<p class=\"note\">Exact two-sided McNemar test on the episodes both "
                         "configurations ran with the same seed: (e) only and other only count the pairs that only "
                         "one of them solved.</p>\n");
    }
    json_decref(gathered);
}
