/* test_stats.c: the exact McNemar test and the Wilson interval against exact values: the p-values are
 * exact rationals from tools/stats_reference.py (the same numbers scipy.stats.binomtest(b, b + c, 0.5)
 * gives; the script checks them against scipy where it is installed), the intervals its closed form
 * in Python's float64 (which agree with statsmodels' proportion_confint(method="wilson"): 8 of 10 gives
 * 0.4902-0.9433, 0 of 20 0-0.1611, 50 of 100 0.4038-0.5962). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "retrace/stats.h"

/* python3 tools/stats_reference.py */
static const struct { int b, c; double p; } MCNEMAR[] = {
    {0, 0, 1},
    {1, 0, 1},
    {0, 5, 0.0625},
    {3, 3, 1},
    {2, 8, 0.109375},
    {8, 2, 0.109375},
    {10, 1, 0.01171875},
    {0, 12, 0.00048828125},
    {7, 13, 0.26317596435546875},
    {25, 10, 0.016673847800120711},
    {40, 60, 0.056887933640980791},
    {300, 250, 0.036578745549102704},
};

static const struct { int k, n; double lo, hi; } WILSON[] = {
    {8, 10, 0.49015684672072335, 0.94331905201930666},
    {0, 20, 0, 0.16113012549493322},
    {50, 100, 0.40382982859014716, 0.59617017140985284},
    {30, 60, 0.37734812427246284, 0.62265187572753722},
    {59, 60, 0.91144661773220514, 0.99705191613912625},
};

static void test_mcnemar_exact(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof MCNEMAR / sizeof *MCNEMAR; i++) {
        double p = rt_mcnemar_exact(MCNEMAR[i].b, MCNEMAR[i].c);
        /* relative: the smallest reference is 5e-4, and the sum runs in log space */
        assert_true(fabs(p - MCNEMAR[i].p) <= 1e-10 * MCNEMAR[i].p);
    }
}

static void test_mcnemar_symmetric_and_bad_input(void **state) {
    (void)state;
    for (int b = 0; b < 30; b++)
        for (int c = 0; c < 30; c++) {
            double p = rt_mcnemar_exact(b, c);
            assert_true(p > 0 && p <= 1);
            assert_true(p == rt_mcnemar_exact(c, b));
        }
    assert_true(rt_mcnemar_exact(-1, 3) == -1);
    assert_true(rt_mcnemar_exact(3, -1) == -1);
    /* large counts neither overflow nor underflow to a wrong 0 or NaN */
    double p = rt_mcnemar_exact(2000, 2100);
    assert_true(p > 0.1 && p < 0.2); /* z = 100 / sqrt(4100) = 1.56: normal approximation gives 0.119 */
}

static void test_wilson(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof WILSON / sizeof *WILSON; i++) {
        double lo, hi;
        rt_wilson_interval(WILSON[i].k, WILSON[i].n, 1.96, &lo, &hi);
        assert_float_equal(lo, WILSON[i].lo, 1e-12);
        assert_float_equal(hi, WILSON[i].hi, 1e-12);
    }
    double lo, hi;
    rt_wilson_interval(0, 0, 1.96, &lo, &hi);
    assert_true(lo == 0.0 && hi == 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcnemar_exact),
        cmocka_unit_test(test_mcnemar_symmetric_and_bad_input),
        cmocka_unit_test(test_wilson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
