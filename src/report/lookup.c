/* lookup.c: finds a retrieved episode by its id in the bench folder's experience files (the JSON lines
 * the memories were built from), so the page can show what a prompt was given, not only an id. The
 * evaluation episodes and the training examples are not searched: retrieval never returns them. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static const char *const SKIP[] = {"episodes_", "sft_", "val_", "pretrain_"};

static int skipped(const char *path) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    for (size_t i = 0; i < sizeof SKIP / sizeof *SKIP; i++)
        if (!strncmp(name, SKIP[i], strlen(SKIP[i]))) return 1;
    return 0;
}

/* The object on the line of text that holds `"id":"<id>"` (with or without a space after the colon). */
static json_t *find_in(const char *text, size_t len, const char *id) {
    char pat[2][300];
    snprintf(pat[0], sizeof pat[0], "\"id\":\"%s\"", id);
    snprintf(pat[1], sizeof pat[1], "\"id\": \"%s\"", id);
    for (int k = 0; k < 2; k++) {
        const char *hit = strstr(text, pat[k]);
        if (!hit) continue;
        const char *start = hit, *end = hit;
        while (start > text && start[-1] != '\n') start--;
        while (end < text + len && *end != '\n') end++;
        json_t *o = json_loadb(start, (size_t)(end - start), 0, NULL);
        if (json_is_object(o) && json_is_string(json_object_get(o, "id")) &&
            !strcmp(json_string_value(json_object_get(o, "id")), id))
            return o;
        json_decref(o);
    }
    return NULL;
}

json_t *rt_report_find_episode(const char *bench_dir, const char *id) {
    if (!id || !id[0] || strlen(id) > 256 || strchr(id, '"') || strchr(id, '\\')) return NULL;
    char *pattern = rt_path_join(bench_dir, "*.jsonl");
    glob_t g;
    json_t *found = NULL;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !found; i++) {
            char *text = NULL;
            size_t len = 0;
            if (skipped(g.gl_pathv[i]) || rt_file_read(g.gl_pathv[i], &text, &len) != RT_OK) continue;
            found = find_in(text, len, id);
            free(text);
        }
        globfree(&g);
    }
    rt_clear_error();
    free(pattern);
    return found;
}
