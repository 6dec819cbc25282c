/* memory_test_util.h: helpers shared by the memory tests: temporary directories and synthetic
 * episodes (household-like tasks built from templates, so similar tasks really share words). */
#ifndef RT_MEMORY_TEST_UTIL_H
#define RT_MEMORY_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retrace.h"

static const char *const T_OBJECTS[] = {"apple", "mug", "knife", "book", "towel", "egg", "lettuce", "pan", "vase", "key"};
static const char *const T_PLACES[] = {"fridge", "microwave", "sink", "shelf", "drawer", "table", "cabinet", "garbage can"};
static const char *const T_VERBS[] = {"put a hot", "put a cold", "put a clean", "examine the", "put two", "find a"};
static const char *const T_TYPES[] = {"heat", "cool", "clean", "examine", "pick_two", "find"};

/* Writes episode number i as one JSON line (no newline) into buf. */
static inline void t_episode_json(char *buf, size_t n, int i, const char *id_prefix) {
    int o = i % 10, p = (i / 10) % 8, v = (i / 80) % 6;
    int success = (i * 7 + 3) % 5 != 0;
    int version = 1 + i % 3;
    snprintf(buf, n,
             "{\"id\":\"%s%d\",\"env\":\"%s\",\"task\":\"%s %s in the %s\",\"task_type\":\"%s\",\"split\":\"%s\","
             "\"api_versions\":{\"%s\":%d},\"steps\":[{\"thought\":\"look around\",\"action\":\"go to %s 1\","
             "\"observation\":\"You see a %s.\"},{\"action\":\"take %s 1\",\"observation\":\"You pick up the %s.\"},"
             "{\"action\":\"put %s 1 in %s 1\",\"observation\":\"%s\"}],\"outcome\":\"%s\",\"reward\":%.2f,"
             "\"meta\":{\"seed\":%d},\"future_field\":{\"kept\":[%d,true,null]}}",
             id_prefix, i, i % 4 == 3 ? "toolapi" : "household", T_VERBS[v], T_OBJECTS[o], T_PLACES[p], T_TYPES[v],
             i % 5 == 0 ? "test" : "train", T_PLACES[p], version, T_PLACES[p], T_OBJECTS[o], T_OBJECTS[o], T_OBJECTS[o],
             T_OBJECTS[o], T_PLACES[p], success ? "Done." : "Nothing happens.", success ? "success" : "failure",
             success ? 0.5 + 0.05 * (i % 10) : 0.0, i, i);
}

/* Writes episodes [from, to) to a file, one per line. */
static inline void t_write_episodes(const char *path, int from, int to, const char *id_prefix) {
    FILE *f = fopen(path, "w");
    char line[2048];
    for (int i = from; i < to; i++) {
        t_episode_json(line, sizeof line, i, id_prefix);
        fprintf(f, "%s\n", line);
    }
    fclose(f);
}

/* Flips the bits in `mask` of the byte at `off` in a file (corruption tests). */
static inline int t_flip_byte(const char *path, long off, int mask) {
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ mask, f);
    return fclose(f);
}

static inline char *t_tempdir(void) {
    char tmpl[] = "/tmp/rt_memtest_XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void t_rmrf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
