/* test_memory_crash.c: crash safety. `retrace memory add` of thousands of episodes is SIGKILLed at
 * random points (before, during and after its commit, during the index save); after each kill the
 * memory must pass SQLite's integrity_check, hold either all of that add or none of it (no partial
 * episode: every episode has all its steps), and, once reopened (which repairs the index), have an
 * index that agrees with the store vector for vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "memory_test_util.h"

#define EPISODES_PER_ADD 2000
#define ROUNDS 4

static pid_t spawn_add(const char *mem, const char *file) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(RT_BINARY, "retrace", "memory", "add", mem, file, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static double run_to_end(const char *mem, const char *file) {
    double t0 = rt_now();
    pid_t pid = spawn_add(mem, file);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return rt_now() - t0;
}

static void counts(const char *mem, int64_t *episodes, int64_t *steps) {
    rt_memory *m;
    assert_int_equal(rt_memory_open(mem, RT_MEMORY_WRITE, &m), RT_OK);
    /* integrity_check, index agreement (after the repair open just did), saved file current. */
    if (rt_memory_check(m) != RT_OK) fail_msg("check after kill: %s", rt_errmsg());
    rt_memory_stats st;
    assert_int_equal(rt_memory_get_stats(m, &st), RT_OK);
    assert_int_equal(st.index_vectors, st.episodes);
    *episodes = st.episodes;
    *steps = st.steps;
    rt_memory_close(m);
}

static void test_kill_during_add(void **state) {
    (void)state;
    char *dir = t_tempdir();
    char *mem = rt_path_join(dir, "mem");
    assert_int_equal(rt_memory_init(mem, NULL), RT_OK);
    char file[600];
    /* A full run first, to know the span to kill within. */
    snprintf(file, sizeof file, "%s/warm.jsonl", dir);
    t_write_episodes(file, 0, EPISODES_PER_ADD, "warm_");
    double full = run_to_end(mem, file);
    int64_t expect = EPISODES_PER_ADD, e, s;
    counts(mem, &e, &s);
    assert_int_equal(e, expect);
    rt_rng r;
    /* A new seed each run explores new kill points; it is printed so a failure can be replayed. */
    uint64_t seed = getenv("RT_CRASH_SEED") ? strtoull(getenv("RT_CRASH_SEED"), NULL, 10) : (uint64_t)time(NULL);
    print_message("kill-point seed %llu (set RT_CRASH_SEED to replay)\n", (unsigned long long)seed);
    rt_rng_seed(&r, seed);
    rt_log_set_level(RT_LOG_ERROR);
    int complete = 0, none = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "r%d_", round);
        snprintf(file, sizeof file, "%s/round%d.jsonl", dir, round);
        t_write_episodes(file, 0, EPISODES_PER_ADD, prefix);
        /* Kill points spread over 0..110% of a full run, so some land after the commit. */
        double at = full * 1.1 * rt_rng_double(&r);
        pid_t pid = spawn_add(mem, file);
        struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        counts(mem, &e, &s);
        /* All or nothing, and every episode whole (3 steps each). */
        if (e == expect + EPISODES_PER_ADD) expect = e, complete++;
        else none++;
        assert_int_equal(e, expect);
        assert_int_equal(s, 3 * e);
        print_message("round %d: killed at %.3f s of %.3f: %lld episodes\n", round, at, full, (long long)e);
    }
    print_message("%d adds were killed before their commit, %d after\n", none, complete);
    rt_log_set_level(RT_LOG_INFO);
    t_rmrf(dir);
    free(dir);
    free(mem);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill_during_add)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
