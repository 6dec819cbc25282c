/* safetensors.c: opening safetensors checkpoints (one file, a sharded index, or a model folder) and
 * finding tensors by name.
 *
 * Files are mapped read-only (MAP_PRIVATE) and never copied: a tensor's data pointer points into the
 * mapping. Validation lives in st_parse.c, dtype conversion in st_convert.c, writing in st_writer.c. */
#include "st_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RT_ST_FOLDER_FILE "model.safetensors"
#define RT_ST_FOLDER_INDEX "model.safetensors.index.json"

static rt_st_file *file_new(const char *path) {
    rt_st_file *f = rt_calloc(1, sizeof *f);
    f->path = rt_strdup(path);
    return f;
}

void rt_st_close(rt_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->nshards; i++) {
        rt_st_shard *s = &f->shards[i];
        if (s->map) munmap(s->map, s->map_len);
        json_decref(s->header);
        free(s->path);
    }
    free(f->shards);
    free(f->tensors);
    free(f->path);
    free(f);
}

static rt_st_shard *add_shard(rt_st_file *f, const char *path) {
    f->shards = rt_realloc(f->shards, (size_t)(f->nshards + 1) * sizeof *f->shards);
    rt_st_shard *s = &f->shards[f->nshards++];
    memset(s, 0, sizeof *s);
    s->path = rt_strdup(path);
    return s;
}

/* Maps `path` read-only. Empty files get no mapping (mmap refuses length 0); the parser rejects them. */
static rt_status map_file(const char *path, void **map, size_t *len) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_fail(errno == ENOENT ? RT_ERR_NOT_FOUND : RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rt_fail(RT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rt_status s = rt_fail(RT_ERR_IO, "%s: cannot mmap: %s", path, strerror(errno));
            close(fd);
            return s;
        }
        *map = p;
        *len = (size_t)st.st_size;
    }
    close(fd);
    return RT_OK;
}

/* Maps and validates one file as a new shard of `f`. */
static rt_status open_shard(rt_st_file *f, const char *path) {
    rt_st_shard *sh = add_shard(f, path);
    RT_TRY(map_file(path, &sh->map, &sh->map_len));
    static const uint8_t empty[1];
    return rt_st_parse_shard(f, sh, sh->map ? sh->map : empty, sh->map_len);
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const rt_st_tensor *)a)->name, ((const rt_st_tensor *)b)->name);
}

/* Sorts the merged table by name (for binary search) and rejects a name that two shards both hold. */
static rt_status finish_table(rt_st_file *f) {
    if (f->count > 1) qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
    for (int i = 1; i < f->count; i++) {
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) != 0) continue;
        char q[RT_ST_QUOTE_BYTES];
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': appears in both %s and %s", f->path,
                       rt_st_quote(f->tensors[i].name, q), f->tensors[i - 1].file, f->tensors[i].file);
    }
    return RT_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The distinct shard names of a weight_map, sorted (so the first shard is model-00001-of-...). */
static rt_status index_shards(const char *index, json_t *wm, const char ***out, size_t *nout) {
    size_t n = json_object_size(wm), k = 0;
    const char **names = rt_malloc((n ? n : 1) * sizeof *names);
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            char q[RT_ST_QUOTE_BYTES];
            free(names);
            return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': weight_map entry is not a file name", index, rt_st_quote(key, q));
        }
        names[k++] = json_string_value(v);
    }
    qsort(names, k, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    *out = names;
    *nout = u;
    return RT_OK;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return rt_strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = rt_malloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* Every weight_map entry must name a tensor that its shard really holds. */
static rt_status check_weight_map(rt_st_file *f, const char *index, json_t *wm, const char *dir) {
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const rt_st_tensor *t = rt_st_find(f, key);
        char *want = rt_path_join(dir, json_string_value(v));
        int ok = t && strcmp(t->file, want) == 0;
        free(want);
        if (ok) continue;
        char q[RT_ST_QUOTE_BYTES], qs[RT_ST_QUOTE_BYTES];
        rt_st_quote(key, q);
        rt_st_quote(json_string_value(v), qs);
        if (!t) return rt_fail(RT_ERR_NOT_FOUND, "%s: tensor '%s': not found in shard '%s'", index, q, qs);
        return rt_fail(RT_ERR_FORMAT, "%s: tensor '%s': weight_map says shard '%s' but it is in %s", index, q, qs, t->file);
    }
    return RT_OK;
}

