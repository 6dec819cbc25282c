/* test_report.c: the HTML report of a bench folder: the fixture's numbers land in the right table rows,
 * one SVG per chart, labels escaped, no URLs, the page is well-formed; long loss logs are downsampled
 * without losing their extremes; missing and garbled inputs give "n/a" or a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report_internal.h"
#include "report_test_util.h"
#include "retrace.h"

#define FIXTURE RT_FIXTURES_DIR "/report"
#define MAX_PATH 512
#define LONG_LOG_STEPS 5000

/* The checker itself rejects what it should, so a pass above means something. */
static void test_checker(void **state) {
    (void)state;
    assert_null(check_well_formed("<!DOCTYPE html>\n<p class=\"a=b\">x &amp; y &#8211;<br/></p>"));
    assert_non_null(check_well_formed("<p><b>x</p></b>"));
    assert_non_null(check_well_formed("<p>a & b</p>"));
    assert_non_null(check_well_formed("<svg><text>x</text>"));
    assert_non_null(check_well_formed("<rect x=1/>"));
    assert_non_null(check_well_formed("<p>x</p"));
}

static char *render_fixture(void) {
    char dir[] = "/tmp/rt_report_XXXXXX", out[MAX_PATH];
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/r.html", dir);
    assert_int_equal(rt_report_write(FIXTURE, out), RT_OK);
    char *html;
    size_t len;
    assert_int_equal(rt_file_read(out, &html, &len), RT_OK);
    assert_int_equal(strlen(html), len);
    unlink(out);
    rmdir(dir);
    return html;
}

/* The row of a configuration and split, from its <tr> to its </tr>. */
static char *row(const char *html, const char *config, const char *split) {
    char key[128];
    snprintf(key, sizeof key, "<tr data-config=\"%s\" data-split=\"%s\">", config, split);
    const char *start = strstr(html, key);
    if (!start) fail_msg("no row %s/%s", config, split);
    const char *end = strstr(start, "</tr>");
    assert_non_null(end);
    return strndup(start, (size_t)(end - start));
}

static void expect_row(const char *html, const char *config, const char *split, const char *const *cells, int n) {
    char *r = row(html, config, split);
    /* The number cells in order: success, interval, mean steps, invalid actions, successes/episodes. */
    const char *p = r;
    for (int i = 0; i < n; i++) {
        char want[96];
        snprintf(want, sizeof want, "<td class=\"num\">%s</td>", cells[i]);
        const char *hit = strstr(p, want);
        if (!hit) fail_msg("%s/%s: no cell %s in order in %s", config, split, want, r);
        p = hit + strlen(want);
    }
    free(r);
}

/* The expected cells are the fixture's values (tests/fixtures/report/README.md), rounded as printed. */
static void test_fixture_table(void **state) {
    (void)state;
    char *html = render_fixture();
    /* Real eval summaries: 0/15 with the Wilson upper bound 0.2039. */
    expect_row(html, "a", "train", (const char *[]){"0.0%", "0.0&#8211;20.4%", "20.0", "2.3%", "0/15"}, 5);
    expect_row(html, "b", "unseen_task", (const char *[]){"0.0%", "0.0&#8211;20.4%", "20.0", "5.0%", "0/15"}, 5);
    expect_row(html, "c", "train", (const char *[]){"60.0%", "35.7&#8211;80.2%", "11.4", "0.0%", "9/15"}, 5);
    expect_row(html, "c", "unseen_task", (const char *[]){"20.0%", "7.0&#8211;45.2%", "16.8", "0.4%", "3/15"}, 5);
    expect_row(html, "c", "unseen_api", (const char *[]){"13.3%", "3.7&#8211;37.9%", "18.0", "12.5%", "2/15"}, 5);
    expect_row(html, "e", "train", (const char *[]){"80.0%", "54.8&#8211;93.0%", "9.6", "0.0%", "12/15"}, 5);
    expect_row(html, "e", "unseen_task", (const char *[]){"53.3%", "30.1&#8211;75.2%", "12.1", "1.0%", "8/15"}, 5);
    /* Rate and interval computed from 4/15 (statsmodels' Wilson interval: 0.10897-0.51950). */
    expect_row(html, "b", "unseen_api", (const char *[]){"26.7%", "10.9&#8211;52.0%", "17.2", "n/a", "4/15"}, 5);
    /* No cell, and a cell that is not an object. */
    expect_row(html, "a", "unseen_api", (const char *[]){"n/a", "n/a", "n/a", "n/a", "n/a"}, 5);
    expect_row(html, "e", "unseen_api", (const char *[]){"n/a", "n/a", "n/a", "n/a", "n/a"}, 5);
    assert_int_equal(count(html, "<tr data-config="), 12);
    /* Rows in the order of "configs", the configuration's label on its first row only. */
    assert_true(strstr(html, "data-config=\"a\"") < strstr(html, "data-config=\"e\""));
    assert_non_null(strstr(html, "<td rowspan=\"3\"><span class=\"cid\">(c)</span> LoRA SFT</td><td>seen task types</td>"));
    /* Header: date, scale, seconds. */
    assert_non_null(strstr(html, "2026-11-25 12:40 UTC"));
    assert_non_null(strstr(html, "scale <b>quick</b>"));
    assert_non_null(strstr(html, "<b>812.3 s</b> (13 min 32 s)"));
    /* Time split of b: retrieval 0.2428 + 0.2471 s, decoding 13.158 + 14.492 s. */
    assert_non_null(strstr(html, "<tr><td><span class=\"cid\">(b)</span> retrieval only</td><td class=\"num\">0.49</td><td class=\"num\">27.65</td>"
                                 "<td class=\"num\">1.7%</td></tr>"));
    free(html);
}

