/* report_internal.h: what the files of the report module share: the bench results as read from
 * results.json, the loss curves, HTML escaping and the SVG chart pieces. */
#ifndef RT_REPORT_INTERNAL_H
#define RT_REPORT_INTERNAL_H

#include <jansson.h>

#include "retrace/report.h"

/* A curve keeps at most this many points after downsampling, so a long log does not make a page of
 * megabytes; min/max buckets keep the shape (spikes survive). */
#define REPORT_MAX_CURVE_POINTS 400

/* ---- bench results (results.c) ---- */

typedef struct {
    const char *id;    /* key into cells */
    const char *label; /* shown; the id when there is no label */
    const json_t *json; /* the whole entry, for optional fields */
} report_item;

typedef struct {
    double x, y;
} report_point;

typedef struct {
    const char *label; /* the key in loss_logs */
    const char *shown_path; /* as results.json gives it, or NULL when that value is not a string */
    char *path;        /* resolved against the bench folder; NULL when the value was not a string */
    const char *missing; /* why there is no curve (static text), or NULL */
    report_point *train, *val;
    int n_train, n_val;
    int n_read;      /* points read before downsampling (train + val) */
    int bad_lines;   /* lines that were not JSON objects with a numeric step */
} report_curve;

typedef struct {
    json_t *root;
    char *results_path;
    const char *scale; /* NULL when missing */
    double seconds;    /* NAN when missing */
    char date[64];
    report_item *configs, *splits;
    int n_configs, n_splits;
    const json_t *cells; /* object, or NULL */
    report_curve *curves;
    int n_curves;
    const char *link_prefix; /* put before the bench folder's file names in links ("" beside the page) */
} report_data;

rt_status rt_report_data_load(const char *bench_dir, report_data *d);
void rt_report_data_free(report_data *d);
/* The EVAL object of a configuration and split, or NULL when there is none. */
const json_t *rt_report_cell(const report_data *d, int config, int split);
/* 1 and *out when cell[key] is a finite number, else 0. */
int rt_report_cell_num(const json_t *cell, const char *key, double *out);
/* The success rate of a cell and its 95% interval: as written, or computed from successes/episodes
 * when missing (the interval as bench computes it, Wilson at z 1.96). Returns 1 when the cell has a
 * rate; *have_ci says whether there is an interval. */
int rt_report_cell_rate(const json_t *cell, double *rate, double *lo, double *hi, int *have_ci);
/* Sums the key over the splits of a configuration; 0 when no cell has it. */
int rt_report_config_sum(const report_data *d, int config, const char *key, double *out);

/* ---- loss logs (loss_log.c) ---- */

/* Reads a loss log into c (train points from "loss", validation points from "val_loss"), sorted by
 * step, and downsampled. A missing file sets c->missing and returns RT_OK: the page says "n/a". */
rt_status rt_report_curve_load(report_curve *c);
void rt_report_curve_free(report_curve *c);
/* Keeps at most max_points of pts (sorted by x): the ends, and the lowest and highest point of each
 * bucket in between. Returns the new count. */
int rt_report_downsample(report_point *pts, int n, int max_points);

/* ---- HTML and SVG text (html.c) ---- */

/* Appends text with & < > " ' replaced by character references (safe in elements and attributes). */
void rt_html_escape(rt_strbuf *s, const char *text);
/* As rt_html_escape, for the first n bytes of text. */
void rt_html_escape_n(rt_strbuf *s, const char *text, size_t n);
/* As rt_html_escape, but at most max_chars code points, ending with an ellipsis when cut. */
void rt_html_escape_cut(rt_strbuf *s, const char *text, int max_chars);
/* Appends a number with the given decimals, or "n/a" when have is 0. */
void rt_html_num(rt_strbuf *s, int have, double x, int decimals);

/* The colour of series i (a palette that colour-blind readers can tell apart). */
const char *rt_report_color(int i);

/* ---- axes (axis.c) ---- */

typedef struct {
    double lo, hi, step; /* ticks at lo, lo + step, ..., hi */
    int decimals;        /* to print a tick label */
} report_axis;

/* Round ticks (1, 2 or 5 times a power of ten) covering [lo, hi] with at most max_ticks ticks. */
void rt_report_axis_nice(double lo, double hi, int max_ticks, report_axis *a);

