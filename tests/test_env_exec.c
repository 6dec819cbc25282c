/* test_env_exec.c: external environments over JSON lines (exec:CMD) with the Python test environment
 * tests/envs/toy_env.py: episodes run through the child's expert; a child that dies, hangs, writes bad
 * JSON or an incomplete reply fails that episode with the reason in meta while the run goes on; no
 * zombie process and no file descriptor is left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "retrace.h"

#define TOY "python3 " RT_FIXTURES_DIR "/../envs/toy_env.py --tag rt-exec-test"
#define EPISODES 16

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static void assert_no_children(void) {
    int st;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* No process started for these tests may outlive its environment: not the shell, and not what the
 * shell started (killed processes are reaped by init within moments, so this waits a little). */
static void assert_no_leftover_processes(void) {
    for (int tries = 0; tries < 50; tries++) {
        int found = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while ((e = readdir(d))) {
            char path[300], buf[4096];
            snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f) continue;
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            for (size_t i = 0; i < n; i++)
                if (buf[i] == '\0') buf[i] = ' ';
            buf[n] = '\0';
            char stat[300], state = 0;
            snprintf(stat, sizeof stat, "/proc/%s/stat", e->d_name);
            FILE *sf = fopen(stat, "r");
            if (sf) {
                if (fscanf(sf, "%*d %*s %c", &state) != 1) state = 0;
                fclose(sf);
            }
            if (strstr(buf, "rt-exec-test") && state != 'Z') found = 1;
        }
        closedir(d);
        if (!found) return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("a child process of an exec: environment outlived it");
}

static rt_env *open_exec(const char *cmd, int timeout_ms) {
    rt_env_config cfg = rt_env_config_default();
    if (timeout_ms) cfg.step_timeout_ms = timeout_ms;
    rt_env *env;
    char spec[512];
    snprintf(spec, sizeof spec, "exec:%s", cmd);
    assert_int_equal(rt_env_open(spec, &cfg, &env), RT_OK);
    return env;
}

/* Runs a batch; episodes whose seed is divisible by `every` must fail with `why`, the rest succeed. */
static void run_batch(const char *cmd, int every, const char *why, int timeout_ms) {
    int fds = open_fds();
    rt_env *env = open_exec(cmd, timeout_ms);
    rt_policy pol = rt_policy_default();
    int failed = 0;
    for (int i = 0; i < EPISODES; i++) {
        uint64_t seed = (uint64_t)i * 5 + 1;
        json_t *ep;
        assert_int_equal(rt_env_run_episode(env, &pol, seed, "x", &ep), RT_OK);
        json_t *meta = json_object_get(ep, "meta");
        int should_fail = every > 0 && seed % (uint64_t)every == 0;
        const char *outcome = json_string_value(json_object_get(ep, "outcome"));
        if (should_fail) {
            assert_string_equal(outcome, "failure");
            assert_string_equal(json_string_value(json_object_get(meta, "end_reason")), "env_error");
            const char *err = json_string_value(json_object_get(meta, "error"));
            assert_non_null(err);
            if (!strstr(err, why)) fail_msg("error '%s' does not say '%s'", err, why);
            assert_true(json_real_value(json_object_get(ep, "reward")) == 0.0);
            failed++;
        } else {
            if (strcmp(outcome, "success") != 0) {
                char *line = rt_env_dump_line(ep);
                fail_msg("episode failed: %s", line);
            }
            assert_string_equal(json_string_value(json_object_get(ep, "task_type")), "corridor");
            assert_true(json_array_size(json_object_get(ep, "steps")) >= 1);
        }
        json_decref(ep);
    }
    assert_int_equal(failed > 0, every > 0);
    rt_env_close(env);
    assert_no_children();
    assert_no_leftover_processes();
    assert_int_equal(open_fds(), fds);
}

static void test_expert_through_exec(void **state) {
    (void)state;
    run_batch(TOY, 0, NULL, 0);
}

static void test_child_dies(void **state) {
    (void)state;
    run_batch(TOY " --fail die --every 2", 2, "child exited with status 3", 0);
}

static void test_child_hangs(void **state) {
    (void)state;
    double t0 = rt_now();
    run_batch(TOY " --fail hang --every 4", 4, "no reply within 500 ms", 500);
    /* Four hung episodes at 0.5 s each, plus starting Python: a hang never stalls the run. */
    assert_true(rt_now() - t0 < 20.0);
}

static void test_child_writes_bad_json(void **state) {
    (void)state;
    run_batch(TOY " --fail badjson --every 2", 2, "bad JSON from the child", 0);
}

static void test_child_writes_incomplete_reply(void **state) {
    (void)state;
    run_batch(TOY " --fail badreply --every 3 --at 2", 3, "the reply lacks \"observation\"", 0);
}

static void test_broken_commands(void **state) {
    (void)state;
    int fds = open_fds();
    rt_policy pol = rt_policy_default();
    /* cat echoes the request: valid JSON, but no "task". */
    const char *cmds[][2] = {{"cat", "the reply lacks \"task\""},
                             {"/nonexistent/env", "exited with status 127"},
                             {"true", "the child closed the connection"}}; /* before or after reading the request */
    for (int i = 0; i < 3; i++) {
        rt_env *env = open_exec(cmds[i][0], 2000);
        for (int k = 0; k < 2; k++) {
            json_t *ep;
            assert_int_equal(rt_env_run_episode(env, &pol, (uint64_t)k, "x", &ep), RT_OK);
            const char *err = json_string_value(json_object_get(json_object_get(ep, "meta"), "error"));
            if (!err || !strstr(err, cmds[i][1])) fail_msg("%s: error '%s'", cmds[i][0], err ? err : "(none)");
            json_decref(ep);
        }
        rt_env_close(env);
    }
    assert_no_children();
    assert_int_equal(open_fds(), fds);
    rt_env *env;
    assert_int_equal(rt_env_open("exec:", NULL, &env), RT_ERR_ARG);
}

static void test_random_policy_and_actions(void **state) {
    (void)state;
    rt_env *env = open_exec(TOY, 0);
    rt_env_start st;
    assert_int_equal(rt_env_reset(env, 14, &st), RT_OK);
    assert_string_equal(st.task, "press the button in room 3");
    const char *const *acts;
    assert_int_equal(rt_env_admissible(env, &acts), 3);
    rt_env_result r;
    /* Any text goes to the child as a JSON string, quotes and newlines included. */
    assert_int_equal(rt_env_step(env, "say \"hi\"\nplease", &r), RT_OK);
    assert_string_equal(r.observation, "Nothing happens.");
    assert_int_equal(rt_env_step(env, "press button", &r), RT_OK);
    assert_true(r.done && !r.success);
    rt_policy pol = {RT_POLICY_RANDOM, 0};
    json_t *ep;
    assert_int_equal(rt_env_run_episode(env, &pol, 3, "x", &ep), RT_OK);
    assert_true(json_array_size(json_object_get(ep, "steps")) >= 1);
    json_decref(ep);
    rt_env_close(env);
    assert_no_children();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expert_through_exec),         cmocka_unit_test(test_child_dies),
        cmocka_unit_test(test_child_hangs),                 cmocka_unit_test(test_child_writes_bad_json),
        cmocka_unit_test(test_child_writes_incomplete_reply), cmocka_unit_test(test_broken_commands),
        cmocka_unit_test(test_random_policy_and_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
