/* rt_chart_success.c: success by configuration and split: grouped bars on a 0-100% axis with the 95%
 * interval as whiskers, one colour per split, and a legend. A missing cell is marked "n/a". */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

#define GROUP_PX 150      /* one configuration */
#define BAR_SHARE 0.8     /* of a group's width taken by its bars; the rest separates groups */
#define PLOT_H_PX 220
#define MARGIN_LEFT_PX 64
#define MARGIN_RIGHT_PX 20
#define MARGIN_BOTTOM_PX 30 /* below the configuration labels: the axis name */
#define LEGEND_ROW_PX 18
#define LINE_PX 14          /* between the lines of a wrapped configuration label */
#define LABEL_PAD_PX 8      /* kept free between neighbouring labels */

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* The legend's entries flow left to right and wrap; one too long for a row is cut with an ellipsis
 * (the table has it in full). Returns the number of rows. */
static int legend(rt_strbuf *s, const report_data *d, int width, int draw) {
    double x = MARGIN_LEFT_PX, y = 18, room = width - MARGIN_LEFT_PX - MARGIN_RIGHT_PX - 32;
    int rows = 1;
    for (int j = 0; j < d->n_splits; j++) {
        report_lines l;
        rt_report_wrap(d->splits[j].label, room, REPORT_FONT_PX, 1, &l);
        double w = 14 + rt_report_text_width(l.line[0], REPORT_FONT_PX) + 18;
        if (x + w > width && x > MARGIN_LEFT_PX) x = MARGIN_LEFT_PX, y += LEGEND_ROW_PX, rows++;
        if (draw) rt_svg_legend_entry(s, x, y, rt_report_color(j), 0, l.line[0]);
        x += w;
        rt_report_lines_free(&l);
    }
    return rows;
}

static void bar(rt_strbuf *s, const report_data *d, const report_plot *p, int i, int j, double x, double w) {
    const json_t *cell = rt_report_cell(d, i, j);
    double rate = 0, lo = 0, hi = 0, k = 0, n = 0;
    int have_ci;
    if (!rt_report_cell_rate(cell, &rate, &lo, &hi, &have_ci)) {
        rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">n/a</text>\n", x + w / 2,
                       rt_report_plot_y(p, 0) - 4);
        return;
    }
    double top = rt_report_plot_y(p, clamp01(rate)), base = rt_report_plot_y(p, 0);
    rt_strbuf_addf(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, top, w,
                   base - top, rt_report_color(j));
    rt_html_escape(s, d->configs[i].label);
    rt_strbuf_add(s, ", ");
    rt_html_escape(s, d->splits[j].label);
    rt_strbuf_addf(s, ": %.1f%%", 100 * rate);
    if (have_ci) rt_strbuf_addf(s, " [95%% CI %.1f&#8211;%.1f]", 100 * lo, 100 * hi);
    if (rt_report_cell_num(cell, "successes", &k) && rt_report_cell_num(cell, "episodes", &n))
        rt_strbuf_addf(s, ", %.0f/%.0f", k, n);
    rt_strbuf_add(s, "</title></rect>\n");
    if (!have_ci) return;
    double cx = x + w / 2, y0 = rt_report_plot_y(p, clamp01(lo)), y1 = rt_report_plot_y(p, clamp01(hi)), cap = w / 4;
    rt_strbuf_addf(s, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#222\" stroke-width=\"1.5\" "
                      "fill=\"none\"/>\n", cx, y0, y1, cx - cap, y0, cx + cap, cx - cap, y1, cx + cap);
}

/* A configuration's label under its group: "(id) label", wrapped to the group's width. */
static void group_label(const report_data *d, int i, double width, report_lines *l, rt_strbuf *text) {
    text->len = 0;
    rt_strbuf_add(text, "(");
    rt_strbuf_add(text, d->configs[i].id);
    rt_strbuf_add(text, ") ");
    rt_strbuf_add(text, d->configs[i].label);
    rt_report_wrap(text->buf, width - LABEL_PAD_PX, REPORT_FONT_PX, REPORT_MAX_LINES, l);
}

void rt_chart_success(rt_strbuf *s, const report_data *d) {
    int width = MARGIN_LEFT_PX + d->n_configs * GROUP_PX + MARGIN_RIGHT_PX;
    if (width < 480) width = 480;
    int top = 18 + LEGEND_ROW_PX * legend(s, d, width, 0);
    report_plot p = {.left = MARGIN_LEFT_PX, .top = top,
                     .width = width - MARGIN_LEFT_PX - MARGIN_RIGHT_PX, .height = PLOT_H_PX};
    double group_w = p.width / d->n_configs, bar_w = group_w * BAR_SHARE / d->n_splits;
    /* The tallest wrapped label sets the space under the axis. */
    int lines = 1;
    rt_strbuf text = {0};
    for (int i = 0; i < d->n_configs; i++) {
        report_lines l;
        group_label(d, i, group_w, &l, &text);
        if (l.n > lines) lines = l.n;
        rt_report_lines_free(&l);
    }
    int label_h = 18 + LINE_PX * (lines - 1);
    rt_report_axis_nice(0, 1, 6, &p.y);
    rt_svg_open(s, width, top + PLOT_H_PX + label_h + MARGIN_BOTTOM_PX, "success by configuration and split");
    legend(s, d, width, 1);
    rt_svg_y_axis(s, &p, 100, "%", "success (95% interval)");
    double base = p.top + p.height;
    for (int i = 0; i < d->n_configs; i++) {
        double gx = p.left + i * group_w + group_w * (1 - BAR_SHARE) / 2;
        for (int j = 0; j < d->n_splits; j++) bar(s, d, &p, i, j, gx + j * bar_w, bar_w);
        report_lines l;
        group_label(d, i, group_w, &l, &text);
        rt_svg_wrapped_text(s, p.left + (i + 0.5) * group_w, base + 18, "middle", text.buf, &l, LINE_PX);
        rt_report_lines_free(&l);
    }
    free(text.buf);
    rt_strbuf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", p.left, base,
                   p.left + p.width, base);
    rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">configuration</text>\n",
                   p.left + p.width / 2, base + label_h + 20);
    rt_svg_close(s);
}