/* A plot area inside an SVG: pixel box and the data ranges mapped onto it. */
typedef struct {
    double left, top, width, height;
    report_axis x, y;
} report_plot;

double rt_report_plot_x(const report_plot *p, double x);
double rt_report_plot_y(const report_plot *p, double y);
/* Opens an <svg> of w x h pixels with a title for screen readers. */
void rt_svg_open(rt_strbuf *s, int w, int h, const char *title);
void rt_svg_close(rt_strbuf *s);
/* Grid lines, ticks and tick labels on the y axis (suffix after each label, e.g. "%"), and its name. */
void rt_svg_y_axis(rt_strbuf *s, const report_plot *p, double scale, const char *suffix, const char *name);
/* Ticks and tick labels on the x axis, and its name. */
void rt_svg_x_axis(rt_strbuf *s, const report_plot *p, const char *name);
/* One legend entry at (x, y): a swatch (rect, or a circle when marker) and the escaped label. */
void rt_svg_legend_entry(rt_strbuf *s, double x, double y, const char *color, int marker, const char *label);

/* ---- label widths and wrapping (text.c) ---- */

#define REPORT_MAX_LINES 3 /* a wrapped label takes at most this many lines, the last one cut */
#define REPORT_FONT_PX 12  /* the charts' font size */

typedef struct {
    char *line[REPORT_MAX_LINES];
    int n;
    int cut; /* 1 when text was left out (the full text is the tooltip) */
} report_lines;

/* A width in pixels that the text will not exceed in any common sans-serif font at font_px. */
double rt_report_text_width(const char *text, double font_px);
/* Splits text at spaces into at most max_lines (<= REPORT_MAX_LINES) lines no wider than max_px (a
 * longer word is broken; the last line allowed ends with an ellipsis when text is left). */
void rt_report_wrap(const char *text, double max_px, double font_px, int max_lines, report_lines *l);
void rt_report_lines_free(report_lines *l);
/* A <text> at (x, y) whose lines are tspans line_px apart, with the full text as its tooltip. */
void rt_svg_wrapped_text(rt_strbuf *s, double x, double y, const char *anchor, const char *text, const report_lines *l,
                      double line_px);

/* ---- tables (tables.c, by_type.c) ---- */

/* "(id) label", escaped. */
void rt_report_config_name(rt_strbuf *s, const char *id, const char *label);
/* A cell's success rate, interval, k/n, mean reward and same-type share (spans with those classes). */
void rt_report_cell_summary(rt_strbuf *s, const json_t *cell);
void rt_report_compact_table(rt_strbuf *s, const report_data *d);
void rt_report_ablation(rt_strbuf *s, const report_data *d);
void rt_report_tests(rt_strbuf *s, const report_data *d);
void rt_report_by_type(rt_strbuf *s, const report_data *d);

/* ---- the run, its files and its episodes (run_info.c, episodes.c) ---- */

void rt_report_run_info(rt_strbuf *s, const report_data *d, const char *bench_dir);
/* A cell's episode file as results.json names it (relative to the bench folder), or NULL. */
const char *rt_report_episode_file(const report_data *d, int config, int split);
void rt_report_episode_links(rt_strbuf *s, const report_data *d, const char *bench_dir);
/* 1 when any cell names an episode file. */
int rt_report_has_episode_files(const report_data *d);
/* A link to a file of the bench folder (d->link_prefix before its name), marked when it is not there. */
void rt_report_file_link(rt_strbuf *s, const report_data *d, const char *bench_dir, const char *file);
/* One retrieved-context example per configuration, and (c) beside (e) on one seed. */
void rt_report_examples(rt_strbuf *s, const report_data *d, const char *bench_dir);
void rt_report_side_by_side(rt_strbuf *s, const report_data *d, const char *bench_dir);
/* The episode with this id in the bench folder's experience files (*.jsonl but the evaluation episodes
 * and the training examples), or NULL. */
json_t *rt_report_find_episode(const char *bench_dir, const char *id);

/* ---- charts (chart_*.c) ---- */

void rt_chart_success(rt_strbuf *s, const report_data *d);
void rt_chart_loss(rt_strbuf *s, const report_curve *c);
void rt_chart_time(rt_strbuf *s, const report_data *d);

#endif
