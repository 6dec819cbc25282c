/* embed.c: sentence-embedding throughput of retrace's BERT encoder against sentence-transformers
 * (bench/embed_peer.py, PyTorch on CPU) on the same model directory, texts, batch size and threads.
 *
 *   bench_embed MODEL_DIR [--threads N] [--n 300] [--batch 32] [--rounds 5] [--no-peer]
 *
 * The texts are agent states as the memory embeds them (rt_memory_state_text: a household task and
 * 0 to 6 of its last steps, observations listing up to 8 objects), from a dozen to about 250 tokens.
 * Both sides encode all texts in batches of `batch`; rounds alternate (peer, retrace, peer, ...) so
 * that both see the same load on a shared machine. Before timing, the two sides' vectors are compared
 * (minimum cosine). Prints sentences/s (median and best
 * round) of each and the ratios. Run from the repository root (the peer script is found there). */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "retrace.h"

#define MAX_STEPS 7
#define MAX_OBJECTS 8
#define LINE_BYTES 256

static const char *const OBJECTS[] = {"apple", "mug", "knife", "book", "towel", "egg", "lettuce", "pan", "vase", "key",
                                      "bread", "fork", "spoon", "potato", "tomato", "cup", "plate", "kettle"};
static const char *const PLACES[] = {"fridge", "microwave", "sinkbasin", "shelf", "drawer", "diningtable", "cabinet",
                                     "countertop", "garbagecan", "stoveburner", "sidetable", "desk"};
static const char *const TASKS[] = {"put a hot %s in the %s", "put a cool %s on the %s", "clean the %s and put it in the %s",
                                    "examine the %s under the desklamp near the %s", "put two %s in the %s",
                                    "find a %s and bring it to the %s"};
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

static char *pick_obs(rt_rng *r, char *buf, size_t n) {
    int k = 1 + (int)rt_rng_below(r, MAX_OBJECTS);
    int len = snprintf(buf, n, "On the %s %d, you see", PLACES[rt_rng_below(r, N_OF(PLACES))], 1 + (int)rt_rng_below(r, 4));
    for (int i = 0; i < k && (size_t)len < n; i++)
        len += snprintf(buf + len, n - (size_t)len, "%s a %s %d", i == 0 ? "" : i == k - 1 ? ", and" : ",",
                        OBJECTS[rt_rng_below(r, N_OF(OBJECTS))], 1 + (int)rt_rng_below(r, 3));
    if ((size_t)len < n) snprintf(buf + len, n - (size_t)len, ".");
    return buf;
}

static char **make_texts(int n) {
    rt_rng r;
    rt_rng_seed(&r, 42);
    char **texts = rt_malloc(sizeof(char *) * (size_t)n);
    char task[LINE_BYTES], act[MAX_STEPS][LINE_BYTES], obs[MAX_STEPS][4 * LINE_BYTES];
    for (int i = 0; i < n; i++) {
        snprintf(task, sizeof task, TASKS[rt_rng_below(&r, N_OF(TASKS))], OBJECTS[rt_rng_below(&r, N_OF(OBJECTS))],
                 PLACES[rt_rng_below(&r, N_OF(PLACES))]);
        int k = (int)rt_rng_below(&r, MAX_STEPS);
        rt_memory_step steps[MAX_STEPS];
        for (int s = 0; s < k; s++) {
            snprintf(act[s], sizeof act[s], "go to %s %d", PLACES[rt_rng_below(&r, N_OF(PLACES))], 1 + (int)rt_rng_below(&r, 4));
            steps[s] = (rt_memory_step){NULL, act[s], pick_obs(&r, obs[s], sizeof obs[s])};
        }
        texts[i] = rt_memory_state_text(task, steps, k, k);
    }
    return texts;
}

typedef struct {
    pid_t pid;
    FILE *to, *from;
} peer_proc;

