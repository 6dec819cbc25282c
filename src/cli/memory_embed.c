/* memory_embed.c: `retrace memory embed EMBEDDER [TEXT...]`: the vectors an embedder gives, without a
 * memory: for checking a model directory against another implementation and for timing it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CMD "memory"
#define LINE_MAX_BYTES (1 << 20)

int rt_cli_memory_embed(int argc, char **argv);
int rt_cli_memory_args(const rt_arg *args, int min_pos, int max_pos, int argc, char **argv, const char **pos, int *n_pos);

static void push_text(char ***texts, int *n, int *cap, const char *t) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *texts = rt_realloc(*texts, (size_t)*cap * sizeof **texts);
    }
    (*texts)[(*n)++] = rt_strdup(t);
}

/* One text per line of stdin (the newline removed). */
static void read_stdin(char ***texts, int *n, int *cap) {
    char *line = rt_malloc(LINE_MAX_BYTES);
    while (fgets(line, LINE_MAX_BYTES, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        push_text(texts, n, cap, line);
    }
    free(line);
}

static void print_vector(const char *text, const float *v, int dim) {
    json_t *js = json_string(text); /* NULL for invalid UTF-8: printed as null */
    char *quoted = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    printf("{\"text\": %s, \"vector\": [", quoted ? quoted : "null");
    free(quoted);
    for (int i = 0; i < dim; i++) printf(i ? ", %.9g" : "%.9g", (double)v[i]);
    printf("]}\n");
}

int rt_cli_memory_embed(int argc, char **argv) {
    int from_stdin = 0, quiet = 0, n = 0, cap = argc;
    /* --quiet here keeps the timing line and drops the vectors (for timing an embedder). */
    const rt_arg args[] = {RT_ARG_B("--stdin", &from_stdin, 1), RT_ARG_B("-q|--quiet", &quiet, 1), RT_ARG_TABLE_END};
    const char **pos = rt_malloc((size_t)argc * sizeof *pos);
    int n_pos = 0, rc = rt_cli_memory_args(args, 1, argc, argc, argv, pos, &n_pos);
    if (rc) {
        free(pos);
        return RT_ARGS_EXIT(rc);
    }
    const char *spec = pos[0];
    char **texts = rt_malloc((size_t)cap * sizeof *texts);
    for (int k = 1; k < n_pos; k++) push_text(&texts, &n, &cap, pos[k]);
    free(pos);
    if (from_stdin) read_stdin(&texts, &n, &cap);
    rt_embedder *e;
    if (rt_embedder_open(spec, &e) != RT_OK) {
        for (int k = 0; k < n; k++) free(texts[k]);
        free(texts);
        return rt_cli_fail(CMD);
    }
    int dim = rt_embedder_dim(e);
    float *vecs = rt_malloc(sizeof(float) * (size_t)dim * (size_t)(n > 0 ? n : 1));
    double t0 = rt_now();
    rt_status s = rt_embedder_embed(e, (const char *const *)texts, n, vecs);
    double dt = rt_now() - t0;
    if (s == RT_OK && !quiet)
        for (int k = 0; k < n; k++) print_vector(texts[k], vecs + (size_t)k * dim, dim);
    if (s == RT_OK)
        fprintf(stderr, "embedder %s (dim %d): %d texts in %.3f s (%.1f texts/s)\n", rt_embedder_spec(e), dim, n, dt,
                dt > 0 ? n / dt : 0.0);
    for (int k = 0; k < n; k++) free(texts[k]);
    free(texts), free(vecs);
    rt_embedder_free(e);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail(CMD);
}
