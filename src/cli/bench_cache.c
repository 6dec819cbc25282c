/* bench_cache.c: resumable stages for `retrace bench`. A stage's key hashes what it is computed from
 * (bench.h); its stamp holds the key of the last finished run, so a killed bench continues where it
 * stopped and a stage or cell whose inputs did not change is never computed again. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/bench.h"
#include "memory/hash.h"

#include "git_describe.h" /* RT_GIT_DESCRIBE, written at build time (cmake/git_describe.cmake) */

extern char **environ;

const char *bench_commit(void) { return RT_GIT_DESCRIBE; }

const char *bench_build_id(void) { return RT_VERSION_STRING " (" RT_GIT_DESCRIBE ")"; }

void bench_cache_init(bench_cache *c, const char *dir) { *c = (bench_cache){.dir = dir, .keys = json_object()}; }

void bench_cache_free(bench_cache *c) { json_decref(c->keys); }

void bench_register(bench_cache *c, const char *path, uint64_t key) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, key);
    json_object_set_new(c->keys, path, json_string(hex));
}

static uint64_t hash_str(uint64_t h, const char *s) { return rt_fnv1a64(h, s, strlen(s) + 1); }

static uint64_t hash_file(uint64_t h, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return hash_str(h, "(unreadable)");
    rt_checksum ck;
    rt_checksum_init(&ck);
    static char buf[1 << 16];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) rt_checksum_update(&ck, buf, n);
    fclose(f);
    uint64_t sum = rt_checksum_final(&ck);
    return rt_fnv1a64(h, &sum, sizeof sum);
}

static uint64_t hash_tree(uint64_t h, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return hash_str(h, "(missing)");
    if (!S_ISDIR(st.st_mode)) return hash_file(h, path);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char *sub = rt_path_join(path, names[i]->d_name);
            h = hash_tree(hash_str(h, names[i]->d_name), sub);
            free(sub);
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
    return h;
}

uint64_t bench_hash_path(const char *path) { return rt_mix64(hash_tree(RT_FNV64_OFFSET, path)); }

/* Under the work folder: a path there is an output of some stage, known by that stage's key, never by
 * its bytes (which a half-finished run may have left). */
