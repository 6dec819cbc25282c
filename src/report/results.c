/* results.c: reads BENCH_DIR/results.json (configs, splits, cells, loss logs) for the report. The list
 * parts must be well formed (they shape the page); everything inside a cell is optional. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report/report_internal.h"
#include "retrace/agent_loop.h"

#define WILSON_Z_95 1.96

/* "configs" or "splits": an array of {"id": string, "label": string (optional)}. */
static rt_status read_items(report_data *d, const char *key, report_item **items, int *n) {
    const json_t *arr = json_object_get(d->root, key);
    if (!arr) return RT_OK;
    if (!json_is_array(arr)) return rt_fail(RT_ERR_FORMAT, "%s: key '%s' must be an array", d->results_path, key);
    *n = (int)json_array_size(arr);
    *items = rt_calloc((size_t)*n + 1, sizeof **items);
    for (int i = 0; i < *n; i++) {
        const json_t *it = json_array_get(arr, (size_t)i);
        const json_t *id = json_object_get(it, "id"), *label = json_object_get(it, "label");
        if (!json_is_string(id))
            return rt_fail(RT_ERR_FORMAT, "%s: %s[%d] must be an object with a string 'id'", d->results_path, key, i);
        (*items)[i].id = json_string_value(id);
        (*items)[i].label = json_is_string(label) ? json_string_value(label) : json_string_value(id);
        (*items)[i].json = it;
    }
    return RT_OK;
}

static int has_item(const report_item *items, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (!strcmp(items[i].id, id)) return 1;
    return 0;
}

static void add_item(report_item **items, int *n, const char *id) {
    *items = rt_realloc(*items, (size_t)(*n + 1) * sizeof **items);
    (*items)[(*n)++] = (report_item){id, id, NULL};
}

/* Without "configs" or "splits" the table still shows every cell: rows and columns come from the keys of
 * "cells" in file order. */
static void items_from_cells(report_data *d) {
    const char *cid;
    const json_t *row;
    int want_configs = !json_object_get(d->root, "configs"), want_splits = !json_object_get(d->root, "splits");
    json_object_foreach((json_t *)d->cells, cid, row) {
        if (want_configs && !has_item(d->configs, d->n_configs, cid)) add_item(&d->configs, &d->n_configs, cid);
        const char *sid;
        const json_t *cell;
        if (!want_splits || !json_is_object(row)) continue;
        json_object_foreach((json_t *)row, sid, cell) {
            if (!has_item(d->splits, d->n_splits, sid)) add_item(&d->splits, &d->n_splits, sid);
        }
    }
}

/* The run's date: results.json's "date" when it has one, else when the file was last written. */
static void read_date(report_data *d) {
    const json_t *date = json_object_get(d->root, "date");
    struct stat st;
    struct tm tm;
    if (json_is_string(date)) snprintf(d->date, sizeof d->date, "%s", json_string_value(date));
    else if (stat(d->results_path, &st) == 0 && gmtime_r(&st.st_mtime, &tm))
        strftime(d->date, sizeof d->date, "%Y-%m-%d %H:%M UTC", &tm);
    else snprintf(d->date, sizeof d->date, "n/a");
}

static rt_status read_curves(const char *bench_dir, report_data *d) {
    const json_t *logs = json_object_get(d->root, "loss_logs");
    if (!logs) return RT_OK;
    if (!json_is_object(logs)) return rt_fail(RT_ERR_FORMAT, "%s: key 'loss_logs' must be an object", d->results_path);
    d->curves = rt_calloc(json_object_size(logs) + 1, sizeof *d->curves);
    const char *label;
    const json_t *path;
    json_object_foreach((json_t *)logs, label, path) {
        report_curve *c = &d->curves[d->n_curves++];
        c->label = label;
        if (json_is_string(path)) {
            const char *p = json_string_value(path);
            c->shown_path = p;
            c->path = p[0] == '/' ? rt_strdup(p) : rt_path_join(bench_dir, p);
        }
        RT_TRY(rt_report_curve_load(c));
    }
    return RT_OK;
}

rt_status rt_report_data_load(const char *bench_dir, report_data *d) {
    memset(d, 0, sizeof *d);
    d->seconds = NAN;
    if (!rt_is_dir(bench_dir)) return rt_fail(RT_ERR_NOT_FOUND, "%s: not a folder", bench_dir);
    d->results_path = rt_path_join(bench_dir, "results.json");
    RT_TRY(rt_json_load(d->results_path, &d->root));
    if (!json_is_object(d->root)) return rt_fail(RT_ERR_FORMAT, "%s: must hold a JSON object", d->results_path);
    const json_t *scale = json_object_get(d->root, "scale"), *secs = json_object_get(d->root, "seconds");
    d->scale = json_is_string(scale) ? json_string_value(scale) : NULL;
    if (json_is_number(secs)) d->seconds = json_number_value(secs);
    d->cells = json_object_get(d->root, "cells");
    if (d->cells && !json_is_object(d->cells))
        return rt_fail(RT_ERR_FORMAT, "%s: key 'cells' must be an object", d->results_path);
    RT_TRY(read_items(d, "configs", &d->configs, &d->n_configs));
    RT_TRY(read_items(d, "splits", &d->splits, &d->n_splits));
    if (d->cells) items_from_cells(d);
    if (d->n_configs == 0 || d->n_splits == 0)
        return rt_fail(RT_ERR_FORMAT, "%s: no configurations or splits (keys 'configs', 'splits' and 'cells')",
                       d->results_path);
    read_date(d);
    return read_curves(bench_dir, d);
}

void rt_report_data_free(report_data *d) {
    for (int i = 0; i < d->n_curves; i++) rt_report_curve_free(&d->curves[i]);
    free(d->curves);
    free(d->configs);
    free(d->splits);
    free(d->results_path);
    json_decref(d->root);
    memset(d, 0, sizeof *d);
}

const json_t *rt_report_cell(const report_data *d, int config, int split) {
    const json_t *row = json_object_get(d->cells, d->configs[config].id);
    const json_t *cell = json_object_get(row, d->splits[split].id);
    return json_is_object(cell) ? cell : NULL;
}

int rt_report_cell_num(const json_t *cell, const char *key, double *out) {
    const json_t *v = json_object_get(cell, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v))) return 0;
    *out = json_number_value(v);
    return 1;
}

int rt_report_cell_rate(const json_t *cell, double *rate, double *lo, double *hi, int *have_ci) {
    double k, n;
    int have_kn = rt_report_cell_num(cell, "successes", &k) && rt_report_cell_num(cell, "episodes", &n) && n > 0 && k >= 0 &&
                  k <= n;
    int have_rate = rt_report_cell_num(cell, "success_rate", rate);
    if (!have_rate && have_kn) *rate = k / n, have_rate = 1;
    *have_ci = rt_report_cell_num(cell, "ci_low", lo) && rt_report_cell_num(cell, "ci_high", hi);
    if (!*have_ci && have_kn) rt_wilson_interval((int)k, (int)n, WILSON_Z_95, lo, hi), *have_ci = 1;
    return have_rate;
}

int rt_report_config_sum(const report_data *d, int config, const char *key, double *out) {
    int have = 0;
    *out = 0;
    for (int j = 0; j < d->n_splits; j++) {
        double x;
        if (rt_report_cell_num(rt_report_cell(d, config, j), key, &x)) *out += x, have = 1;
    }
    return have;
}
