/* memory.c: creating and opening a memory directory: schema, metadata, the two SQLite connections. */
#include "memory/memory_internal.h"
#include "memory/hnsw_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE episodes(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, env TEXT NOT NULL,"
    " task TEXT NOT NULL, task_type TEXT, split TEXT, outcome TEXT NOT NULL, reward REAL NOT NULL,"
    " n_steps INTEGER NOT NULL);"
    /* The wide columns live apart, so filter queries read narrow rows (10x faster at 100k episodes). */
    "CREATE TABLE episode_data(seq INTEGER PRIMARY KEY REFERENCES episodes(seq) ON DELETE CASCADE,"
    " json TEXT NOT NULL, embedding BLOB NOT NULL);"
    /* Covering for the usual filters (env, env+outcome, ...): the seqs come from the index alone. */
    "CREATE INDEX episodes_filter ON episodes(env, outcome, task_type, split);"
    "CREATE INDEX episodes_outcome ON episodes(outcome);"
    "CREATE INDEX episodes_task_type ON episodes(task_type);"
    "CREATE TABLE steps(episode INTEGER NOT NULL REFERENCES episodes(seq) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    " thought TEXT, action TEXT, observation TEXT, PRIMARY KEY(episode, idx)) WITHOUT ROWID;"
    "CREATE TABLE episode_tools(episode INTEGER NOT NULL REFERENCES episodes(seq) ON DELETE CASCADE,"
    " tool TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY(episode, tool)) WITHOUT ROWID;"
    "CREATE INDEX episode_tools_tool ON episode_tools(tool, version);"
    "CREATE TABLE deletions(n INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL);"
    "CREATE TABLE docs(seq INTEGER PRIMARY KEY AUTOINCREMENT, tool TEXT NOT NULL, version TEXT NOT NULL,"
    " text TEXT NOT NULL, json TEXT NOT NULL, UNIQUE(tool, version));";

rt_memory_init_params rt_memory_init_params_default(void) {
    rt_memory_init_params p = {.embedder = "hash", .M = 16, .ef_construction = 200, .ef_search = 64};
    return p;
}