static int in_dir(const bench_cache *c, const char *path) {
    size_t n = strlen(c->dir);
    return strncmp(path, c->dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

uint64_t bench_key(bench_cache *c, const char *stage, const char *const *args) {
    uint64_t h = hash_str(hash_str(RT_FNV64_OFFSET, bench_build_id()), stage);
    for (int i = 0; args[i]; i++) {
        h = hash_str(h, args[i]);
        json_t *k = json_object_get(c->keys, args[i]);
        if (k) h = hash_str(h, json_string_value(k));
        else if (!in_dir(c, args[i]) && strchr(args[i], '/') && rt_path_exists(args[i])) {
            uint64_t content = bench_hash_path(args[i]);
            h = rt_fnv1a64(h, &content, sizeof content);
        }
    }
    return rt_mix64(h);
}

static char *stamp_path(const bench_cache *c, const char *stage) {
    char name[96];
    snprintf(name, sizeof name, "stamps/%s.json", stage);
    return rt_path_join(c->dir, name);
}

int bench_fresh(bench_cache *c, const char *stage, uint64_t key, const char *const *outputs) {
    char *p = stamp_path(c, stage), hex[17];
    json_t *st = NULL;
    int fresh = rt_path_exists(p) && rt_json_load(p, &st) == RT_OK;
    free(p);
    snprintf(hex, sizeof hex, "%016" PRIx64, key);
    fresh = fresh && json_is_string(json_object_get(st, "key")) && !strcmp(json_string_value(json_object_get(st, "key")), hex);
    for (int i = 0; fresh && outputs[i]; i++) fresh = rt_path_exists(outputs[i]);
    json_decref(st);
    rt_clear_error();
    for (int i = 0; fresh && outputs[i]; i++) bench_register(c, outputs[i], key);
    return fresh;
}

int bench_done(bench_cache *c, const char *stage, uint64_t key, const char *const *outputs, double seconds) {
    char *p = stamp_path(c, stage), *stamps = rt_path_join(c->dir, "stamps"), hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, key);
    json_t *outs = json_array();
    for (int i = 0; outputs[i]; i++) bench_register(c, outputs[i], key), json_array_append_new(outs, json_string(outputs[i]));
    json_t *st = json_pack("{s:s, s:s, s:o, s:f}", "key", hex, "build", bench_build_id(), "outputs", outs, "seconds", seconds);
    rt_status s = rt_mkdir_p(stamps);
    if (s == RT_OK) s = rt_json_save(p, st);
    json_decref(st);
    free(p), free(stamps);
    return s == RT_OK ? 0 : rt_cli_fail("bench");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int bench_remove(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void print_args(const char *prefix, const char *const *args) {
    printf("%s", prefix);
    for (int i = 0; args[i]; i++) printf(" %s", args[i]);
}

int bench_stage(bench_cache *c, const char *stage, const char *const *outputs, int (*fn)(int, char **),
                const char *const *args) {
    uint64_t key = bench_key(c, stage, args);
    print_args("\n$ retrace", args);
    if (bench_fresh(c, stage, key, outputs)) {
        printf("\n(%s: unchanged, kept)\n", stage);
        fflush(stdout);
        c->reused++;
        return 0;
    }
    printf("\n");
    fflush(stdout);
    char *argv[BENCH_MAX_ARGS];
    int argc = 0;
    while (args[argc] && argc < BENCH_MAX_ARGS - 1) argv[argc] = (char *)args[argc], argc++;
    argv[argc] = NULL;
    double t0 = rt_now();
    int rc = fn(argc, argv);
    printf("(%s: %.1f s)\n", stage, rt_now() - t0);
    fflush(stdout);
    if (rc != 0) return fprintf(stderr, "retrace bench: stage '%s' failed (exit %d)\n", stage, rc), rc;
    c->ran++;
    return bench_done(c, stage, key, outputs, rt_now() - t0);
}

void bench_job_free(bench_job *j) {
    for (size_t i = 0; i < sizeof j->owned / sizeof *j->owned; i++) free(j->owned[i]);
    free(j->log);
}

static pid_t start_job(const bench_job *j) {
    print_args("$", j->args);
    printf(" > %s\n", j->log);
    fflush(stdout);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, j->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    int err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, (char *const *)j->args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) fprintf(stderr, "retrace bench: cannot start %s: %s\n", j->label, strerror(err)), pid = -1;
    return pid;
}

/* A finished job: its part files become its outputs, then its stamp is written. */
static int finish_job(bench_cache *c, const bench_job *j, uint64_t key, double seconds) {
    for (int i = 0; j->outputs[i]; i++)
        if (j->out_part[i] && rename(j->out_part[i], j->outputs[i]) != 0) {
            fprintf(stderr, "retrace bench: %s: cannot rename to %s\n", j->out_part[i], j->outputs[i]);
            return RT_EXIT_FAIL;
        }
    return bench_done(c, j->stage, key, j->outputs, seconds);
}

int bench_run_jobs(bench_cache *c, bench_job *jobs, int n, int parallel, const char *title) {
    pid_t *pids = rt_calloc((size_t)n, sizeof *pids);
    uint64_t *keys = rt_calloc((size_t)n, sizeof *keys);
    double *started = rt_calloc((size_t)n, sizeof *started);
    int running = 0, next = 0, failed = 0, kept = 0;
    double t0 = rt_now();
    printf("\n%s: %d jobs, %d at a time:\n", title, n, parallel);
    while ((next < n && !failed) || running > 0) {
        if (next < n && !failed && running < parallel) {
            bench_job *j = &jobs[next];
            keys[next] = bench_key(c, j->stage, j->args);
            if (bench_fresh(c, j->stage, keys[next], j->outputs)) pids[next] = 0, kept++, c->reused++;
            else if ((j->clean && bench_remove(j->clean) != 0) || (pids[next] = start_job(j)) < 0) failed = 1;
            else running++, started[next] = rt_now();
            next++;
            continue;
        }
        int status;
        pid_t done = wait(&status);
        if (done < 0) break;
        int k = 0;
        while (k < next && pids[k] != done) k++;
        if (k == next) continue; /* not one of ours */
        running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "retrace bench: %s failed; see %s\n", jobs[k].label, jobs[k].log);
            failed = 1;
        } else if (finish_job(c, &jobs[k], keys[k], rt_now() - started[k]) != 0) {
            failed = 1;
        } else {
            c->ran++;
            printf("  %-64s done (%.0f s; %.0f s in)\n", jobs[k].label, rt_now() - started[k], rt_now() - t0);
            fflush(stdout);
        }
    }
    if (kept) printf("  (%d of %d unchanged, kept)\n", kept, n);
    printf("(%s: %.1f s)\n", title, rt_now() - t0);
    fflush(stdout);
    free(pids), free(keys), free(started);
    return failed ? RT_EXIT_FAIL : 0;
}
