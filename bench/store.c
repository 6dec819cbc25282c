/* bench/store.c: the experience store at scale: episodes added per second (`memory add` path: parse,
 * embed with the hash embedder, insert, commit, index) and search latency p50/p99 (embed the key,
 * graph search, re-rank, fetch rows), plain, with negatives, and with a selective filter.
 * Usage: bench_store [--sizes 10000,100000] [--queries 1000] [--keep DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

static const char *const OBJECTS[] = {"apple", "mug", "knife", "book", "towel", "egg", "lettuce", "pan", "vase", "key",
                                      "plate", "spoon", "laptop", "pillow", "cd", "watch", "candle", "soap", "bowl", "pen"};
static const char *const PLACES[] = {"fridge", "microwave", "sink", "shelf", "drawer", "table", "cabinet", "garbage can",
                                     "sofa", "bed", "desk", "safe", "countertop", "stove", "toilet", "bathtub"};
static const char *const VERBS[] = {"put a hot", "put a cold", "put a clean", "examine the", "put two", "find a", "slice the", "move the"};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void episode(char *buf, size_t n, int64_t i, rt_rng *r) {
    const char *o = OBJECTS[rt_rng_below(r, N_OF(OBJECTS))], *p = PLACES[rt_rng_below(r, N_OF(PLACES))];
    const char *v = VERBS[rt_rng_below(r, N_OF(VERBS))];
    int ok = rt_rng_below(r, 3) != 0;
    snprintf(buf, n,
             "{\"id\":\"b%lld\",\"env\":\"%s\",\"task\":\"%s %s in the %s %d\",\"task_type\":\"%s\",\"api_versions\":{\"%s\":%d},"
             "\"steps\":[{\"action\":\"go to %s %d\",\"observation\":\"You see a %s %d.\"},{\"action\":\"take %s %d\","
             "\"observation\":\"You pick up the %s.\"},{\"action\":\"put %s in %s\",\"observation\":\"%s\"}],"
             "\"outcome\":\"%s\",\"reward\":%.2f}",
             (long long)i, rt_rng_below(r, 4) ? "household" : "toolapi", v, o, p, (int)rt_rng_below(r, 9) + 1, v, p,
             (int)rt_rng_below(r, 3) + 1, p, (int)rt_rng_below(r, 5) + 1, o, (int)rt_rng_below(r, 5) + 1, o,
             (int)rt_rng_below(r, 3) + 1, o, o, p, ok ? "Done." : "Nothing happens.", ok ? "success" : "failure",
             ok ? 0.5 + 0.5 * rt_rng_double(r) : 0.0);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(rt_memory *m, const char *label, rt_memory_query q, int nq, rt_rng *r) {
    double *t = malloc(sizeof(double) * (size_t)nq);
    for (int i = 0; i < nq; i++) {
        char key[256];
        snprintf(key, sizeof key, "task: %s %s in the %s", VERBS[rt_rng_below(r, N_OF(VERBS))], OBJECTS[rt_rng_below(r, N_OF(OBJECTS))],
                 PLACES[rt_rng_below(r, N_OF(PLACES))]);
        rt_memory_results res;
        double t0 = rt_now();
        if (rt_memory_search(m, key, &q, &res) != RT_OK) {
            fprintf(stderr, "bench_store: %s\n", rt_errmsg());
            exit(1);
        }
        t[i] = rt_now() - t0;
        rt_memory_results_free(&res);
    }
    qsort(t, (size_t)nq, sizeof *t, cmp_d);
    printf("  %-34s p50 %7.3f ms   p99 %7.3f ms\n", label, 1e3 * t[nq / 2], 1e3 * t[nq * 99 / 100]);
    free(t);
}

static void run(int64_t n, int nq, const char *keep) {
    char tmpl[] = "/tmp/rt_bench_store_XXXXXX";
    const char *dir = keep ? keep : mkdtemp(tmpl);
    char *mem = rt_path_join(dir, "mem"), *file = rt_path_join(dir, "episodes.jsonl");
    rt_rng r;
    rt_rng_seed(&r, 7);
    FILE *f = fopen(file, "w");
    char line[2048];
    for (int64_t i = 0; i < n; i++) {
        episode(line, sizeof line, i, &r);
        fprintf(f, "%s\n", line);
    }
    fclose(f);
    if (rt_memory_init(mem, NULL) != RT_OK) {
        fprintf(stderr, "bench_store: %s\n", rt_errmsg());
        exit(1);
    }
    rt_memory *m;
    rt_memory_open(mem, RT_MEMORY_WRITE, &m);
    rt_memory_add_stats st;
    const char *files[1] = {file};
    double t0 = rt_now();
    if (rt_memory_add_files(m, files, 1, NULL, &st) != RT_OK) {
        fprintf(stderr, "bench_store: %s\n", rt_errmsg());
        exit(1);
    }
    double add_s = rt_now() - t0;
    rt_memory_close(m);
    t0 = rt_now();
    rt_memory_open(mem, RT_MEMORY_READ, &m);
    double open_s = rt_now() - t0;
    rt_memory_stats ms;
    rt_memory_get_stats(m, &ms);
    printf("%lld episodes: add %.1f s (%.0f episodes/s, one transaction, index included); open %.2f s; "
           "store %.0f MB, index %.0f MB\n",
           (long long)n, add_s, (double)n / add_s, open_s, ms.db_bytes / 1048576.0, ms.index_bytes / 1048576.0);
    rt_memory_query q = rt_memory_query_default();
    q.k = 5;
    latency(m, "search k=5", q, nq, &r);
    q.negatives = 2;
    q.weight = 0.3;
    latency(m, "search k=5, 2 negatives, weight 0.3", q, nq, &r);
    q.negatives = 0;
    q.env = "toolapi";
    q.outcome = "failure";
    latency(m, "search k=5, env+outcome filter (~8%)", q, nq, &r);
    rt_memory_close(m);
    if (!keep) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_store: could not remove %s\n", dir);
    }
    free(mem);
    free(file);
}

int main(int argc, char **argv) {
    const char *sizes = "10000,100000", *keep = NULL;
    int nq = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sizes") == 0) sizes = argv[i + 1];
        else if (strcmp(argv[i], "--queries") == 0) nq = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--keep") == 0) keep = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_store [--sizes 10000,100000] [--queries N] [--keep DIR]\n");
            return 2;
        }
    }
    if (nq < 100) nq = 100;
    rt_log_set_level(RT_LOG_WARN);
    printf("bench_store: hash-ngram-v1:384 embedder, M=16, ef_construction=200, ef=64, one thread\n");
    for (const char *p = sizes; *p;) {
        run(strtoll(p, NULL, 10), nq, keep);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    return 0;
}