static void test_fixture_page(void **state) {
    (void)state;
    char *html = render_fixture();
    const char *bad = check_well_formed(html);
    if (bad) fail_msg("not well-formed: %s", bad);
    /* Charts: success, three loss logs that exist (d's does not), evaluation time. */
    assert_int_equal(count(html, "<svg "), 5);
    assert_int_equal(count(html, "</svg>"), 5);
    assert_non_null(strstr(html, "<title>success by configuration and split</title>"));
    /* Bars carry their numbers as tooltips; the computed interval of b/unseen_api draws a whisker too. */
    assert_non_null(strstr(html, "<title>LoRA SFT, unseen task types: 20.0% [95% CI 7.0&#8211;45.2], 3/15</title>"));
    assert_non_null(strstr(html, "<title>retrieval only, drifted APIs: 26.7% [95% CI 10.9&#8211;52.0], 4/15</title>"));
    assert_int_equal(count(html, "stroke=\"#222\""), 10); /* a whisker per cell but the two n/a */
    assert_non_null(
        strstr(html, "<b>d</b> <code>d/loss.jsonl</code></figcaption>\n<p class=\"na\">n/a: file not found"));
    assert_non_null(strstr(html, "1 unreadable line skipped"));
    /* e's log has validation lines at steps 10, 20, 30: markers with their values. */
    assert_non_null(strstr(html, "step 10: validation loss 5.2340"));
    assert_non_null(strstr(html, "step 30: validation loss 4.9288"));
    assert_int_equal(count(html, ": validation loss "), 3);
    /* Every label escaped, wherever it appears (table, legend, tooltips, chart titles). */
    assert_null(strstr(html, "<dynamic>"));
    assert_null(strstr(html, "<sft>"));
    assert_non_null(strstr(html, "<td rowspan=\"3\"><span class=\"cid\">(e)</span> retrace &lt;dynamic&gt; &amp; &quot;negatives&quot;</td>"));
    assert_non_null(strstr(html, "<title>loss of e &lt;sft&gt;</title>"));
    /* Self-contained: no scripts, and no URL but the SVG namespace. */
    assert_null(strstr(html, "<script"));
    assert_int_equal(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_null(strstr(html, "url("));
    free(html);
}

static void write_text(const char *path, const char *text) {
    assert_int_equal(rt_file_write_atomic(path, text, strlen(text)), RT_OK);
}

static void bench_dir(char *dir, const char *results_json) {
    strcpy(dir, "/tmp/rt_report_XXXXXX");
    assert_non_null(mkdtemp(dir));
    if (!results_json) return;
    char path[MAX_PATH];
    snprintf(path, sizeof path, "%s/results.json", dir);
    write_text(path, results_json);
}

static void remove_dir(const char *dir) {
    char cmd[MAX_PATH + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A random walk with one spike and one dip in a long log: at most REPORT_MAX_CURVE_POINTS remain, all of
 * them input points in step order, with the ends and both extremes. */
static void test_downsample(void **state) {
    (void)state;
    report_point *in = malloc(LONG_LOG_STEPS * sizeof *in), *pts = malloc(LONG_LOG_STEPS * sizeof *pts);
    rt_rng r;
    rt_rng_seed(&r, 7);
    double y = 5;
    for (int i = 0; i < LONG_LOG_STEPS; i++) {
        y += 0.05 * rt_rng_normal(&r);
        in[i] = (report_point){i + 1, y};
    }
    in[2345].y = 100, in[3999].y = -100;
    memcpy(pts, in, LONG_LOG_STEPS * sizeof *in);
    int n = rt_report_downsample(pts, LONG_LOG_STEPS, REPORT_MAX_CURVE_POINTS);
    assert_true(n <= REPORT_MAX_CURVE_POINTS && n >= REPORT_MAX_CURVE_POINTS / 2);
    assert_true(pts[0].x == 1 && pts[n - 1].x == LONG_LOG_STEPS);
    int spike = 0, dip = 0;
    for (int i = 0; i < n; i++) {
        int step = (int)pts[i].x;
        assert_true(step >= 1 && step <= LONG_LOG_STEPS && pts[i].y == in[step - 1].y);
        if (i > 0) assert_true(pts[i].x > pts[i - 1].x);
        spike |= pts[i].y == 100, dip |= pts[i].y == -100;
    }
    assert_true(spike && dip);
    /* Short curves are left alone. */
    assert_int_equal(rt_report_downsample(pts, 50, REPORT_MAX_CURVE_POINTS), 50);
    free(in);
    free(pts);
}

/* End to end: a 5000-step log is drawn with at most REPORT_MAX_CURVE_POINTS points and says so. */
static void test_long_log_page(void **state) {
    (void)state;
    char dir[64], path[MAX_PATH];
    bench_dir(dir, "{\"configs\": [{\"id\": \"a\"}], \"splits\": [{\"id\": \"train\"}], \"cells\": {},"
                   " \"loss_logs\": {\"run\": \"run.jsonl\"}}");
    rt_strbuf log = {0};
    for (int i = 1; i <= LONG_LOG_STEPS; i++) {
        rt_strbuf_addf(&log, "{\"step\": %d, \"loss\": %.6f, \"lr\": 0.0003}\n", i, 5.0 / (1 + i * 0.01));
        if (i % 500 == 0) rt_strbuf_addf(&log, "{\"step\": %d, \"val_loss\": %.6f}\n", i, 5.5 / (1 + i * 0.01));
    }
    snprintf(path, sizeof path, "%s/run.jsonl", dir);
    write_text(path, log.buf);
    free(log.buf);
    char *html;
    assert_int_equal(rt_report_render(dir, &html), RT_OK);
    const char *pl = strstr(html, "points=\"");
    assert_non_null(pl);
    int points = 1;
    for (const char *p = pl + 8; *p != '"'; p++) points += *p == ' ';
    assert_true(points <= REPORT_MAX_CURVE_POINTS && points > 100);
    char want[96];
    snprintf(want, sizeof want, "%d points drawn of %d", points + 10, LONG_LOG_STEPS + 10);
    if (!strstr(html, want)) fail_msg("no '%s'", want);
    assert_non_null(strstr(html, "last loss 0.0980 at step 5000"));
    assert_int_equal(count(html, ": validation loss "), 10);
    /* The cell is missing: n/a in the table and the chart; no times, so no time section. */
    expect_row(html, "a", "train", (const char *[]){"n/a", "n/a", "n/a", "n/a", "n/a"}, 5);
    assert_null(check_well_formed(html));
    free(html);
    remove_dir(dir);
}

/* A resumed run appends the steps after its checkpoint again: the later values win, in step order. */
static void test_resumed_log(void **state) {
    (void)state;
    char dir[64];
    bench_dir(dir, NULL);
    char path[MAX_PATH];
    snprintf(path, sizeof path, "%s/loss.jsonl", dir);
    write_text(path, "{\"step\": 1, \"loss\": 4}\n{\"step\": 2, \"loss\": 3}\n{\"step\": 3, \"loss\": 9}\n"
                     "{\"step\": 2, \"val_loss\": 3.5}\n\n{\"step\": 3, \"loss\": 2}\r\n{\"step\": 4, \"loss\": 1}\n"
                     "{\"loss\": 7}\n[1, 2]\n{\"step\": 5, \"loss\": \"x\"}\n");
    report_curve c = {.label = "run", .path = strdup(path)};
    assert_int_equal(rt_report_curve_load(&c), RT_OK);
    assert_null(c.missing);
    assert_int_equal(c.n_train, 4);
    const double want[] = {4, 3, 2, 1};
    for (int i = 0; i < 4; i++) assert_true(c.train[i].x == i + 1 && c.train[i].y == want[i]);
    assert_int_equal(c.n_val, 1);
    assert_true(c.val[0].x == 2 && c.val[0].y == 3.5);
    /* No step, not an object; a line whose loss is not a number is read but has no point. */
    assert_int_equal(c.bad_lines, 2);
    rt_report_curve_free(&c);
    remove_dir(dir);
}

static void expect_error(const char *dir, rt_status code, const char *in_message) {
    char *html = (char *)"unchanged";
    assert_int_equal(rt_report_render(dir, &html), code);
    assert_null(html);
    if (!strstr(rt_errmsg(), in_message)) fail_msg("'%s' does not name '%s'", rt_errmsg(), in_message);
}

static void expect_results_error(const char *json, rt_status code, const char *in_message) {
    char dir[64];
    bench_dir(dir, json);
    expect_error(dir, code, in_message);
    expect_error(dir, code, "results.json");
    remove_dir(dir);
}

static void test_bad_results(void **state) {
    (void)state;
    expect_error("/nonexistent/bench", RT_ERR_NOT_FOUND, "/nonexistent/bench");
    char dir[64];
    bench_dir(dir, NULL);
    expect_error(dir, RT_ERR_IO, "results.json: no such file");
    remove_dir(dir);
    expect_results_error("{\"configs\": [", RT_ERR_FORMAT, "invalid JSON");
    expect_results_error("[1, 2]", RT_ERR_FORMAT, "must hold a JSON object");
    expect_results_error("{\"configs\": {\"a\": 1}, \"splits\": []}", RT_ERR_FORMAT, "key 'configs' must be an array");
    expect_results_error("{\"configs\": [{\"id\": \"a\"}, {\"label\": \"no id\"}], \"splits\": [{\"id\": \"train\"}]}",
                         RT_ERR_FORMAT, "configs[1] must be an object with a string 'id'");
    expect_results_error("{\"configs\": [{\"id\": \"a\"}], \"splits\": [{\"id\": 3}]}", RT_ERR_FORMAT, "splits[0]");
    expect_results_error("{\"configs\": [{\"id\": \"a\"}], \"splits\": [{\"id\": \"t\"}], \"cells\": []}",
                         RT_ERR_FORMAT, "key 'cells' must be an object");
    expect_results_error("{\"configs\": [{\"id\": \"a\"}], \"splits\": [{\"id\": \"t\"}], \"loss_logs\": [\"x\"]}",
                         RT_ERR_FORMAT, "key 'loss_logs' must be an object");
    expect_results_error("{\"scale\": \"full\"}", RT_ERR_FORMAT, "no configurations or splits");
}

/* Rows and columns from the cells when configs and splits are left out; odd loss-log entries are n/a;
 * seconds, scale and date missing are n/a or the file's time. */
static void test_sparse_results(void **state) {
    (void)state;
    char dir[64], path[MAX_PATH];
    bench_dir(dir, "{\"cells\": {\"x\": {\"s1\": {\"successes\": 1, \"episodes\": 2, \"mean_steps\": 3},"
                   " \"s2\": {\"success_rate\": 0.5}}, \"y\": {\"s2\": {}}},"
                   " \"loss_logs\": {\"num\": 3, \"dir\": \"sub\", \"empty\": \"empty.jsonl\","
                   " \"junk\": \"junk.jsonl\"}}");
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/empty.jsonl", dir);
    write_text(path, "");
    snprintf(path, sizeof path, "%s/junk.jsonl", dir);
    write_text(path, "not json\n{\"step\": 1}\n");
    char *html;
    assert_int_equal(rt_report_render(dir, &html), RT_OK);
    /* 1/2: Wilson at 95% is 0.0945-0.9055. */
    expect_row(html, "x", "s1", (const char *[]){"50.0%", "9.5&#8211;90.5%", "3.0", "n/a", "1/2"}, 5);
    expect_row(html, "x", "s2", (const char *[]){"50.0%", "n/a", "n/a", "n/a", "n/a"}, 5);
    expect_row(html, "y", "s1", (const char *[]){"n/a", "n/a", "n/a", "n/a", "n/a"}, 5);
    expect_row(html, "y", "s2", (const char *[]){"n/a", "n/a", "n/a", "n/a", "n/a"}, 5);
    assert_non_null(strstr(html, "scale <b>n/a</b> &#183; total <b>n/a</b>"));
    assert_non_null(strstr(html, " UTC &#183; scale"));
    assert_non_null(strstr(html, "n/a: the loss_logs value is not a path"));
    assert_non_null(strstr(html, "<b>dir</b> <code>sub</code></figcaption>\n<p class=\"na\">n/a: file not found"));
    assert_int_equal(count(html, "n/a: no loss values in the file"), 2);
    assert_non_null(strstr(html, "1 unreadable line skipped"));
    /* Only the success chart: no cell has times, so there is no time section. */
    assert_int_equal(count(html, "<svg "), 1);
    assert_null(strstr(html, "Evaluation time"));
    assert_null(check_well_formed(html));
    free(html);
    remove_dir(dir);
}

/* Writing is atomic: a failed render leaves the old report, an unwritable place leaves nothing. */
static void test_write_atomic(void **state) {
    (void)state;
    char dir[64], out[MAX_PATH];
    bench_dir(dir, "{not json");
    snprintf(out, sizeof out, "%s/report.html", dir);
    write_text(out, "old report");
    assert_int_equal(rt_report_write(dir, out), RT_ERR_FORMAT);
    char *text;
    size_t len;
    assert_int_equal(rt_file_read(out, &text, &len), RT_OK);
    assert_string_equal(text, "old report");
    free(text);
    snprintf(out, sizeof out, "%s/no/such/dir/report.html", dir);
    assert_int_equal(rt_report_write(FIXTURE, out), RT_ERR_IO);
    assert_false(rt_path_exists(out));
    remove_dir(dir);
}

/* Round ticks that cover the data. */
static void test_axis(void **state) {
    (void)state;
    const double ranges[][2] = {{0, 1},  {0.13, 6.53}, {4.9, 5.84}, {1, 5000},
                                {5, 5},  {0, 0},       {-3, 12},    {0.001, 0.0042}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        report_axis a;
        rt_report_axis_nice(ranges[i][0], ranges[i][1], 6, &a);
        assert_true(a.lo <= ranges[i][0] && a.hi >= ranges[i][1] && a.hi > a.lo);
        double ticks = (a.hi - a.lo) / a.step;
        assert_true(fabs(ticks - round(ticks)) < 1e-6 && round(ticks) + 1 <= 7);
        double mant = a.step / pow(10, floor(log10(a.step) + 1e-9));
        assert_true(fabs(mant - 1) < 1e-9 || fabs(mant - 2) < 1e-9 || fabs(mant - 5) < 1e-9);
    }
    report_axis a;
    rt_report_axis_nice(0, 1, 6, &a);
    assert_true(a.lo == 0 && fabs(a.hi - 1) < 1e-12 && fabs(a.step - 0.2) < 1e-12 && a.decimals == 1);
}

/* Escaping and cutting keep UTF-8 sequences whole and drop control characters. */
static void test_escape(void **state) {
    (void)state;
    rt_strbuf s = {0};
    rt_html_escape(&s, "a<b>&\"c'\x01\n");
    assert_string_equal(s.buf, "a&lt;b&gt;&amp;&quot;c&#39;\n");
    s.len = 0;
    rt_html_escape_cut(&s, "\xc3\xa9t\xc3\xa9 & hiver", 4);
    assert_string_equal(s.buf, "\xc3\xa9t\xc3\xa9&#8230;");
    s.len = 0;
    rt_html_escape_cut(&s, "\xc3\xa9t\xc3\xa9", 3);
    assert_string_equal(s.buf, "\xc3\xa9t\xc3\xa9");
    free(s.buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_table), cmocka_unit_test(test_fixture_page),  cmocka_unit_test(test_downsample),
        cmocka_unit_test(test_long_log_page), cmocka_unit_test(test_resumed_log),   cmocka_unit_test(test_bad_results),
        cmocka_unit_test(test_sparse_results), cmocka_unit_test(test_write_atomic), cmocka_unit_test(test_axis),
        cmocka_unit_test(test_escape),        cmocka_unit_test(test_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
