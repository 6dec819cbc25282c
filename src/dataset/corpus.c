/* corpus.c: pretraining data: episodes rendered as the agent's prompts show them, one token stream, and
 * random windows of it that start where an episode starts. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/dataset.h"

/* 1 for a line to leave out of the corpus: blank, or a doc (docs are retrieved, not rendered). */
static int skip_line(const char *line) {
    if (strspn(line, " \t\r\n") == strlen(line)) return 1;
    json_t *o = json_loads(line, 0, NULL);
    int doc = rt_line_kind_of(o) == RT_LINE_DOC;
    json_decref(o);
    return doc;
}

/* Appends one rendered episode to the growing text and its start to the offsets. */
static void append(char **buf, size_t *used, size_t *bufcap, size_t **off, size_t *n_off, size_t *off_cap, const char *r) {
    size_t n = strlen(r);
    if (*n_off == *off_cap) *off = rt_realloc(*off, (*off_cap = *off_cap ? 2 * *off_cap : 1024) * sizeof **off);
    (*off)[(*n_off)++] = *used;
    if (*used + n + 2 > *bufcap) *buf = rt_realloc(*buf, *bufcap = 2 * (*used + n + 2));
    memcpy(*buf + *used, r, n);
    *used += n;
    (*buf)[(*used)++] = '\n';
    (*buf)[*used] = '\0';
}

rt_status rt_corpus_render_episodes(const char *path, char **text, size_t *len, size_t **offsets, size_t *n_eps) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_fail(RT_ERR_IO, "%s: cannot open", path);
    char *line = NULL, *buf = NULL;
    size_t cap = 0, used = 0, lineno = 0, bufcap = 0, n_off = 0, off_cap = 0;
    size_t *off = NULL;
    rt_status s = RT_OK;
    while (s == RT_OK && getline(&line, &cap, fp) >= 0) {
        lineno++;
        if (skip_line(line)) continue;
        char *r;
        if ((s = rt_episode_render(line, &r)) != RT_OK) {
            rt_fail_context(s, "%s:%zu", path, lineno);
            break;
        }
        append(&buf, &used, &bufcap, &off, &n_off, &off_cap, r);
        free(r);
    }
    free(line);
    fclose(fp);
    if (s == RT_OK && used == 0) s = rt_fail(RT_ERR_FORMAT, "%s: no episodes", path);
    if (s != RT_OK) {
        free(buf), free(off);
        return s;
    }
    *text = buf, *len = used, *offsets = off, *n_eps = n_off;
    return RT_OK;
}

rt_status rt_windows_init(rt_windows *w, const rt_tokenizer *tok, const char *text, size_t len, const size_t *offsets,
                          size_t n_eps, int seq) {
    memset(w, 0, sizeof *w);
    if (!offsets) return rt_tokenizer_encode(tok, text, len, 0, &w->stream);
    w->n_episodes = n_eps;
    w->starts = rt_malloc((n_eps ? n_eps : 1) * sizeof *w->starts);
    for (size_t i = 0; i < n_eps; i++) {
        size_t end = i + 1 < n_eps ? offsets[i + 1] : len;
        w->starts[i] = w->stream.n;
        RT_TRY(rt_tokenizer_encode(tok, text + offsets[i], end - offsets[i], 0, &w->stream));
    }
    while (w->n_starts < n_eps && w->starts[w->n_starts] + (size_t)seq < w->stream.n) w->n_starts++;
    return RT_OK;
}

void rt_windows_free(rt_windows *w) {
    rt_tok_ids_free(&w->stream);
    free(w->starts);
    memset(w, 0, sizeof *w);
}

/* For episodes each window starts where an episode starts: a window that began mid-episode would train
 * the late steps without the task line that says what they are for (most household episodes are longer
 * than 512 tokens), teaching the model to act without looking at its goal, and the agent's prompts always
 * start with the task. A window runs on into the next episode. */
rt_status rt_windows_next(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                          int *T_used) {
    (void)index;
    const rt_windows *w = ctx;
    const int32_t *tokens = w->stream.ids;
    *T_used = T;
    for (int b = 0; b < B; b++) {
        size_t start = w->starts ? w->starts[rt_rng_below(rng, w->n_starts)] : (size_t)rt_rng_below(rng, w->stream.n - (size_t)T);
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = tokens[start + t];
            targets[b * T + t] = tokens[start + t + 1];
        }
    }
    return RT_OK;
}
