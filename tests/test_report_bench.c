/* test_report_bench.c: the report of a folder in the bench's results.json schema (tests/fixtures/
 * report_bench): the compact table's cells with reward and same-type share, the McNemar tests, the
 * ablation, success by type, the retrieved contexts and (c) beside (e) from the episode files, the run,
 * escaping; and the chart labels' wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report_internal.h"
#include "report_test_util.h"
#include "retrace.h"

/* Wrapped labels: no line wider than asked (by the conservative measure), every word kept when the text
 * fits in the lines (a word wider than a line is broken, not dropped), an ellipsis when it does not,
 * UTF-8 sequences never split. */
static void test_wrap(void **state) {
    (void)state;
    const char *texts[] = {"(e) retrace (reward, failures, docs)", "(c+r) LoRA, retrieval at test only",
                           "pick_heat_then_place_in_recep_and_more_words_without_spaces", "a", "",
                           "\xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9 \xc3\xa9t\xc3\xa9",
                           "WWWW MMMM wwww mmmm"};
    const double widths[] = {40, 90, 140, 300};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++)
        for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
            report_lines l;
            rt_report_wrap(texts[t], widths[w], REPORT_FONT_PX, REPORT_MAX_LINES, &l);
            assert_true(l.n >= 1 && l.n <= REPORT_MAX_LINES);
            rt_strbuf joined = {0};
            rt_strbuf_add(&joined, "");
            for (int i = 0; i < l.n; i++) {
                /* one character is allowed past the width only when not even one fits */
                if (strlen(l.line[i]) > 2) assert_true(rt_report_text_width(l.line[i], REPORT_FONT_PX) <= widths[w]);
                for (const char *c = l.line[i]; *c; c++) /* no cut sequence: a lead byte before continuations */
                    if (((unsigned char)*c & 0xC0) == 0x80) assert_true(c > l.line[i]);
                rt_strbuf_add(&joined, l.line[i]);
            }
            /* What is shown, without the spaces at the breaks, is the text's start (all of it when not cut). */
            char *want = strdup(texts[t]), *q = want;
            for (char *p = want; *p; p++)
                if (*p != ' ') *q++ = *p;
            *q = '\0';
            char *got = joined.buf, *g = got;
            for (char *p = got; *p; p++)
                if (*p != ' ') *g++ = *p;
            *g = '\0';
            if (l.cut) {
                size_t n = strlen(got) - 3; /* without the ellipsis */
                assert_string_equal(got + n, "\xe2\x80\xa6");
                assert_memory_equal(got, want, n);
            } else {
                assert_string_equal(got, want);
            }
            free(want);
            free(joined.buf);
            rt_report_lines_free(&l);
        }
    /* The measure is conservative: wide letters count wider than narrow ones, every code point counts. */
    assert_true(rt_report_text_width("WWWW", 12) > rt_report_text_width("iiii", 12));
    assert_true(rt_report_text_width("\xc3\xa9", 12) >= 12 * 0.6);
    assert_true(rt_report_text_width("abcdefghij", 12) >= 10 * 12 * 0.55);
}

#define BENCH_FIXTURE RT_FIXTURES_DIR "/report_bench"

/* The bench schema: cells with reward and same-type share, the tests, the ablation, success by type,
 * the examples from the episode files, (c) beside (e), all escaped and well-formed. The numbers are the
 * fixture's (tests/fixtures/report_bench/README.md). */
