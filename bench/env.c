/* bench/env.c: steps per second of each environment: household and toolapi driven by their expert
 * (expert decision + step) and by random admissible actions, and exec: round trips to a child process
 * (a `sed -u` child that answers every line at once, which measures the protocol itself, and the
 * Python test environment).
 *
 * usage: bench_env [PACKS_DIR] [TOY_ENV_PY]   (defaults: packs, tests/envs/toy_env.py; run from the
 * repository root). Results are recorded in docs/BENCHMARKS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

#define SECONDS_PER_RUN 1.5

typedef enum { DRIVE_EXPERT, DRIVE_RANDOM } drive;

/* Steps the environment for about SECONDS_PER_RUN; returns steps per second. */
static double run(rt_env *env, drive how, long long *episodes_out) {
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    long long steps = 0, episodes = 0;
    double t0 = rt_now(), t = t0;
    uint64_t seed = 0;
    while (t - t0 < SECONDS_PER_RUN) {
        rt_env_start st;
        if (rt_env_reset(env, rt_env_episode_seed(7, seed++), &st) != RT_OK) {
            fprintf(stderr, "reset: %s\n", rt_errmsg());
            exit(1);
        }
        episodes++;
        for (;;) {
            rt_env_advice adv;
            const char *action;
            if (how == DRIVE_EXPERT) {
                if (rt_env_expert(env, &adv) != 1) break;
                action = adv.action;
            } else {
                const char *const *acts;
                size_t n = rt_env_admissible(env, &acts);
                if (n == 0) break;
                action = acts[rt_rng_below(&rng, n)];
            }
            rt_env_result r;
            if (rt_env_step(env, action, &r) != RT_OK) {
                fprintf(stderr, "step: %s\n", rt_errmsg());
                exit(1);
            }
            steps++;
            if (r.done) break;
        }
        t = rt_now();
    }
    if (episodes_out) *episodes_out = episodes;
    return (double)steps / (t - t0);
}

static void bench(const char *label, const char *spec, const rt_env_config *cfg, drive how) {
    rt_env *env;
    if (rt_env_open(spec, cfg, &env) != RT_OK) {
        printf("%-34s skipped: %s\n", label, rt_errmsg());
        return;
    }
    long long eps;
    double sps = run(env, how, &eps);
    printf("%-34s %12.0f steps/s  (%lld episodes)\n", label, sps, eps);
    rt_env_close(env);
}

int main(int argc, char **argv) {
    const char *packs = argc > 1 ? argv[1] : "packs";
    const char *toy = argc > 2 ? argv[2] : "tests/envs/toy_env.py";
    rt_env_config cfg = rt_env_config_default();
    bench("household, expert", "household", &cfg, DRIVE_EXPERT);
    bench("household, random admissible", "household", &cfg, DRIVE_RANDOM);
    cfg.packs_dir = packs;
    bench("toolapi (all packs, v1), expert", "toolapi", &cfg, DRIVE_EXPERT);
    cfg.split = "unseen_api";
    bench("toolapi (all packs, v2), expert", "toolapi", &cfg, DRIVE_EXPERT);
    bench("toolapi (all packs, v2), random", "toolapi", &cfg, DRIVE_RANDOM);
    cfg = rt_env_config_default();
    bench("exec: round trip, sed child",
          "exec:sed -u 's/.*/{\"task\":\"t\",\"observation\":\"o\",\"reward\":0,\"done\":false,"
          "\"success\":false,\"admissible\":[\"a\"]}/'",
          &cfg, DRIVE_RANDOM);
    char spec[1024];
    snprintf(spec, sizeof spec, "exec:python3 %s", toy);
    bench("exec: Python toy env, expert", spec, &cfg, DRIVE_EXPERT);
    return 0;
}
