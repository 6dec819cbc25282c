/* maintenance.c: stats, the consistency check, rebuild and export. */
#include "memory/memory_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int64_t scalar(sqlite3 *db, const char *sql, rt_status *s) {
    sqlite3_stmt *st;
    int64_t v = 0;
    if (*s != RT_OK) return 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        *s = rt_sql_fail(db, sql);
        return 0;
    }
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    else *s = rt_sql_fail(db, sql);
    sqlite3_finalize(st);
    return v;
}

static size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

rt_status rt_memory_get_stats(rt_memory *m, rt_memory_stats *out) {
    memset(out, 0, sizeof *out);
    rt_status s = RT_OK;
    pthread_mutex_lock(&m->rlock);
    sqlite3 *db = m->rdb;
    rt_sql_exec(db, "BEGIN");
    out->episodes = scalar(db, "SELECT COUNT(*) FROM episodes", &s);
    out->successes = scalar(db, "SELECT COUNT(*) FROM episodes WHERE outcome='success'", &s);
    out->failures = out->episodes - out->successes;
    out->steps = scalar(db, "SELECT COUNT(*) FROM steps", &s);
    out->docs = scalar(db, "SELECT COUNT(*) FROM docs", &s);
    out->tools = scalar(db, "SELECT COUNT(DISTINCT tool) FROM docs", &s);
    out->generation = (uint64_t)scalar(db, "SELECT value FROM meta WHERE key='generation'", &s);
    rt_sql_exec(db, "COMMIT");
    pthread_mutex_unlock(&m->rlock);
    snprintf(out->embedder, sizeof out->embedder, "%s", m->emb->spec);
    out->dim = m->dim;
    out->format_version = RT_MEMORY_FORMAT_VERSION;
    out->index_vectors = rt_hnsw_count(m->index);
    out->index_bytes = file_size(m->index_path);
    char *wal = rt_path_join(m->dir, RT_MEMORY_DB_NAME "-wal");
    out->db_bytes = file_size(m->db_path) + file_size(wal);
    free(wal);
    return s;
}

static rt_status integrity(rt_memory *m) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->db, "integrity_check");
    rt_status s = RT_OK;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) s = rt_sql_fail(m->db, "integrity_check");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        s = rt_fail(RT_ERR_STATE, "%s: integrity_check: %s", m->db_path, sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return s;
}

/* Every episode is in the index with the vector stored for it, and nothing else is. */
static rt_status index_agrees(rt_memory *m) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->db, "SELECT seq, embedding FROM episode_data", -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->db, "reading embeddings");
    float *v = rt_malloc((size_t)m->dim * sizeof *v);
    rt_status s = RT_OK;
    int64_t n = 0;
    while (s == RT_OK && sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        n++;
        if (sqlite3_column_bytes(st, 1) != m->dim * (int)sizeof(float)) {
            s = rt_fail(RT_ERR_STATE, "%s: episode seq %lld has an embedding of the wrong size", m->db_path, (long long)seq);
            break;
        }
        const float *want = sqlite3_column_blob(st, 1);
        if (rt_hnsw_get_vector(m->index, seq, v) != RT_OK) {
            s = rt_fail(RT_ERR_STATE, "%s: episode seq %lld is missing from the index", m->index_path, (long long)seq);
            break;
        }
        /* The index stores the normalised vector; the store's vectors are unit length already. */
        double err = 0;
        for (int i = 0; i < m->dim; i++) err = fmax(err, fabs((double)v[i] - want[i]));
        if (err > 1e-5) s = rt_fail(RT_ERR_STATE, "%s: the vector of episode seq %lld differs from the store", m->index_path, (long long)seq);
    }
    sqlite3_finalize(st);
    free(v);
    if (s == RT_OK && n != rt_hnsw_count(m->index))
        s = rt_fail(RT_ERR_STATE, "%s: %lld vectors for %lld episodes", m->index_path, (long long)rt_hnsw_count(m->index), (long long)n);
    return s;
}

rt_status rt_memory_check(rt_memory *m) {
    RT_TRY(integrity(m));
    RT_TRY(rt_sql_exec(m->db, "BEGIN"));
    rt_index_state now;
    rt_status s = rt_store_state_locked(m->db, &now);
    if (s == RT_OK && (now.max_seq != m->state.max_seq || now.deletions != m->state.deletions))
        s = rt_fail(RT_ERR_STATE, "%s: the store changed since the index was synced; reopen to catch up", m->index_path);
    if (s == RT_OK) s = index_agrees(m);
    rt_sql_exec(m->db, "COMMIT");
    if (s == RT_OK) s = rt_hnsw_validate(m->index);
    /* The file on disk must load and describe the same state. */
    if (s == RT_OK) {
        rt_hnsw *h;
        uint8_t tag[RT_HNSW_TAG_BYTES];
        s = rt_hnsw_load(m->index_path, &h, tag);
        if (s == RT_OK) {
            int64_t max_seq;
            memcpy(&max_seq, tag + 40, 8);
            if (rt_hnsw_count(h) != rt_hnsw_count(m->index) || max_seq != m->state.max_seq)
                s = rt_fail(RT_ERR_STATE, "%s: the saved index is behind the store", m->index_path);
            rt_hnsw_free(h);
        }
    }
    return s;
}

rt_status rt_memory_rebuild(rt_memory *m) {
    if (m->mode != RT_MEMORY_WRITE) return rt_fail(RT_ERR_STATE, "%s: opened for reading only", m->dir);
    return rt_index_rebuild(m, 1);
}

static rt_status export_table(rt_memory *m, const char *sql, FILE *out, int64_t *n) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->rdb, sql, -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->rdb, "exporting");
    rt_status s = RT_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(st, 0);
        if (fputs(json, out) < 0 || fputc('\n', out) < 0) {
            s = rt_fail(RT_ERR_IO, "export: write failed");
            break;
        }
        (*n)++;
    }
    if (s == RT_OK && rc != SQLITE_DONE) s = rt_sql_fail(m->rdb, "exporting");
    sqlite3_finalize(st);
    return s;
}

rt_status rt_memory_export(rt_memory *m, FILE *out, int64_t *n_written) {
    int64_t n = 0;
    pthread_mutex_lock(&m->rlock);
    /* One read transaction, so a concurrent writer cannot make the export a mix of two states. */
    rt_status s = rt_sql_exec(m->rdb, "BEGIN");
    if (s == RT_OK) s = export_table(m, "SELECT json FROM episode_data ORDER BY seq", out, &n);
    if (s == RT_OK) s = export_table(m, "SELECT json FROM docs ORDER BY seq", out, &n);
    rt_sql_exec(m->rdb, "COMMIT");
    pthread_mutex_unlock(&m->rlock);
    if (s == RT_OK && fflush(out) != 0) s = rt_fail(RT_ERR_IO, "export: write failed");
    if (n_written) *n_written = n;
    return s;
}
