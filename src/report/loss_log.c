/* loss_log.c: reads a training loss log (JSON lines from the training loop) into a train curve and a
 * validation curve, sorted by step, and downsamples long curves for the page. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

typedef struct {
    report_point *pts;
    int n, cap;
} point_list;

/* The order a point was read in rides along in the sort, so equal steps keep their file order. */
typedef struct {
    report_point p;
    int order;
} ordered_point;

static void push(point_list *l, double x, double y) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->pts = rt_realloc(l->pts, (size_t)l->cap * sizeof *l->pts);
    }
    l->pts[l->n++] = (report_point){x, y};
}

static int by_step(const void *a, const void *b) {
    const ordered_point *p = a, *q = b;
    if (p->p.x != q->p.x) return p->p.x < q->p.x ? -1 : 1;
    return (p->order > q->order) - (p->order < q->order);
}

/* Sorts by step and keeps the last point of each step: a resumed run appends to the log and repeats
 * the steps after its checkpoint, and the later values are the ones the final model came from. */
static void sort_unique(point_list *l) {
    if (l->n < 2) return;
    ordered_point *tmp = rt_malloc((size_t)l->n * sizeof *tmp);
    for (int i = 0; i < l->n; i++) tmp[i] = (ordered_point){l->pts[i], i};
    qsort(tmp, (size_t)l->n, sizeof *tmp, by_step);
    int m = 0;
    for (int i = 0; i < l->n; i++) {
        if (m > 0 && l->pts[m - 1].x == tmp[i].p.x) l->pts[m - 1] = tmp[i].p;
        else l->pts[m++] = tmp[i].p;
    }
    l->n = m;
    free(tmp);
}

static int get_finite(const json_t *o, const char *key, double *out) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v))) return 0;
    *out = json_number_value(v);
    return 1;
}

/* One line: a train point when it has "loss", a validation point when it has "val_loss" (the training
 * loop writes them on separate lines; both on one line is read as both). Returns 0 for a bad line. */
static int parse_line(const char *line, size_t len, point_list *train, point_list *val) {
    json_t *o = json_loadb(line, len, 0, NULL);
    double step, y;
    int ok = json_is_object(o) && get_finite(o, "step", &step);
    if (ok) {
        if (get_finite(o, "loss", &y)) push(train, step, y);
        if (get_finite(o, "val_loss", &y)) push(val, step, y);
    }
    json_decref(o);
    return ok;
}

rt_status rt_report_curve_load(report_curve *c) {
    if (!c->path) {
        c->missing = "the loss_logs value is not a path";
        return RT_OK;
    }
    if (!rt_path_exists(c->path) || rt_is_dir(c->path)) {
        c->missing = "file not found";
        return RT_OK;
    }
    char *text;
    size_t len;
    RT_TRY(rt_file_read(c->path, &text, &len));
    point_list train = {0}, val = {0};
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        size_t n = end - i;
        while (n > 0 && (text[i + n - 1] == '\r' || text[i + n - 1] == ' ')) n--;
        if (n > 0 && !parse_line(text + i, n, &train, &val)) c->bad_lines++;
        i = end + 1;
    }
    free(text);
    sort_unique(&train);
    sort_unique(&val);
    c->n_read = train.n + val.n;
    if (c->n_read == 0) c->missing = "no loss values in the file";
    c->train = train.pts, c->n_train = rt_report_downsample(train.pts, train.n, REPORT_MAX_CURVE_POINTS);
    c->val = val.pts, c->n_val = rt_report_downsample(val.pts, val.n, REPORT_MAX_CURVE_POINTS);
    return RT_OK;
}

void rt_report_curve_free(report_curve *c) {
    free(c->path);
    free(c->train);
    free(c->val);
}

int rt_report_downsample(report_point *pts, int n, int max_points) {
    if (n <= max_points || max_points < 4) return n;
    /* The first and last points stay; the inner points fall into buckets of equal count, and each
     * bucket keeps its lowest and highest point in step order, so spikes and plateaus survive. */
    int buckets = (max_points - 2) / 2, inner = n - 2, m = 1;
    for (int b = 0; b < buckets; b++) {
        int lo = 1 + (int)((long long)b * inner / buckets), hi = 1 + (int)((long long)(b + 1) * inner / buckets);
        if (hi <= lo) continue;
        int imin = lo, imax = lo;
        for (int i = lo + 1; i < hi; i++) {
            if (pts[i].y < pts[imin].y) imin = i;
            if (pts[i].y > pts[imax].y) imax = i;
        }
        int first = imin < imax ? imin : imax, second = imin < imax ? imax : imin;
        report_point a = pts[first], z = pts[second];
        pts[m++] = a;
        if (second != first) pts[m++] = z;
    }
    pts[m++] = pts[n - 1];
    return m;
}
