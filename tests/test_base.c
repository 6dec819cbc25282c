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

/* Numbers are written as they were read: a float32 hyperparameter as its shortest decimal, and every real
 * with the fewest digits that read back as the same double (the comparison is Python's repr). */
static void test_json_numbers_as_read(void **state) {
    (void)state;
    char dir[] = "/tmp/rt_test_json_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = rt_path_join(dir, "n.json"), *text = NULL;
    size_t len;
    json_t *root = json_object();
    json_object_set_new(root, "eps", rt_json_float(1e-5f));
    json_object_set_new(root, "eps6", rt_json_float(1e-6f));
    json_object_set_new(root, "dropout", json_real(0.05));
    json_object_set_new(root, "theta", json_real(500000.0));
    json_object_set_new(root, "list", json_pack("[f]", 0.1));
    assert_int_equal(rt_json_save(path, root), RT_OK);
    assert_int_equal(rt_file_read(path, &text, &len), RT_OK);
    /* jansson drops the exponent's leading zero: 1e-5 where Python writes 1e-05 (the same number) */
    assert_non_null(strstr(text, "\"eps\": 1e-5,"));
    assert_non_null(strstr(text, "\"eps6\": 1e-6,"));
    assert_non_null(strstr(text, "\"dropout\": 0.05,"));
    assert_non_null(strstr(text, "\"theta\": 500000.0\n"));
    assert_non_null(strstr(text, "0.1\n"));
    /* A value that needs all 17 digits keeps them: nothing is rounded away. */
    json_t *back = NULL;
    json_object_set_new(root, "third", json_real(1.0 / 3.0));
    assert_int_equal(rt_json_save(path, root), RT_OK);
    assert_int_equal(rt_json_load(path, &back), RT_OK);
    assert_true(json_real_value(json_object_get(back, "third")) == 1.0 / 3.0);
    assert_true((float)json_real_value(json_object_get(back, "eps")) == 1e-5f);
    json_decref(back), json_decref(root), free(text);
    unlink(path), rmdir(dir), free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_numbers_as_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
