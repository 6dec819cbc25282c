/* index_sync.c: keeping the derived HNSW file in step with the store.
 *
 * The index file's tag records the store state it reflects: the store's uuid, its generation (bumped by
 * every write transaction), the newest episode seq it holds and how many entries of the deletions log
 * it has applied. On open the file is loaded and checked (checksum, structure, uuid, dimension); a
 * missing, corrupt or foreign file is rebuilt from the embeddings in SQLite. A file that is merely
 * behind (a writer died between its commit and its index save, or another process added since) is
 * caught up: the logged deletions after its count are applied, then episodes with a newer seq are
 * inserted. A file ahead of the store, or one whose vector count disagrees with the store after catching
 * up, is rebuilt. Saving is atomic (rename) and serialised between processes by an flock. */
#include "memory/memory_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void tag_encode(const rt_index_state *s, uint8_t tag[RT_HNSW_TAG_BYTES]) {
    memset(tag, 0, RT_HNSW_TAG_BYTES);
    memcpy(tag, s->uuid, 32);
    memcpy(tag + 32, &s->generation, 8);
    memcpy(tag + 40, &s->max_seq, 8);
    memcpy(tag + 48, &s->deletions, 8);
}

static void tag_decode(const uint8_t tag[RT_HNSW_TAG_BYTES], rt_index_state *s) {
    memcpy(s->uuid, tag, 32);
    s->uuid[32] = '\0';
    memcpy(&s->generation, tag + 32, 8);
    memcpy(&s->max_seq, tag + 40, 8);
    memcpy(&s->deletions, tag + 48, 8);
}

/* A process killed while saving leaves its temporary file behind; every save happens under the lock,
 * so while we hold it any such file is an orphan. */
static void remove_orphans(rt_memory *m) {
    DIR *d = opendir(m->dir);
    if (!d) return;
    const char *prefix = RT_MEMORY_INDEX_NAME ".tmp.";
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char *p = rt_path_join(m->dir, e->d_name);
            unlink(p);
            free(p);
        }
    closedir(d);
}

static rt_status save(rt_memory *m) {
    int fd = open(m->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return rt_fail(RT_ERR_IO, "%s: cannot open the index lock", m->lock_path);
    rt_status s = RT_OK;
    if (flock(fd, LOCK_EX) != 0) s = rt_fail(RT_ERR_IO, "%s: cannot lock", m->lock_path);
    if (s == RT_OK) remove_orphans(m);
    if (s == RT_OK) {
        uint8_t tag[RT_HNSW_TAG_BYTES];
        tag_encode(&m->state, tag);
        s = rt_hnsw_save(m->index, m->index_path, tag);
    }
    close(fd); /* releases the lock */
    return s;
}

/* The index is derived: failing to write it loses nothing, so it is a warning, and the next open
 * catches up again. */
static void save_or_warn(rt_memory *m) {
    if (save(m) != RT_OK) rt_warn("%s (the index will be rebuilt or caught up on the next open)", rt_errmsg());
}

static rt_status read_vector(sqlite3_stmt *st, int col, int dim, int64_t seq, const char *db_path, const float **out) {
    int bytes = sqlite3_column_bytes(st, col);
    if (bytes != dim * (int)sizeof(float))
        return rt_fail(RT_ERR_FORMAT, "%s: episode seq %lld has a %d-byte embedding, expected %d", db_path, (long long)seq,
                       bytes, dim * (int)sizeof(float));
    *out = sqlite3_column_blob(st, col);
    return RT_OK;
}

/* Inserts every episode with seq > after into h (inside the caller's read transaction). */
static rt_status insert_newer(rt_memory *m, rt_hnsw *h, int64_t after, int64_t total) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "SELECT seq, embedding FROM episode_data WHERE seq > ? ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return rt_sql_fail(m->db, "reading embeddings");
    sqlite3_bind_int64(st, 1, after);
    rt_progress p;
    rt_progress_begin(&p, "indexing", total);
    rt_status s = RT_OK;
    int rc;
    int64_t done = 0;
    while (s == RT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const float *v = NULL;
        s = read_vector(st, 1, m->dim, seq, m->db_path, &v);
        if (s == RT_OK) s = rt_hnsw_insert(h, seq, v);
        if (++done % 256 == 0) rt_progress_update(&p, done, NULL);
    }
    if (s == RT_OK && rc != SQLITE_DONE) s = rt_sql_fail(m->db, "reading embeddings");
    sqlite3_finalize(st);
    rt_progress_end(&p);
    return s;
}

static rt_status apply_deletions(rt_memory *m, int64_t after) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "SELECT seq FROM deletions WHERE n > ? ORDER BY n", -1, &st, NULL) != SQLITE_OK)
        return rt_sql_fail(m->db, "reading the deletions log");
    sqlite3_bind_int64(st, 1, after);
    rt_status s = RT_OK;
    int rc;
    while (s == RT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (rt_hnsw_contains(m->index, seq)) s = rt_hnsw_delete(m->index, seq);
    }
    if (s == RT_OK && rc != SQLITE_DONE) s = rt_sql_fail(m->db, "reading the deletions log");
    sqlite3_finalize(st);
    return s;
}

