/* bench/load_gguf.c: time to load a model from a GGUF file, retrace against llama.cpp.
 *
 *   bench_load_gguf --model FILE.gguf [--runs N] [--threads N] [--dtype f32|bf16] [--peer bench/load_gguf_peer.py]
 *
 * retrace: rt_model_load (map, check, dequantize every tensor to float32, undo the Q/K permutation)
 * and rt_tokenizer_load (the vocabulary from the metadata), and with --dtype bf16 the rounding to the
 * bf16 base LoRA trains on; llama.cpp (llama-cpp-python, the peer script): the Llama(...) constructor,
 * which loads the vocabulary and maps the weights as stored (a Q4_1 file stays Q4_1), with mmap on as
 * users run it and off. One untimed load first on both sides, so the file is in the page cache;
 * minimum and median of N runs; ratios printed. Not a test: numbers go to docs/BENCHMARKS.md. */
#include <jansson.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

typedef struct {
    double model, tok, total;
} load_time;

/* Keeps v[0..n] sorted as times arrive, so the minimum is v[0] and the median v[n/2]. */
static void insert_sorted(double *v, int n, double x) {
    int i = n;
    for (; i > 0 && v[i - 1] > x; i--) v[i] = v[i - 1];
    v[i] = x;
}

static double mid(const double *v, int n) { return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

static int load_once(const char *path, int bf16, load_time *t) {
    rt_model *m;
    rt_tokenizer *tok;
    double t0 = rt_now();
    if (rt_model_load(path, &m) != RT_OK) return 1;
    if (bf16 && rt_model_set_base_dtype(m, RT_BASE_BF16) != RT_OK) return 1;
    double t1 = rt_now();
    if (rt_tokenizer_load(path, &tok) != RT_OK) return 1;
    double t2 = rt_now();
    *t = (load_time){t1 - t0, t2 - t1, t2 - t0};
    rt_tokenizer_free(tok);
    rt_model_free(m);
    return 0;
}

/* Runs the peer and reads its JSON line; NULL (and a message) when it gives none. */
static json_t *run_peer(const char *peer, const char *path, int runs, int threads) {
    char cmd[4096], buf[4096] = "";
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' %d %d", peer, path, runs, threads);
    FILE *p = popen(cmd, "r");
    json_t *j = NULL;
    if (p) {
        while (!j && fgets(buf, sizeof buf, p))
            if (buf[0] == '{') j = json_loads(buf, 0, NULL);
        pclose(p);
    }
    if (!j) printf("llama.cpp: the peer (%s) gave no result\n", cmd);
    else if (json_object_get(j, "error")) printf("llama.cpp: skipped: %s\n", json_string_value(json_object_get(j, "error")));
    if (j && json_object_get(j, "error")) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int main(int argc, char **argv) {
    const char *path = NULL, *peer = "bench/load_gguf_peer.py", *dtype = "f32";
    int runs = 5, threads = omp_get_max_threads();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0) path = argv[i + 1];
        else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dtype") == 0) dtype = argv[i + 1];
        else if (strcmp(argv[i], "--peer") == 0) peer = argv[i + 1];
    }
    int bf16 = strcmp(dtype, "bf16") == 0;
    if (!path || runs < 1 || threads < 1 || (!bf16 && strcmp(dtype, "f32") != 0)) {
        fprintf(stderr, "usage: bench_load_gguf --model FILE.gguf [--runs N] [--threads N] [--dtype f32|bf16] [--peer SCRIPT]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    load_time t;
    double *tot = calloc((size_t)runs, sizeof *tot), *mod = calloc((size_t)runs, sizeof *mod), *tk = calloc((size_t)runs, sizeof *tk);
    for (int r = -1; r < runs; r++) {
        if (load_once(path, bf16, &t)) {
            fprintf(stderr, "bench_load_gguf: %s\n", rt_errmsg());
            return 1;
        }
        if (r < 0) continue;
        insert_sorted(tot, r, t.total);
        insert_sorted(mod, r, t.model);
        insert_sorted(tk, r, t.tok);
    }
    printf("model %s, %d runs, %d threads\n", path, runs, threads);
    double best = mid(tot, runs), lo = tot[0];
    printf("retrace (weights to %s):  min %.3f s  median %.3f s  (model %.3f s, tokenizer %.3f s, medians)\n", dtype, lo, best,
           mid(mod, runs), mid(tk, runs));
    json_t *j = run_peer(peer, path, runs, threads);
    if (j) {
        for (int k = 0; k < 2; k++) {
            const char *mode = k ? "read" : "mmap";
            json_t *o = json_object_get(j, mode);
            double pmin = json_real_value(json_object_get(o, "min")), pmed = json_real_value(json_object_get(o, "median"));
            printf("llama.cpp %s (%s, weights as stored):  min %.3f s  median %.3f s   retrace/llama.cpp median %.2fx\n",
                   json_string_value(json_object_get(j, "llama_cpp")), k ? "mmap off" : "mmap on", pmin, pmed, best / pmed);
        }
        json_decref(j);
    }
    free(tot);
    free(mod);
    free(tk);
    return 0;
}
