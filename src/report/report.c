/* report.c: the HTML report of a bench folder: page skeleton, header, results table and the sections
 * that hold the charts; written atomically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* Plain CSS inline; system fonts only, so the page looks the same with no network. */
static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;max-width:1100px;"
    "margin:2em auto;padding:0 1em;color:#222;line-height:1.4;overflow-wrap:break-word}"
    "h1{margin-bottom:0.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}h3{margin-bottom:0.3em}"
    ".meta{color:#555}table{border-collapse:collapse;margin:0.6em 0}"
    "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}.na{color:#888}"
    ".scroll{overflow-x:auto;max-width:100%}table.compact td{white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".rate{font-weight:bold}.ci,.sub{color:#555}.sub{font-size:0.85em}.cid{font-weight:bold;white-space:nowrap}"
    "td.type{min-width:6em}"
    "figure{margin:1em 0}figcaption{font-size:0.95em;margin-bottom:0.3em}svg{max-width:100%;height:auto}"
    ".note{font-size:0.9em;color:#555}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:0.5em}"
    "dl.run dt{font-weight:bold}dl.run dd{margin:0 0 0.4em 1.2em;overflow-wrap:anywhere}"
    ".step{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:0.85em;"
    "background:#f6f6f6;padding:0.3em 0.5em}.key{color:#0072B2;font-weight:bold}"
    "ul.retrieved{margin:0.2em 0 0.4em;font-size:0.9em}li.fail{color:#a33}.same{color:#007a55}"
    ".past{color:#444;overflow-wrap:anywhere;margin:0.2em 0 0.4em}"
    ".pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}"
    "ol.steps{padding-left:1.6em}ol.steps li{margin:0.3em 0}"
    "table.compact th[scope=row]{position:sticky;left:0}table.tests td{white-space:nowrap}"
    ".chart{overflow-x:auto;max-width:100%}"
    "@media (max-width:700px){.pair{grid-template-columns:minmax(0,1fr)}body{margin:1em auto}"
    ".chart svg{max-width:none;width:640px}}";

static void header(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    rt_strbuf_add(s, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                     "<title>retrace bench report</title>\n<style>");
    rt_strbuf_add(s, CSS);
    rt_strbuf_add(s, "</style>\n</head>\n<body>\n<h1>retrace bench report</h1>\n<p class=\"meta\">");
    rt_html_escape(s, d->date);
    rt_strbuf_add(s, " &#183; scale <b>");
    rt_html_escape(s, d->scale ? d->scale : "n/a");
    rt_strbuf_add(s, "</b> &#183; total ");
    if (isfinite(d->seconds) && d->seconds >= 0) {
        long whole = lround(d->seconds);
        rt_strbuf_addf(s, "<b>%.1f s</b> (%ld min %ld s)", d->seconds, whole / 60, whole % 60);
    } else {
        rt_strbuf_add(s, "<b>n/a</b>");
    }
    rt_strbuf_add(s, " &#183; folder <code>");
    rt_html_escape(s, bench_dir);
    rt_strbuf_add(s, "</code>");
    /* what the numbers are of, where results.json says: the model, the build, the machine */
    const char *base = json_string_value(json_object_get(d->root, "base"));
    const char *commit = json_string_value(json_object_get(d->root, "commit"));
    const char *cpu = json_string_value(json_object_get(json_object_get(d->root, "machine"), "cpu"));
    const char *const parts[][2] = {{"base", base}, {"commit", commit}, {"machine", cpu}};
    for (int i = 0; i < 3; i++) {
        if (!parts[i][1]) continue;
        rt_strbuf_addf(s, "<br/>%s <code>", parts[i][0]);
        rt_html_escape(s, parts[i][1]);
        rt_strbuf_add(s, "</code>");
    }
    rt_strbuf_add(s, "</p>\n");
}

static void td_num(rt_strbuf *s, int have, double x, int decimals, const char *unit) {
    rt_strbuf_add(s, "<td class=\"num\">");
    rt_html_num(s, have, x, decimals);
    if (have) rt_strbuf_add(s, unit);
    rt_strbuf_add(s, "</td>");
}

/* One row of the results table. */
static void result_row(rt_strbuf *s, const report_data *d, int i, int j) {
    const json_t *cell = rt_report_cell(d, i, j);
    double rate = 0, lo = 0, hi = 0, k = 0, n = 0, steps = 0, invalid = 0;
    int have_ci, have_rate = rt_report_cell_rate(cell, &rate, &lo, &hi, &have_ci);
    int have_kn = rt_report_cell_num(cell, "successes", &k) && rt_report_cell_num(cell, "episodes", &n) && n > 0;
    rt_strbuf_add(s, "<tr data-config=\"");
    rt_html_escape(s, d->configs[i].id);
    rt_strbuf_add(s, "\" data-split=\"");
    rt_html_escape(s, d->splits[j].id);
    rt_strbuf_add(s, "\">");
    if (j == 0) {
        rt_strbuf_addf(s, "<td rowspan=\"%d\">", d->n_splits);
        rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
        rt_strbuf_add(s, "</td>");
    }
    rt_strbuf_add(s, "<td>");
    rt_html_escape(s, d->splits[j].label);
    rt_strbuf_add(s, "</td>");
    td_num(s, have_rate, have_rate ? 100 * rate : 0, 1, "%");
    rt_strbuf_add(s, "<td class=\"num\">");
    if (have_ci) rt_strbuf_addf(s, "%.1f&#8211;%.1f%%", 100 * lo, 100 * hi);
    else rt_strbuf_add(s, "n/a");
    rt_strbuf_add(s, "</td>");
    /* Read before the calls that print them: argument evaluation order is unspecified. */
    int have_steps = rt_report_cell_num(cell, "mean_steps", &steps);
    int have_inv = rt_report_cell_num(cell, "invalid_rate", &invalid);
    td_num(s, have_steps, have_steps ? steps : 0, 1, "");
    td_num(s, have_inv, have_inv ? 100 * invalid : 0, 1, "%");
    rt_strbuf_add(s, "<td class=\"num\">");
    if (have_kn) rt_strbuf_addf(s, "%.0f/%.0f", k, n);
    else rt_strbuf_add(s, "n/a");
    rt_strbuf_add(s, "</td>");
    double reward = 0, same = 0;
    int have_reward = rt_report_cell_num(cell, "mean_reward", &reward);
    int have_same = rt_report_cell_num(cell, "retrieval_same_type", &same);
    td_num(s, have_reward, reward, 2, "");
    td_num(s, have_same, 100 * same, 1, "%");
    rt_strbuf_add(s, "</tr>\n");
}

static void results_table(rt_strbuf *s, const report_data *d) {
    rt_strbuf_add(s, "<h2 id=\"all-numbers\">Every cell's numbers</h2>\n<div class=\"scroll\"><table class=\"results\">\n"
                     "<thead><tr><th>configuration</th><th>split</th><th>success</th><th>95% interval</th>"
                     "<th>mean steps</th><th>invalid actions</th><th>successes / episodes</th><th>mean reward</th>"
                     "<th>same-type retrieval</th></tr></thead>\n<tbody>\n");
    for (int i = 0; i < d->n_configs; i++)
        for (int j = 0; j < d->n_splits; j++) result_row(s, d, i, j);
    rt_strbuf_add(s, "</tbody>\n</table></div>\n<p class=\"note\">Success: episodes that reached the goal, with the "
                     "95% Wilson score interval. Invalid actions: per step (an unparseable or impossible action). "
                     "Same-type retrieval: the share of steps whose first retrieved success has the task's own type. "
                     "n/a: not in results.json.</p>\n");
}

static void loss_section(rt_strbuf *s, const report_data *d) {
    rt_strbuf_add(s, "<h2 id=\"loss\">Training loss</h2>\n");
    if (d->n_curves == 0) rt_strbuf_add(s, "<p class=\"na\">n/a: results.json names no loss logs.</p>\n");
    for (int i = 0; i < d->n_curves; i++) {
        const report_curve *c = &d->curves[i];
        rt_strbuf_add(s, "<figure>\n<figcaption><b>");
        rt_html_escape(s, c->label);
        rt_strbuf_add(s, "</b> <code>");
        rt_html_escape(s, c->shown_path ? c->shown_path : "n/a");
        rt_strbuf_add(s, "</code>");
        if (c->n_train > 0)
            rt_strbuf_addf(s, " &#183; last loss %.4f at step %.0f", c->train[c->n_train - 1].y,
                           c->train[c->n_train - 1].x);
        if (c->n_val > 0)
            rt_strbuf_addf(s, " &#183; last validation loss %.4f at step %.0f", c->val[c->n_val - 1].y,
                           c->val[c->n_val - 1].x);
        if (c->n_read > c->n_train + c->n_val)
            rt_strbuf_addf(s, " &#183; %d points drawn of %d", c->n_train + c->n_val, c->n_read);
        if (c->bad_lines > 0)
            rt_strbuf_addf(s, " &#183; %d unreadable line%s skipped", c->bad_lines, c->bad_lines > 1 ? "s" : "");
        rt_strbuf_add(s, "</figcaption>\n");
        if (c->missing) {
            rt_strbuf_add(s, "<p class=\"na\">n/a: ");
            rt_html_escape(s, c->missing);
            rt_strbuf_add(s, "</p>\n");
        } else {
            rt_chart_loss(s, c);
        }
        rt_strbuf_add(s, "</figure>\n");
    }
}

/* The page; links to the bench folder's files start with link_prefix. */
static rt_status render(const char *bench_dir, const char *link_prefix, char **html) {
    *html = NULL;
    report_data d;
    rt_status st = rt_report_data_load(bench_dir, &d);
    if (st != RT_OK) {
        rt_report_data_free(&d);
        return st;
    }
    d.link_prefix = link_prefix;
    rt_strbuf s = {0};
    header(&s, &d, bench_dir);
    rt_report_compact_table(&s, &d);
    rt_report_tests(&s, &d);
    rt_report_ablation(&s, &d);
    rt_strbuf_add(&s, "<h2 id=\"chart\">Success by configuration and split</h2>\n<div class=\"chart\">");
    rt_chart_success(&s, &d);
    rt_strbuf_add(&s, "</div>\n");
    rt_report_by_type(&s, &d);
    rt_report_examples(&s, &d, bench_dir);
    rt_report_side_by_side(&s, &d, bench_dir);
    rt_report_run_info(&s, &d, bench_dir);
    rt_report_episode_links(&s, &d, bench_dir);
    results_table(&s, &d);
    loss_section(&s, &d);
    rt_chart_time(&s, &d);
    rt_strbuf_addf(&s, "<p class=\"note\">Made by retrace %s from results.json.</p>\n</body>\n</html>\n",
                   RT_VERSION_STRING);
    rt_report_data_free(&d);
    *html = s.buf;
    return RT_OK;
}

rt_status rt_report_render(const char *bench_dir, char **html) { return render(bench_dir, "", html); }

/* "" when the page goes into the bench folder (links by file name, so the folder can move), else the
 * folder's absolute path and a slash. */
static char *link_prefix(const char *bench_dir, const char *out_html) {
    char *out_dir = rt_strdup(out_html), *slash = strrchr(out_dir, '/');
    if (slash) slash[slash == out_dir ? 1 : 0] = '\0';
    else strcpy(out_dir, ".");
    char *a = realpath(bench_dir, NULL), *b = realpath(out_dir, NULL), *prefix;
    if (!a || (b && !strcmp(a, b))) prefix = rt_strdup("");
    else prefix = rt_malloc(strlen(a) + 2), sprintf(prefix, "%s/", a);
    free(a), free(b), free(out_dir);
    return prefix;
}

rt_status rt_report_write(const char *bench_dir, const char *out_html) {
    char *html, *prefix = link_prefix(bench_dir, out_html);
    rt_status rs = render(bench_dir, prefix, &html);
    free(prefix);
    RT_TRY(rs);
    rt_status st = rt_file_write_atomic(out_html, html, strlen(html));
    free(html);
    return st;
}
