/* rt_chart_time.c: where evaluation time went, per configuration summed over its splits: retrieval and
 * decoding seconds as stacked horizontal bars, then the same numbers as a table with retrieval's share
 * (no section when no cell has times). */
#include <stdlib.h>

#include "report/report_internal.h"

#define WIDTH_PX 680
#define ROW_PX 32
#define BAR_PX 16
#define LINE_PX 13
#define LABEL_LINES 2          /* a configuration label wraps to at most two lines */
#define MARGIN_LEFT_PX 190     /* configuration labels */
#define MARGIN_RIGHT_PX 24
#define MARGIN_TOP_PX 30
#define MARGIN_BOTTOM_PX 48
#define RETRIEVAL_COLOR 1 /* rt_report_color indices */
#define DECODE_COLOR 0

static void row(rt_strbuf *s, const report_data *d, const report_plot *p, int i) {
    double y = p->top + i * ROW_PX + (ROW_PX - BAR_PX) / 2.0, r, dec;
    int have_r = rt_report_config_sum(d, i, "retrieval_s", &r), have_d = rt_report_config_sum(d, i, "decode_s", &dec);
    rt_strbuf text = {0};
    rt_strbuf_addf(&text, "(%s) %s", d->configs[i].id, d->configs[i].label);
    report_lines l;
    rt_report_wrap(text.buf, p->left - 12, REPORT_FONT_PX, LABEL_LINES, &l);
    double ty = y + BAR_PX - 4 - (l.n - 1) * LINE_PX / 2.0;
    rt_svg_wrapped_text(s, p->left - 6, ty, "end", text.buf, &l, LINE_PX);
    rt_report_lines_free(&l);
    free(text.buf);
    if (!have_r && !have_d) {
        rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#888\">n/a</text>\n", p->left + 4, y + BAR_PX - 4);
        return;
    }
    double x0 = rt_report_plot_x(p, 0), xr = rt_report_plot_x(p, r), xd = rt_report_plot_x(p, r + dec);
    rt_strbuf_addf(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>retrieval %.2f s"
                      "</title></rect>", x0, y, xr - x0, BAR_PX, rt_report_color(RETRIEVAL_COLOR), r);
    rt_strbuf_addf(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>decoding %.2f s"
                      "</title></rect>\n", xr, y, xd - xr, BAR_PX, rt_report_color(DECODE_COLOR), dec);
}

static void time_chart(rt_strbuf *s, const report_data *d) {
    double max = 0;
    for (int i = 0; i < d->n_configs; i++) {
        double r, dec;
        int have = rt_report_config_sum(d, i, "retrieval_s", &r) | rt_report_config_sum(d, i, "decode_s", &dec);
        if (have && r + dec > max) max = r + dec;
    }
    report_plot p = {.left = MARGIN_LEFT_PX, .top = MARGIN_TOP_PX,
                     .width = WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX, .height = (double)ROW_PX * d->n_configs};
    rt_report_axis_nice(0, max > 0 ? max : 1, 7, &p.x);
    rt_svg_open(s, WIDTH_PX, MARGIN_TOP_PX + (int)p.height + MARGIN_BOTTOM_PX, "evaluation time: retrieval and decoding");
    rt_svg_legend_entry(s, p.left, 18, rt_report_color(RETRIEVAL_COLOR), 0, "retrieval");
    rt_svg_legend_entry(s, p.left + 100, 18, rt_report_color(DECODE_COLOR), 0, "decoding");
    for (int i = 0; i < d->n_configs; i++) row(s, d, &p, i);
    rt_svg_x_axis(s, &p, "seconds (all splits)");
    rt_svg_close(s);
}

static void time_table(rt_strbuf *s, const report_data *d) {
    rt_strbuf_add(s, "<div class=\"scroll\"><table class=\"time\">\n<thead><tr><th>configuration</th>"
                     "<th>retrieval (s)</th>"
                     "<th>decoding (s)</th><th>retrieval share</th></tr></thead>\n<tbody>\n");
    for (int i = 0; i < d->n_configs; i++) {
        double r, dec;
        int have_r = rt_report_config_sum(d, i, "retrieval_s", &r), have_d = rt_report_config_sum(d, i, "decode_s", &dec);
        rt_strbuf_add(s, "<tr><td>");
        rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
        rt_strbuf_add(s, "</td><td class=\"num\">");
        rt_html_num(s, have_r, r, 2);
        rt_strbuf_add(s, "</td><td class=\"num\">");
        rt_html_num(s, have_d, dec, 2);
        rt_strbuf_add(s, "</td><td class=\"num\">");
        int have_share = have_r && have_d && r + dec > 0;
        rt_html_num(s, have_share, have_share ? 100 * r / (r + dec) : 0, 1);
        rt_strbuf_add(s, have_share ? "%</td></tr>\n" : "</td></tr>\n");
    }
    rt_strbuf_add(s, "</tbody>\n</table></div>\n");
}

void rt_chart_time(rt_strbuf *s, const report_data *d) {
    int any = 0;
    for (int i = 0; i < d->n_configs; i++) {
        double x;
        any |= rt_report_config_sum(d, i, "retrieval_s", &x) | rt_report_config_sum(d, i, "decode_s", &x);
    }
    if (!any) return; /* results.json has no times: no section */
    rt_strbuf_add(s, "<h2 id=\"time\">Evaluation time</h2>\n");
    time_chart(s, d);
    time_table(s, d);
}
