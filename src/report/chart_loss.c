/* rt_chart_loss.c: one training run's loss: the train loss as a line, the validation loss as markers, step
 * on x and loss on y with round ticks. */
#include <stdlib.h>

#include "report/report_internal.h"

#define WIDTH_PX 680
#define PLOT_H_PX 200
#define MARGIN_LEFT_PX 64
#define MARGIN_RIGHT_PX 20
#define MARGIN_TOP_PX 30
#define MARGIN_BOTTOM_PX 48
#define TRAIN_COLOR 0 /* rt_report_color indices */
#define VAL_COLOR 5

static void extend(const report_point *pts, int n, double *xlo, double *xhi, double *ylo, double *yhi) {
    for (int i = 0; i < n; i++) {
        if (pts[i].x < *xlo) *xlo = pts[i].x;
        if (pts[i].x > *xhi) *xhi = pts[i].x;
        if (pts[i].y < *ylo) *ylo = pts[i].y;
        if (pts[i].y > *yhi) *yhi = pts[i].y;
    }
}

void rt_chart_loss(rt_strbuf *s, const report_curve *c) {
    double xlo = 1e300, xhi = -1e300, ylo = 1e300, yhi = -1e300;
    extend(c->train, c->n_train, &xlo, &xhi, &ylo, &yhi);
    extend(c->val, c->n_val, &xlo, &xhi, &ylo, &yhi);
    report_plot p = {.left = MARGIN_LEFT_PX, .top = MARGIN_TOP_PX,
                     .width = WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX, .height = PLOT_H_PX};
    rt_report_axis_nice(xlo, xhi, 8, &p.x);
    rt_report_axis_nice(ylo, yhi, 6, &p.y);
    rt_strbuf title = {0};
    rt_strbuf_add(&title, "loss of ");
    rt_strbuf_add(&title, c->label);
    rt_svg_open(s, WIDTH_PX, MARGIN_TOP_PX + PLOT_H_PX + MARGIN_BOTTOM_PX, title.buf);
    free(title.buf);
    rt_svg_y_axis(s, &p, 1, "", "loss");
    rt_svg_x_axis(s, &p, "step");
    if (c->n_train > 0) {
        rt_strbuf_addf(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                       rt_report_color(TRAIN_COLOR));
        for (int i = 0; i < c->n_train; i++)
            rt_strbuf_addf(s, "%s%.1f,%.1f", i ? " " : "", rt_report_plot_x(&p, c->train[i].x),
                           rt_report_plot_y(&p, c->train[i].y));
        rt_strbuf_add(s, "\"/>\n");
        rt_svg_legend_entry(s, p.left + 8, 18, rt_report_color(TRAIN_COLOR), 0, "train loss");
    }
    for (int i = 0; i < c->n_val; i++)
        rt_strbuf_addf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>step %.0f: validation loss "
                          "%.4f</title></circle>\n", rt_report_plot_x(&p, c->val[i].x), rt_report_plot_y(&p, c->val[i].y),
                       rt_report_color(VAL_COLOR), c->val[i].x, c->val[i].y);
    if (c->n_val > 0) rt_svg_legend_entry(s, p.left + 120, 18, rt_report_color(VAL_COLOR), 1, "validation loss");
    rt_svg_close(s);
}