/* 128 random bits name the store; an index file carries them so it is never applied to another store. */
static void make_uuid(char out[33]) {
    uint8_t b[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof b) {
        rt_rng r;
        rt_rng_seed(&r, (uint64_t)(rt_now() * 1e9) ^ (uint64_t)getpid());
        for (int i = 0; i < 16; i++) b[i] = (uint8_t)rt_rng_u64(&r);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static rt_status write_meta(sqlite3 *db, const rt_memory_init_params *p, const rt_embedder *e) {
    char uuid[33];
    make_uuid(uuid);
    RT_TRY(rt_meta_set_int(db, "format_version", RT_MEMORY_FORMAT_VERSION));
    RT_TRY(rt_meta_set(db, "embedder", e->spec));
    RT_TRY(rt_meta_set_int(db, "dim", e->dim));
    RT_TRY(rt_meta_set(db, "metric", "cosine"));
    RT_TRY(rt_meta_set(db, "uuid", uuid));
    RT_TRY(rt_meta_set_int(db, "generation", 0));
    RT_TRY(rt_meta_set_int(db, "M", p->M));
    RT_TRY(rt_meta_set_int(db, "ef_construction", p->ef_construction));
    RT_TRY(rt_meta_set_int(db, "ef_search", p->ef_search));
    return RT_OK;
}

rt_status rt_memory_init(const char *dir, const rt_memory_init_params *p) {
    rt_memory_init_params def = rt_memory_init_params_default();
    if (!p) p = &def;
    if (p->M < 2 || p->M > 128 || p->ef_construction < 1 || p->ef_search < 1)
        return rt_fail(RT_ERR_ARG, "%s: index parameters out of range (M 2..128, ef >= 1)", dir);
    rt_embedder *e;
    RT_TRY(rt_embedder_open(p->embedder ? p->embedder : "hash", &e));
    rt_status s = rt_mkdir_p(dir);
    char *db_path = rt_path_join(dir, RT_MEMORY_DB_NAME);
    if (s == RT_OK && rt_path_exists(db_path)) s = rt_fail(RT_ERR_ARG, "%s: already holds a memory", dir);
    sqlite3 *db = NULL;
    if (s == RT_OK) s = rt_sql_open(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db);
    if (s == RT_OK) s = rt_sql_exec(db, "PRAGMA journal_mode=WAL");
    if (s == RT_OK) s = rt_sql_exec(db, "BEGIN IMMEDIATE");
    if (s == RT_OK) s = rt_sql_exec(db, SCHEMA);
    if (s == RT_OK) s = write_meta(db, p, e);
    if (s == RT_OK) s = rt_sql_exec(db, "COMMIT");
    sqlite3_close(db);
    rt_embedder_free(e);
    if (s != RT_OK && rt_path_exists(db_path) && db) unlink(db_path);
    free(db_path);
    if (s != RT_OK) return s;
    /* Opening for writing builds and saves the (empty) index. */
    rt_memory *m;
    RT_TRY(rt_memory_open(dir, RT_MEMORY_WRITE, &m));
    rt_memory_close(m);
    return RT_OK;
}

static rt_status read_meta(rt_memory *m) {
    int64_t version, dim, M, efc, efs;
    RT_TRY(rt_meta_get_int(m->db, "format_version", &version));
    if (version != RT_MEMORY_FORMAT_VERSION)
        return rt_fail(RT_ERR_FORMAT, "%s: memory format version %lld, this build reads %d", m->db_path, (long long)version,
                       RT_MEMORY_FORMAT_VERSION);
    RT_TRY(rt_meta_get_int(m->db, "dim", &dim));
    RT_TRY(rt_meta_get_int(m->db, "M", &M));
    RT_TRY(rt_meta_get_int(m->db, "ef_construction", &efc));
    RT_TRY(rt_meta_get_int(m->db, "ef_search", &efs));
    char *spec, *uuid;
    RT_TRY(rt_meta_get(m->db, "uuid", &uuid));
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    free(uuid);
    m->dim = (int)dim, m->M = (int)M, m->ef_construction = (int)efc, m->ef_search = (int)efs;
    RT_TRY(rt_meta_get(m->db, "embedder", &spec));
    rt_status s = rt_embedder_open(spec, &m->emb);
    if (s == RT_OK && m->emb->dim != m->dim)
        s = rt_fail(RT_ERR_FORMAT, "%s: embedder %s gives dimension %d, the memory says %d", m->db_path, spec, m->emb->dim, m->dim);
    else if (s != RT_OK) s = rt_fail_context(s, "%s: the memory's embedder", m->db_path);
    free(spec);
    return s;
}

rt_status rt_memory_open(const char *dir, rt_memory_mode mode, rt_memory **out) {
    *out = NULL;
    if (!rt_is_dir(dir)) return rt_fail(RT_ERR_NOT_FOUND, "%s: not a directory", dir);
    rt_memory *m = rt_calloc(1, sizeof *m);
    m->dir = rt_strdup(dir);
    m->db_path = rt_path_join(dir, RT_MEMORY_DB_NAME);
    m->index_path = rt_path_join(dir, RT_MEMORY_INDEX_NAME);
    m->lock_path = rt_path_join(dir, RT_MEMORY_LOCK_NAME);
    m->mode = mode;
    pthread_mutex_init(&m->rlock, NULL);
    rt_rwlock_init_writer_first(&m->swap_lock);
    rt_status s = RT_OK;
    if (!rt_path_exists(m->db_path)) s = rt_fail(RT_ERR_NOT_FOUND, "%s: not a retrace memory (no %s; run `retrace memory init`)", dir, RT_MEMORY_DB_NAME);
    /* Readers open read-write when they can: a WAL reader may need to recover the log after a crash. */
    int flags = mode == RT_MEMORY_WRITE || access(dir, W_OK) == 0 ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (s == RT_OK) s = rt_sql_open(m->db_path, flags, &m->db);
    if (s == RT_OK) {
        s = read_meta(m);
        if (s != RT_OK && !strstr(rt_errmsg(), m->db_path)) s = rt_fail_context(s, "%s: not a retrace memory", dir);
    }
    if (s == RT_OK) s = rt_sql_open(m->db_path, flags, &m->rdb);
    if (s == RT_OK) s = rt_index_open(m);
    if (s != RT_OK) {
        rt_memory_close(m);
        return s;
    }
    *out = m;
    return RT_OK;
}

void rt_memory_close(rt_memory *m) {
    if (!m) return;
    rt_hnsw_free(m->index);
    rt_embedder_free(m->emb);
    sqlite3_close(m->rdb);
    sqlite3_close(m->db);
    rt_filter_cache_clear(m);
    pthread_mutex_destroy(&m->rlock);
    pthread_rwlock_destroy(&m->swap_lock);
    free(m->dir), free(m->db_path), free(m->index_path), free(m->lock_path);
    free(m);
}

rt_embedder *rt_memory_embedder(rt_memory *m) { return m->emb; }
rt_hnsw *rt_memory_index(rt_memory *m) { return m->index; }