static void test_bench_schema(void **state) {
    (void)state;
    char *html;
    assert_int_equal(rt_report_render(BENCH_FIXTURE, &html), RT_OK);
    const char *bad = check_well_formed(html);
    if (bad) fail_msg("not well-formed: %s", bad);
    assert_non_null(strstr(html, "<td data-config=\"e\" data-split=\"unseen_task\"><span class=\"rate\">68.3%</span> "
                                 "<span class=\"ci\">[55.8&#8211;78.7]</span> <span class=\"kn\">41/60</span><br/>"
                                 "<span class=\"sub\">reward <span class=\"reward\">0.70</span> &#183; same type "
                                 "<span class=\"same\">92.5%</span></span></td>"));
    /* no mean reward, no retrieval: nothing below the line */
    assert_non_null(strstr(html, "<td data-config=\"a\" data-split=\"train\"><span class=\"rate\">10.0%</span> "
                                 "<span class=\"ci\">[3.5&#8211;25.6]</span> <span class=\"kn\">3/30</span></td>"));
    /* McNemar: 31 against 2 discordant pairs, p = 2 * P(X <= 2), X ~ Bin(33, 1/2) = 1.309e-07 */
    assert_non_null(strstr(html, "<td>(e) vs (c)</td><td>held-out task types</td><td class=\"num\">60</td>"
                                 "<td class=\"num\">31</td><td class=\"num\">2</td><td class=\"num p\">1.309e-07</td>"));
    assert_non_null(strstr(html, "<tr data-ablation=\"e-empty\"><td>e-empty</td><td>empty index</td><td>"
                                 "<span class=\"rate\">25.0%</span>"));
    assert_non_null(strstr(html, "<tr data-type=\"pick_two_obj_and_place\"><td class=\"type\">pick_<wbr/>two_<wbr/>obj_<wbr/>and_<wbr/>place"
                                 "</td><td class=\"num\"><span class=\"kn\">1/30</span> <span class=\"sub\">3%</span>"));
    /* (c) beside (e): seed 202, which (e) solved and (c) did not; the bad first line of c's file skipped */
    const char *pair = strstr(html, "<div class=\"pair\">");
    assert_non_null(pair);
    assert_int_equal(count(pair, "seed 202,"), 2);
    assert_non_null(strstr(html, "the first seed that (e) solved and (c) did not"));
    /* the retrieved context of (b): its ids, the same-type mark, and the retrieved episode itself */
    assert_non_null(strstr(html, "successful run <code>hh-train-001</code>, type <code>pick_heat_then_place_in_recep"
                                 "</code> <span class=\"same\">(same type)</span>, score 0.910"));
    assert_non_null(strstr(html, "task: heat some &lt;egg&gt; &amp; put it in fridge.<br/>actions: go to fridge 1 "
                                 "\xe2\x86\x92 heat egg 1 with microwave 1<br/>outcome: success"));
    assert_non_null(strstr(html, "failed run <code>hh-noisy-007</code>"));
    /* the run: in the header, then in full */
    assert_non_null(strstr(html, "<br/>base <code>/models/SmolLM2-135M-Instruct.Q4_1.gguf</code><br/>commit <code>"
                                 "v0.1.0-42-gabc1234</code><br/>machine <code>AMD EPYC &lt;test&gt; &amp; co</code></p>"));
    assert_non_null(strstr(html, "<dt>commit</dt><dd>v0.1.0-42-gabc1234</dd>"));
    assert_non_null(strstr(html, "<dt>machine</dt><dd>cpu <b>AMD EPYC &lt;test&gt; &amp; co</b> &#183; threads <b>2</b>"));
    assert_non_null(strstr(html, "<code class=\"seeds\">[101,202,303]</code>"));
    assert_non_null(strstr(html, "retrace bench --scale real --base /models/SmolLM2-135M-Instruct.Q4_1.gguf --embedder "
                                 "hash --recipe retrace --epochs 2 -k 2 -o " BENCH_FIXTURE));
    assert_non_null(strstr(html, "<a href=\"episodes_c+r_unseen_task.jsonl\">episodes_c+r_unseen_task.jsonl</a> "
                                 "<span class=\"na\">(not in the folder)</span>"));
    /* the adapter's hyperparameters from its adapter_config.json (found under the bench folder; c's is not) */
    assert_non_null(strstr(html, "<code>WORK/e/adapter</code></td><td class=\"lora\">r 128, alpha 256, rsLoRA, "
                                 "dropout 0.05, on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj</td>"));
    assert_non_null(strstr(html, "<code>WORK/c/adapter</code></td><td class=\"lora\"><span class=\"na\">n/a</span>"));
    /* escaping of everything from the data */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<knife>"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "<dt>future_field</dt><dd>x <b>&lt;i&gt;kept&lt;/i&gt;</b></dd>"));
    free(html);
}

/* Without the "tests" list the paired tests come from (e)'s cells ("mcnemar"), in split order. */
static void test_tests_from_cells(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_report_XXXXXX", path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/results.json", dir);
    const char *json = "{\"configs\": [{\"id\": \"c\"}, {\"id\": \"e\"}], \"splits\": [{\"id\": \"s1\"}, {\"id\": \"s2\"}],"
                       " \"cells\": {\"e\": {\"s2\": {\"mcnemar\": {\"c\": {\"pairs\": 60, \"e_only\": 9, \"other_only\": 1,"
                       " \"p\": 0.021484375}}}, \"s1\": {\"mcnemar\": {\"c\": {\"pairs\": 30, \"p\": 1}}}}}}";
    assert_int_equal(rt_file_write_atomic(path, json, strlen(json)), RT_OK);
    char *html;
    assert_int_equal(rt_report_render(dir, &html), RT_OK);
    const char *s1 = strstr(html, "<tr data-versus=\"c\" data-split=\"s1\"><td>(e) vs (c)</td><td>s1</td>"
                                  "<td class=\"num\">30</td><td class=\"num\">n/a</td><td class=\"num\">n/a</td>"
                                  "<td class=\"num p\">1</td></tr>");
    const char *s2 = strstr(html, "<tr data-versus=\"c\" data-split=\"s2\"><td>(e) vs (c)</td><td>s2</td>"
                                  "<td class=\"num\">60</td><td class=\"num\">9</td><td class=\"num\">1</td>"
                                  "<td class=\"num p\">0.02148</td></tr>");
    assert_true(s1 && s2 && s1 < s2);
    assert_null(check_well_formed(html));
    free(html);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wrap), cmocka_unit_test(test_bench_schema),
                                       cmocka_unit_test(test_tests_from_cells)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
