/* env_test_util.h: checks shared by the environment tests (include after cmocka.h and jansson.h). */
#ifndef RT_ENV_TEST_UTIL_H
#define RT_ENV_TEST_UTIL_H

#include "retrace.h"

/* Replays an episode's actions in a fresh episode of the same seed, leaving out the slips: every other
 * step must see the same observation, so a slip changed nothing in the world. */
static inline void assert_slips_change_nothing(rt_env *env, const json_t *ep) {
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, (uint64_t)json_integer_value(json_object_get(json_object_get(ep, "meta"), "seed")), &st), RT_OK);
    const json_t *steps = json_object_get(ep, "steps");
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        if (json_is_true(json_object_get(step, "slip"))) continue;
        rt_env_result r;
        assert_int_equal(rt_env_step(env, json_string_value(json_object_get(step, "action")), &r), RT_OK);
        assert_string_equal(r.observation, json_string_value(json_object_get(step, "observation")));
        if (r.done) break;
    }
}

#endif