static int peer_start(peer_proc *p, const char *model, const char *texts, const char *out, int threads, int batch) {
    char th[16], bs[16];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(bs, sizeof bs, "%d", batch);
    int in[2], res[2];
    if (pipe(in) != 0 || pipe(res) != 0) return 0;
    p->pid = fork();
    if (p->pid < 0) return 0;
    if (p->pid == 0) {
        dup2(in[0], 0), dup2(res[1], 1);
        close(in[0]), close(in[1]), close(res[0]), close(res[1]);
        execlp("python3", "python3", "bench/embed_peer.py", "--model", model, "--texts", texts, "--threads", th, "--batch", bs,
               "--out", out, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(res[1]);
    p->to = fdopen(in[1], "w");
    p->from = fdopen(res[0], "r");
    return 1;
}

static void peer_stop(peer_proc *p) {
    if (p->to) fclose(p->to);
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
}

/* Sends "run" and returns the seconds the peer reports, or -1. */
static double peer_round(peer_proc *p) {
    char line[LINE_BYTES];
    fprintf(p->to, "run\n");
    fflush(p->to);
    if (!fgets(line, sizeof line, p->from)) return -1;
    return atof(line);
}

static double retrace_round(rt_bert *m, char **texts, int n, int batch, float *out) {
    double t0 = rt_now();
    for (int lo = 0; lo < n; lo += batch) {
        int k = n - lo < batch ? n - lo : batch;
        if (rt_bert_embed(m, (const char *const *)texts + lo, k, out + (size_t)lo * rt_bert_dim(m)) != RT_OK) {
            fprintf(stderr, "bench_embed: %s\n", rt_errmsg());
            exit(1);
        }
    }
    return rt_now() - t0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double min_cosine(const float *a, const char *path, int n, int dim) {
    float *b = rt_malloc(sizeof(float) * (size_t)n * dim);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, sizeof(float), (size_t)n * dim, f) : 0;
    if (f) fclose(f);
    double worst = got == (size_t)n * dim ? 1.0 : -2.0;
    for (int i = 0; i < n && got == (size_t)n * dim; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int j = 0; j < dim; j++) {
            double x = a[(size_t)i * dim + j], y = b[(size_t)i * dim + j];
            ab += x * y, aa += x * x, bb += y * y;
        }
        double c = ab / sqrt(aa * bb);
        worst = c < worst ? c : worst;
    }
    free(b);
    return worst;
}

int main(int argc, char **argv) {
    int threads = rt_threads(), n = 300, batch = 32, rounds = 5, use_peer = 1;
    const char *model_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *target = !strcmp(a, "--threads") ? &threads : !strcmp(a, "--n") ? &n : !strcmp(a, "--batch") ? &batch
                      : !strcmp(a, "--rounds") ? &rounds : NULL;
        if (target && i + 1 < argc) *target = atoi(argv[++i]);
        else if (!strcmp(a, "--no-peer")) use_peer = 0;
        else if (a[0] != '-' && !model_dir) model_dir = a;
        else model_dir = NULL, i = argc;
    }
    if (!model_dir || n < 1 || batch < 1 || rounds < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_embed MODEL_DIR [--threads N] [--n 300] [--batch 32] [--rounds 5] [--no-peer]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rt_set_threads(threads);
    char **texts = make_texts(n);
    char texts_path[] = "/tmp/bench_embed_texts_XXXXXX", vecs_path[] = "/tmp/bench_embed_vecs_XXXXXX";
    int fd1 = mkstemp(texts_path), fd2 = mkstemp(vecs_path);
    FILE *tf = fdopen(fd1, "w");
    for (int i = 0; i < n; i++) { /* JSON lines: the state texts hold newlines */
        json_t *js = json_string(texts[i]);
        char *line = json_dumps(js, JSON_ENCODE_ANY);
        fprintf(tf, "%s\n", line);
        free(line);
        json_decref(js);
    }
    fclose(tf);
    close(fd2);

    peer_proc peer = {0};
    int have_peer = use_peer && peer_start(&peer, model_dir, texts_path, vecs_path, threads, batch);
    double t0 = rt_now();
    rt_bert *m;
    if (rt_bert_load(model_dir, &m) != RT_OK) {
        fprintf(stderr, "bench_embed: %s\n", rt_errmsg());
        return 1;
    }
    double load_s = rt_now() - t0;
    int dim = rt_bert_dim(m);
    long tokens = 0, longest = 0;
    for (int i = 0; i < n; i++) {
        rt_tok_ids ids = {0};
        rt_bert_tokenize(m, texts[i], &ids);
        tokens += (long)ids.n, longest = (long)ids.n > longest ? (long)ids.n : longest;
        rt_tok_ids_free(&ids);
    }
    float *out = rt_malloc(sizeof(float) * (size_t)n * dim);
    retrace_round(m, texts, n, batch, out); /* warm-up */
    printf("model %s: dim %d, %d layers, pooling %s, max %d tokens (loaded in %.2f s)\n", model_dir, dim,
           rt_bert_get_config(m)->n_layers, rt_bert_pooling_name(rt_bert_get_pooling(m)), rt_bert_max_tokens(m), load_s);
    printf("%d texts, %ld tokens (mean %.1f, longest %ld), batch %d, %d threads, %d rounds\n", n, tokens, (double)tokens / n,
           longest, batch, threads, rounds);

    char line[LINE_BYTES] = "";
    if (have_peer && (!fgets(line, sizeof line, peer.from) || strncmp(line, "ready", 5) != 0)) {
        printf("peer: %s", line[0] ? line : "no answer (python3 with torch and sentence-transformers needed)\n");
        have_peer = 0;
    }
    if (have_peer) printf("agreement: min cosine retrace vs sentence-transformers %.7f\n", min_cosine(out, vecs_path, n, dim));
    double *tr = rt_malloc(sizeof(double) * (size_t)rounds), *tp = rt_malloc(sizeof(double) * (size_t)rounds);
    for (int r = 0; r < rounds; r++) {
        tp[r] = have_peer ? peer_round(&peer) : -1;
        tr[r] = retrace_round(m, texts, n, batch, out);
        printf("round %d: retrace %.3f s", r + 1, tr[r]);
        if (have_peer) printf(", sentence-transformers %.3f s", tp[r]);
        printf("\n");
    }
    /* Each round's pair ran back to back, so its ratio is the least sensitive to load drifting
     * between rounds on a shared machine. */
    double *ratio = rt_malloc(sizeof(double) * (size_t)rounds);
    for (int r = 0; r < rounds; r++) ratio[r] = tp[r] / tr[r];
    double med_ratio = median(ratio, rounds);
    free(ratio);
    double best_r = tr[0], best_p = tp[0];
    for (int r = 1; r < rounds; r++) best_r = tr[r] < best_r ? tr[r] : best_r, best_p = tp[r] < best_p ? tp[r] : best_p;
    double med_r = median(tr, rounds), med_p = median(tp, rounds);
    printf("%-24s %14s %14s\n", "", "median sent/s", "best sent/s");
    printf("%-24s %14.1f %14.1f\n", "retrace", n / med_r, n / best_r);
    if (have_peer && med_p > 0) {
        printf("%-24s %14.1f %14.1f\n", "sentence-transformers", n / med_p, n / best_p);
        printf("ratio retrace/sentence-transformers: %.2fx (medians), %.2fx (bests), %.2fx (median of the rounds' ratios)\n",
               med_p / med_r, best_p / best_r, med_ratio);
    }
    peer_stop(&peer);
    unlink(texts_path), unlink(vecs_path);
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts), free(out), free(tr), free(tp);
    rt_bert_free(m);
    return 0;
}