static rt_status open_index(rt_st_file *f, const char *index) {
    json_t *root;
    RT_TRY(rt_json_load(index, &root));
    json_t *wm = json_object_get(root, "weight_map");
    rt_status s = RT_OK;
    if (!json_is_object(wm)) s = rt_fail(RT_ERR_FORMAT, "%s: missing 'weight_map' object", index);
    else if (json_object_size(wm) == 0) s = rt_fail(RT_ERR_FORMAT, "%s: 'weight_map' is empty", index);
    const char **shards = NULL;
    size_t nshards = 0;
    if (s == RT_OK) s = index_shards(index, wm, &shards, &nshards);
    char *dir = dir_of(index);
    for (size_t i = 0; i < nshards && s == RT_OK; i++) {
        char *path = rt_path_join(dir, shards[i]);
        s = open_shard(f, path);
        if (s != RT_OK) {
            char q[RT_ST_QUOTE_BYTES];
            rt_fail_context(s, "%s: shard '%s'", index, rt_st_quote(shards[i], q));
        }
        free(path);
    }
    if (s == RT_OK) s = finish_table(f);
    if (s == RT_OK) s = check_weight_map(f, index, wm, dir);
    free(dir);
    free(shards);
    json_decref(root);
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static rt_status open_path(rt_st_file *f, const char *path) {
    if (!rt_is_dir(path)) {
        if (ends_with(path, ".json")) return open_index(f, path);
        RT_TRY(open_shard(f, path));
        return finish_table(f);
    }
    char *file = rt_path_join(path, RT_ST_FOLDER_FILE);
    char *index = rt_path_join(path, RT_ST_FOLDER_INDEX);
    rt_status s;
    if (rt_path_exists(file)) {
        s = open_shard(f, file);
        if (s == RT_OK) s = finish_table(f);
    } else if (rt_path_exists(index)) {
        s = open_index(f, index);
    } else {
        s = rt_fail(RT_ERR_NOT_FOUND, "%s: folder holds neither %s nor %s", path, RT_ST_FOLDER_FILE, RT_ST_FOLDER_INDEX);
    }
    free(file);
    free(index);
    return s;
}

rt_status rt_st_open(const char *path, rt_st_file **out) {
    *out = NULL;
    if (!path || !*path) return rt_fail(RT_ERR_ARG, "rt_st_open: empty path");
    rt_st_file *f = file_new(path);
    rt_status s = open_path(f, path);
    if (s != RT_OK) {
        rt_st_close(f);
        return s;
    }
    *out = f;
    return RT_OK;
}

rt_status rt_st_open_buffer(const void *data, size_t len, const char *name, rt_st_file **out) {
    *out = NULL;
    if (!name) name = "<buffer>";
    if (!data && len) return rt_fail(RT_ERR_ARG, "%s: NULL data", name);
    static const uint8_t empty[1];
    rt_st_file *f = file_new(name);
    rt_st_shard *sh = add_shard(f, name);
    rt_status s = rt_st_parse_shard(f, sh, data ? data : empty, len);
    if (s == RT_OK) s = finish_table(f);
    if (s != RT_OK) {
        rt_st_close(f);
        return s;
    }
    *out = f;
    return RT_OK;
}

int rt_st_count(const rt_st_file *f) { return f ? f->count : 0; }

const rt_st_tensor *rt_st_at(const rt_st_file *f, int i) {
    if (!f || i < 0 || i >= f->count) return NULL;
    return &f->tensors[i];
}

const rt_st_tensor *rt_st_find(const rt_st_file *f, const char *name) {
    if (!f || !name || f->count == 0) return NULL;
    rt_st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
}

const char *rt_st_metadata(const rt_st_file *f, const char *key) {
    if (!f || !key || f->nshards == 0 || !f->shards[0].metadata) return NULL;
    return json_string_value(json_object_get(f->shards[0].metadata, key));
}
