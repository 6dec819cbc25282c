/* add_files.c: adding JSON-lines files ("-" for stdin) in one batch, with a progress line. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

/* Lines (episodes and docs) in the files, for the progress total; stdin is not counted (unknown). */
static int64_t total_lines(const char *const *paths, int n) {
    int64_t total = 0;
    char buf[1 << 16];
    for (int i = 0; i < n; i++) {
        FILE *f = strcmp(paths[i], "-") != 0 ? fopen(paths[i], "rb") : NULL;
        if (!f) continue;
        size_t got;
        char last = '\n';
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
            for (size_t k = 0; k < got; k++) total += buf[k] == '\n';
            last = buf[got - 1];
        }
        total += last != '\n'; /* a last line without its newline */
        fclose(f);
    }
    return total;
}

static rt_status add_stream(rt_memory_batch *b, FILE *f, const char *name, rt_progress *p, int64_t *done) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    rt_status s = RT_OK;
    char where[512];
    while (s == RT_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        ++*done;
        if ((size_t)len != strlen(line)) {
            snprintf(where, sizeof where, "%s:%lld", name, (long long)lineno);
            s = rt_fail(RT_ERR_FORMAT, "%s: line contains a NUL byte", where);
            break;
        }
        snprintf(where, sizeof where, "%s:%lld", name, (long long)lineno);
        s = rt_memory_batch_add(b, line, where);
        rt_progress_update(p, *done, NULL); /* draws only when due */
    }
    if (s == RT_OK && ferror(f)) s = rt_fail(RT_ERR_IO, "%s: read error", name);
    free(line);
    return s;
}

rt_status rt_memory_add_files(rt_memory *m, const char *const *paths, int n_paths, const rt_memory_add_opts *opts,
                              rt_memory_add_stats *stats) {
    memset(stats, 0, sizeof *stats);
    /* Every file is checked for readability before the transaction starts. */
    for (int i = 0; i < n_paths; i++)
        if (strcmp(paths[i], "-") != 0 && !rt_path_exists(paths[i])) return rt_fail(RT_ERR_IO, "%s: no such file", paths[i]);
    rt_memory_batch *b;
    RT_TRY(rt_memory_batch_begin(m, opts, &b));
    rt_progress p;
    rt_progress_begin(&p, "adding", total_lines(paths, n_paths));
    int64_t done = 0;
    rt_status s = RT_OK;
    for (int i = 0; s == RT_OK && i < n_paths; i++) {
        int is_stdin = strcmp(paths[i], "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(paths[i], "rb");
        if (!f) {
            s = rt_fail(RT_ERR_IO, "%s: cannot open", paths[i]);
            break;
        }
        s = add_stream(b, f, is_stdin ? "stdin" : paths[i], &p, &done);
        if (!is_stdin) fclose(f);
    }
    if (s == RT_OK && done != p.total) { /* stdin: the total is known at its end */
        p.total = done;
        rt_progress_update(&p, done, NULL);
    }
    rt_progress_end(&p);
    if (s != RT_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rt_errmsg());
        rt_memory_batch_abort(b);
        return rt_fail(s, "%s (nothing was added)", msg);
    }
    return rt_memory_batch_commit(b, stats);
}
