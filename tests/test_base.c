/* test_base.c: errors, RNG reproducibility, atomic writes, JSON getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

static void test_error_message(void **state) {
    (void)state;
    rt_status s = rt_fail(RT_ERR_FORMAT, "%s: key '%s' missing", "config.json", "hidden_size");
    assert_int_equal(s, RT_ERR_FORMAT);
    assert_string_equal(rt_errmsg(), "config.json: key 'hidden_size' missing");
    rt_fail_context(RT_ERR_FORMAT, "loading %s", "model");
    assert_string_equal(rt_errmsg(), "loading model: config.json: key 'hidden_size' missing");
}

static void test_rng_reproducible(void **state) {
    (void)state;
    rt_rng a, b;
    rt_rng_seed(&a, 42);
    rt_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_true(rt_rng_u64(&a) == rt_rng_u64(&b));
    /* A fixed value pins the stream across machines and compilers. */
    rt_rng_seed(&a, 1);
    uint64_t first = rt_rng_u64(&a);
    rt_rng_seed(&a, 1);
    assert_true(first == rt_rng_u64(&a));
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        float u = rt_rng_float(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    assert_true(sum / 10000 > 0.48 && sum / 10000 < 0.52);
    for (int i = 0; i < 1000; i++) assert_true(rt_rng_below(&a, 7) < 7);
}

static void test_atomic_write(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = rt_path_join(dir, "f.txt");
    assert_int_equal(rt_file_write_atomic(path, "hello", 5), RT_OK);
    /* An aborted writer leaves the old content and no temporary file behind. */
    rt_atomic_file f;
    assert_int_equal(rt_atomic_open(&f, path), RT_OK);
    assert_int_equal(rt_atomic_write(&f, "partial", 7), RT_OK);
    rt_atomic_abort(&f);
    char *data;
    size_t len;
    assert_int_equal(rt_file_read(path, &data, &len), RT_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(rt_file_read("/nonexistent/x", &data, &len), RT_ERR_IO);
    assert_non_null(strstr(rt_errmsg(), "/nonexistent/x"));
    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_json_getters(void **state) {
    (void)state;
    json_t *o = json_pack("{s:i, s:f, s:s, s:b}", "n", 3, "x", 0.5, "s", "hi", "b", 1);
    int64_t n;
    double x;
    const char *s;
    int b;
    assert_int_equal(rt_json_get_int(o, "n", "c.json", &n), RT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rt_json_get_number(o, "x", "c.json", &x), RT_OK);
    assert_int_equal(rt_json_get_string(o, "s", "c.json", &s), RT_OK);
    assert_int_equal(rt_json_get_bool(o, "b", "c.json", &b), RT_OK);
    assert_int_equal(rt_json_get_int(o, "missing", "c.json", &n), RT_ERR_FORMAT);
    assert_string_equal(rt_errmsg(), "c.json: missing key 'missing'");
    assert_int_equal(rt_json_get_int(o, "s", "c.json", &n), RT_ERR_FORMAT);
    json_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_json_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
