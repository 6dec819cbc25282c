/* axis.c: round axis ticks, the mapping from data to pixels, and the SVG frame of a chart (grid, tick
 * labels, axis names, legend entries). */
#include <math.h>

#include "report/report_internal.h"

#define TICK_LEN_PX 5
#define FONT_PX REPORT_FONT_PX

void rt_report_axis_nice(double lo, double hi, int max_ticks, report_axis *a) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) {
        double t = lo;
        lo = hi, hi = t;
    }
    /* A flat range (one point, or a constant loss) still needs an axis: widen it around the value. */
    if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
        double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    if (max_ticks < 2) max_ticks = 2;
    double raw = (hi - lo) / (max_ticks - 1);
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    /* The smallest of 1, 2, 5, 10 times the magnitude that fits the ticks into max_ticks. */
    static const double MULTS[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++) {
        step = MULTS[i] * mag;
        if (floor(lo / step) * step + (max_ticks - 1) * step >= hi) break;
    }
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step - 1e-9) * step;
    if (a->hi <= a->lo) a->hi = a->lo + step;
    a->step = step;
    int exp10 = (int)floor(log10(step) + 1e-9);
    a->decimals = exp10 < 0 ? -exp10 : 0;
}

double rt_report_plot_x(const report_plot *p, double x) {
    return p->left + (x - p->x.lo) / (p->x.hi - p->x.lo) * p->width;
}

double rt_report_plot_y(const report_plot *p, double y) {
    return p->top + p->height - (y - p->y.lo) / (p->y.hi - p->y.lo) * p->height;
}

void rt_svg_open(rt_strbuf *s, int w, int h, const char *title) {
    rt_strbuf_addf(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                      "role=\"img\" style=\"font-family:sans-serif;font-size:%dpx\"><title>", w, h, w, h, FONT_PX);
    rt_html_escape(s, title);
    rt_strbuf_add(s, "</title>\n");
}

void rt_svg_close(rt_strbuf *s) { rt_strbuf_add(s, "</svg>\n"); }

/* Ticks are stepped by index, not by adding step repeatedly, so rounding never drops the last one. */
static int n_ticks(const report_axis *a) { return (int)floor((a->hi - a->lo) / a->step + 0.5) + 1; }

void rt_svg_y_axis(rt_strbuf *s, const report_plot *p, double scale, const char *suffix, const char *name) {
    int n = n_ticks(&p->y);
    for (int i = 0; i < n; i++) {
        double v = p->y.lo + i * p->y.step, py = rt_report_plot_y(p, v);
        rt_strbuf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>",
                       p->left - TICK_LEN_PX, py, p->left + p->width, py);
        int dec = p->y.decimals - (int)lround(log10(scale));
        rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f%s</text>\n", p->left - TICK_LEN_PX - 3,
                       py + FONT_PX / 3.0, dec < 0 ? 0 : dec, v * scale, suffix);
    }
    rt_strbuf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", p->left, p->top,
                   p->left, p->top + p->height);
    double cy = p->top + p->height / 2;
    rt_strbuf_addf(s, "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">", cy, cy);
    rt_html_escape(s, name);
    rt_strbuf_add(s, "</text>\n");
}

void rt_svg_x_axis(rt_strbuf *s, const report_plot *p, const char *name) {
    double base = p->top + p->height;
    int n = n_ticks(&p->x);
    for (int i = 0; i < n; i++) {
        double v = p->x.lo + i * p->x.step, px = rt_report_plot_x(p, v);
        rt_strbuf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", px, base, px,
                       base + TICK_LEN_PX);
        rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", px,
                       base + TICK_LEN_PX + FONT_PX + 1, p->x.decimals, v);
    }
    rt_strbuf_addf(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>", p->left, base,
                   p->left + p->width, base);
    rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p->left + p->width / 2,
                   base + TICK_LEN_PX + 2 * FONT_PX + 6);
    rt_html_escape(s, name);
    rt_strbuf_add(s, "</text>\n");
}

void rt_svg_legend_entry(rt_strbuf *s, double x, double y, const char *color, int marker, const char *label) {
    if (marker) rt_strbuf_addf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x + 5, y - 4, color);
    else rt_strbuf_addf(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>", x, y - 9, color);
    rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\">", x + 14, y);
    rt_html_escape(s, label); /* callers measure it (rt_report_text_width) to place the next entry */
    rt_strbuf_add(s, "</text>\n");
}
