/* test_tok_float.c: Unigram scores are held as the reference holds them. The reference parses
 * tokenizer.json with serde_json, which is not correctly rounded; tools/make_tok_fixtures.py wrote
 * each score of the committed Unigram models as the file has it and as the reference holds it
 * (fixtures/tok/floats.json, 52 of 1302 differ by one ULP), and rt_tok_serde_f64 must map the first
 * to the second for every one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "retrace.h"
#include "tok/tok_internal.h"

static void test_scores_as_the_reference_holds_them(void **state) {
    (void)state;
    json_t *pairs;
    if (rt_json_load(RT_FIXTURES_DIR "/tok/floats.json", &pairs) != RT_OK) fail_msg("%s", rt_errmsg());
    size_t n = json_array_size(pairs), bad = 0, rounded_differently = 0;
    assert_true(n > 1000);
    for (size_t i = 0; i < n; i++) {
        double file = json_number_value(json_array_get(json_array_get(pairs, i), 0));
        double held = json_number_value(json_array_get(json_array_get(pairs, i), 1));
        rounded_differently += file != held;
        if (rt_tok_serde_f64(file) != held && bad++ < 5)
            print_message("score %zu: file %.17g, reference %.17g, got %.17g\n", i, file, held, rt_tok_serde_f64(file));
    }
    assert_int_equal(bad, 0);
    /* The fixture must hold cases where correct rounding would be wrong, or it tests nothing. */
    assert_true(rounded_differently > 0);
    json_decref(pairs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_as_the_reference_holds_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
