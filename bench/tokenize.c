/* bench/tokenize.c: encoding speed of retrace against the `tokenizers` library on the same text.
 *
 *   bench_tokenize --tokenizer DIR --text FILE [--threads N] [--peer bench/tokenize_peer.py]
 *
 * Encodes every line of FILE (10+ MB of mixed text: tools/tok_bench_text.py writes one) single-threaded
 * and then split over N OpenMP threads, runs the Python peer on the same file, and prints MB/s of
 * input text for both, their ratio, and whether the ids agree (count and FNV-1a checksum). Loading
 * is not timed. Not a test: numbers go to docs/BENCHMARKS.md. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

typedef struct {
    const char **line;
    size_t *len;
    size_t n;
} lines;

static lines split_lines(char *text, size_t n) {
    lines l = {0};
    size_t cap = 1024;
    l.line = malloc(cap * sizeof *l.line);
    l.len = malloc(cap * sizeof *l.len);
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && text[i] != '\n') continue;
        if (i == n && start == n) break;
        if (l.n == cap) {
            cap *= 2;
            l.line = realloc(l.line, cap * sizeof *l.line);
            l.len = realloc(l.len, cap * sizeof *l.len);
        }
        l.line[l.n] = text + start;
        l.len[l.n] = i - start;
        l.n++;
        start = i + 1;
    }
    return l;
}

/* Encodes lines [a, b) one by one; returns the token count and folds the ids into *hash (FNV-1a over
 * the ids' little-endian bytes, in order). */
static size_t encode_range(const rt_tokenizer *t, const lines *l, size_t a, size_t b, uint64_t *hash) {
    rt_tok_ids ids = {0};
    size_t total = 0;
    for (size_t i = a; i < b; i++) {
        ids.n = 0;
        rt_tokenizer_encode(t, l->line[i], l->len[i], 0, &ids);
        total += ids.n;
        if (hash)
            for (size_t k = 0; k < ids.n; k++)
                for (int byte = 0; byte < 4; byte++)
                    *hash = (*hash ^ (((uint32_t)ids.ids[k] >> (8 * byte)) & 0xFF)) * 0x100000001b3ull;
    }
    rt_tok_ids_free(&ids);
    return total;
}

int main(int argc, char **argv) {
    const char *tok_path = NULL, *text_path = NULL, *peer = "bench/tokenize_peer.py";
    int threads = omp_get_num_procs();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tokenizer") == 0) tok_path = argv[i + 1];
        else if (strcmp(argv[i], "--text") == 0) text_path = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--peer") == 0) peer = argv[i + 1];
    }
    if (!tok_path || !text_path || threads < 1) {
        fprintf(stderr, "usage: bench_tokenize --tokenizer DIR --text FILE [--threads N] [--peer SCRIPT]\n");
        return 2;
    }
    rt_tokenizer *t;
    char *text;
    size_t n;
    if (rt_tokenizer_load(tok_path, &t) != RT_OK || rt_file_read(text_path, &text, &n) != RT_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", rt_errmsg());
        return 1;
    }
    lines l = split_lines(text, n);
    double mb = (double)n / 1e6;
    printf("tokenizer %s\ntext %s: %.1f MB, %zu lines\n", tok_path, text_path, mb, l.n);

    uint64_t hash = 0xcbf29ce484222325ull;
    double t0 = rt_now();
    size_t n_tokens = encode_range(t, &l, 0, l.n, &hash);
    double single = rt_now() - t0;

    /* Batch: rt_tokenizer_encode_batch, each thread with its own word cache. */
    rt_tok_ids *out = calloc(l.n, sizeof *out);
    t0 = rt_now();
    if (rt_tokenizer_encode_batch(t, l.line, l.len, l.n, 0, threads, out) != RT_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", rt_errmsg());
        return 1;
    }
    double batch = rt_now() - t0;
    size_t batch_tokens = 0;
    for (size_t i = 0; i < l.n; i++) {
        batch_tokens += out[i].n;
        rt_tok_ids_free(&out[i]);
    }
    free(out);
    printf("retrace   single: %7.2f MB/s   batch (%d threads): %7.2f MB/s   %zu tokens, checksum %016llx\n",
           mb / single, threads, mb / batch, n_tokens, (unsigned long long)hash);
    if (batch_tokens != n_tokens) printf("WARNING: batch gave %zu tokens, single %zu\n", batch_tokens, n_tokens);

    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", peer, tok_path, text_path);
    FILE *p = popen(cmd, "r");
    char buf[1024] = "";
    double ps = 0, pb = 0;
    int pthreads = 0;
    unsigned long long ptokens = 0;
    char psum[32] = "";
    if (p) {
        while (fgets(buf, sizeof buf, p))
            if (buf[0] == '{') {
                const char *s = strstr(buf, "\"single_mbps\": "), *b = strstr(buf, "\"batch_mbps\": ");
                const char *th = strstr(buf, "\"threads\": "), *nt = strstr(buf, "\"n_tokens\": "),
                           *cs = strstr(buf, "\"checksum\": \"");
                if (s && b && th && nt && cs) {
                    ps = atof(s + 15);
                    pb = atof(b + 14);
                    pthreads = atoi(th + 11);
                    ptokens = strtoull(nt + 12, NULL, 10);
                    snprintf(psum, sizeof psum, "%.16s", cs + 13);
                }
            }
        pclose(p);
    }
    if (ps > 0) {
        printf("tokenizers single: %7.2f MB/s   batch (%d threads): %7.2f MB/s   %llu tokens, checksum %s\n", ps,
               pthreads, pb, ptokens, psum);
        char mine[32];
        snprintf(mine, sizeof mine, "%016llx", (unsigned long long)hash);
        printf("ratio retrace/tokenizers: single %.2fx, batch %.2fx; ids %s\n", (mb / single) / ps, (mb / batch) / pb,
               ptokens == n_tokens && strcmp(psum, mine) == 0 ? "identical" : "DIFFER");
    } else {
        printf("peer %s did not run (needs python3 with the tokenizers package)\n", peer);
    }
    free(l.line);
    free(l.len);
    free(text);
    rt_tokenizer_free(t);
    return 0;
}