static rt_status count_episodes(sqlite3 *db, int64_t *n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM episodes", -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(db, "counting episodes");
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? RT_OK : rt_sql_fail(db, "counting episodes");
}

static void set_index(rt_memory *m, rt_hnsw *h) {
    pthread_rwlock_wrlock(&m->swap_lock);
    rt_hnsw *old = m->index;
    m->index = h;
    pthread_rwlock_unlock(&m->swap_lock);
    rt_hnsw_free(old);
}

rt_status rt_index_rebuild(rt_memory *m, int save_file) {
    rt_hnsw_params p = rt_hnsw_params_default(m->dim);
    p.M = m->M;
    p.ef_construction = m->ef_construction;
    p.ef_search = m->ef_search;
    rt_hnsw *h;
    RT_TRY(rt_hnsw_create(&p, &h));
    rt_index_state st;
    int64_t total = 0;
    /* One read transaction: the vectors and the state recorded for them are the same snapshot. */
    rt_status s = rt_sql_exec(m->db, "BEGIN");
    if (s == RT_OK) {
        s = rt_store_state_locked(m->db, &st);
        if (s == RT_OK) s = count_episodes(m->db, &total);
        if (s == RT_OK) s = rt_hnsw_reserve(h, total);
        if (s == RT_OK) s = insert_newer(m, h, 0, total);
        rt_sql_exec(m->db, "COMMIT");
    }
    if (s != RT_OK) {
        rt_hnsw_free(h);
        return s;
    }
    memcpy(st.uuid, m->uuid, sizeof st.uuid);
    set_index(m, h);
    m->state = st;
    if (save_file) save_or_warn(m);
    return RT_OK;
}

rt_status rt_index_sync(rt_memory *m, int save_file) {
    rt_index_state now;
    RT_TRY(rt_store_state(m->db, &now));
    if (now.generation == m->state.generation && now.max_seq == m->state.max_seq && now.deletions == m->state.deletions)
        return RT_OK;
    if (now.max_seq < m->state.max_seq || now.deletions < m->state.deletions || now.generation < m->state.generation) {
        rt_warn("%s: the index is ahead of the store; rebuilding it", m->index_path);
        return rt_index_rebuild(m, save_file);
    }
    rt_status s = rt_sql_exec(m->db, "BEGIN");
    int64_t total = 0;
    if (s == RT_OK) {
        s = rt_store_state_locked(m->db, &now);
        if (s == RT_OK) s = apply_deletions(m, m->state.deletions);
        if (s == RT_OK) s = insert_newer(m, m->index, m->state.max_seq, now.max_seq - m->state.max_seq);
        if (s == RT_OK) s = count_episodes(m->db, &total);
        rt_sql_exec(m->db, "COMMIT");
    }
    if (s != RT_OK && s != RT_ERR_IO) {
        /* The in-memory index may be half caught up; start again from the store. */
        rt_warn("%s; rebuilding the index", rt_errmsg());
        return rt_index_rebuild(m, save_file);
    }
    if (s == RT_OK && total != rt_hnsw_count(m->index)) {
        rt_warn("%s: the index holds %lld vectors, the store %lld episodes; rebuilding it", m->index_path,
                (long long)rt_hnsw_count(m->index), (long long)total);
        return rt_index_rebuild(m, save_file);
    }
    if (s != RT_OK) return s;
    memcpy(now.uuid, m->uuid, sizeof now.uuid);
    m->state = now;
    if (save_file) save_or_warn(m);
    return RT_OK;
}

rt_status rt_index_open(rt_memory *m) {
    rt_hnsw *h = NULL;
    uint8_t tag[RT_HNSW_TAG_BYTES];
    int can_save = access(m->dir, W_OK) == 0;
    if (!rt_path_exists(m->index_path)) {
        /* Only news when there was something to index (a fresh memory has no index yet). */
        rt_index_state now;
        if (rt_store_state(m->db, &now) == RT_OK && now.max_seq > 0)
            rt_info("%s: no index; building it from the store", m->index_path);
        return rt_index_rebuild(m, can_save);
    }
    if (rt_hnsw_load(m->index_path, &h, tag) != RT_OK) {
        rt_warn("%s; rebuilding the index from the store", rt_errmsg());
        return rt_index_rebuild(m, can_save);
    }
    rt_index_state st;
    tag_decode(tag, &st);
    const rt_hnsw_params *p = rt_hnsw_get_params(h);
    if (strcmp(st.uuid, m->uuid) != 0 || p->dim != m->dim || p->metric != RT_METRIC_COSINE || p->M != m->M) {
        rt_warn("%s: built for another store or other parameters; rebuilding it", m->index_path);
        rt_hnsw_free(h);
        return rt_index_rebuild(m, can_save);
    }
    m->index = h;
    m->state = st;
    return rt_index_sync(m, can_save);
}
