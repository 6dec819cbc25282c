/* by_type.c: success by task type: for each split, the task types its cells met (rows) and each
 * configuration's successes/episodes on them (columns), from the cells' "success_by_type". */
#include <string.h>

#include "report/report_internal.h"

/* The task types of a split in the order the configurations first list them. */
static json_t *types_of(const report_data *d, int j) {
    json_t *types = json_array();
    for (int i = 0; i < d->n_configs; i++) {
        const json_t *by = json_object_get(rt_report_cell(d, i, j), "success_by_type");
        const char *type;
        const json_t *v;
        json_object_foreach((json_t *)by, type, v) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(types) && !seen; k++)
                seen = !strcmp(json_string_value(json_array_get(types, k)), type);
            if (!seen) json_array_append_new(types, json_string(type));
        }
    }
    return types;
}

static void type_cell(rt_strbuf *s, const json_t *t) {
    double k = 0, n = 0, rate = 0;
    int have_kn = rt_report_cell_num(t, "successes", &k) && rt_report_cell_num(t, "episodes", &n) && n > 0;
    int have_rate = rt_report_cell_num(t, "success_rate", &rate);
    if (!have_rate && have_kn) rate = k / n, have_rate = 1;
    rt_strbuf_add(s, "<td class=\"num\">");
    if (have_kn) rt_strbuf_addf(s, "<span class=\"kn\">%.0f/%.0f</span>", k, n);
    if (have_rate) rt_strbuf_addf(s, "%s<span class=\"sub\">%.0f%%</span>", have_kn ? " " : "", 100 * rate);
    if (!have_kn && !have_rate) rt_strbuf_add(s, "<span class=\"na\">n/a</span>");
    rt_strbuf_add(s, "</td>");
}

/* A task type with a line-break opportunity after each underscore: on a phone the long names
 * (pick_heat_then_place_in_recep) break between words, not inside them. */
static void type_name(rt_strbuf *s, const char *type) {
    for (const char *p = type; *p;) {
        const char *u = strchr(p, '_');
        size_t n = u ? (size_t)(u - p) + 1 : strlen(p);
        rt_html_escape_n(s, p, n);
        if (u && u[1]) rt_strbuf_add(s, "<wbr/>");
        p += n;
    }
}

static void split_table(rt_strbuf *s, const report_data *d, int j, const json_t *types) {
    rt_strbuf_add(s, "<h3>");
    rt_html_escape(s, d->splits[j].label);
    rt_strbuf_add(s, "</h3>\n<div class=\"scroll\"><table class=\"bytype\" data-split=\"");
    rt_html_escape(s, d->splits[j].id);
    rt_strbuf_add(s, "\">\n<thead><tr><th>task type</th>");
    for (int i = 0; i < d->n_configs; i++) {
        rt_strbuf_add(s, "<th title=\"");
        rt_html_escape(s, d->configs[i].label);
        rt_strbuf_add(s, "\">(");
        rt_html_escape(s, d->configs[i].id);
        rt_strbuf_add(s, ")</th>");
    }
    rt_strbuf_add(s, "</tr></thead>\n<tbody>\n");
    for (size_t k = 0; k < json_array_size(types); k++) {
        const char *type = json_string_value(json_array_get(types, k));
        rt_strbuf_add(s, "<tr data-type=\"");
        rt_html_escape(s, type);
        rt_strbuf_add(s, "\"><td class=\"type\">");
        type_name(s, type);
        rt_strbuf_add(s, "</td>");
        for (int i = 0; i < d->n_configs; i++)
            type_cell(s, json_object_get(json_object_get(rt_report_cell(d, i, j), "success_by_type"), type));
        rt_strbuf_add(s, "</tr>\n");
    }
    rt_strbuf_add(s, "</tbody>\n</table></div>\n");
}

void rt_report_by_type(rt_strbuf *s, const report_data *d) {
    int any = 0;
    for (int j = 0; j < d->n_splits; j++) {
        json_t *types = types_of(d, j);
        if (json_array_size(types) > 0) {
            if (!any) rt_strbuf_add(s, "<h2 id=\"by-type\">Success by task type</h2>\n");
            any = 1;
            split_table(s, d, j, types);
        }
        json_decref(types);
    }
    if (any)
        rt_strbuf_add(s, "<p class=\"note\">Successes/episodes of each task type and its success rate; columns are "
                         "the configurations of the results table.</p>\n");
}
