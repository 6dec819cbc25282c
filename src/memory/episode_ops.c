/* episode_ops.c: one episode by id: read its JSON, or delete it (one transaction, logged in the
 * deletions log so every index, this process's and others', drops it on its next catch-up). */
#include <stdlib.h>
#include <string.h>

#include "memory/memory_internal.h"

rt_status rt_memory_episode_get(rt_memory *m, const char *id, char **json) {
    *json = NULL;
    sqlite3_stmt *st;
    rt_status s = RT_ERR_NOT_FOUND;
    pthread_mutex_lock(&m->rlock);
    if (sqlite3_prepare_v2(m->rdb, "SELECT json FROM episodes JOIN episode_data USING(seq) WHERE id=?", -1, &st, NULL) != SQLITE_OK)
        s = rt_sql_fail(m->rdb, "looking up an episode");
    else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) *json = rt_strdup((const char *)sqlite3_column_text(st, 0)), s = RT_OK;
        else if (rc != SQLITE_DONE) s = rt_sql_fail(m->rdb, "looking up an episode");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&m->rlock);
    if (s == RT_ERR_NOT_FOUND) return rt_fail(s, "%s: no episode with id '%s'", m->dir, id);
    return s;
}

static rt_status step_sql(sqlite3 *db, const char *sql, int64_t arg, const char *text, int64_t *row) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(db, "deleting an episode");
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    if (row) *row = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? RT_OK : rt_sql_fail(db, "deleting an episode");
}

rt_status rt_memory_episode_delete(rt_memory *m, const char *id) {
    if (m->mode != RT_MEMORY_WRITE) return rt_fail(RT_ERR_STATE, "%s: opened read-only", m->dir);
    RT_TRY(rt_sql_exec(m->db, "BEGIN IMMEDIATE"));
    int64_t seq = -1, gen = 0;
    rt_status s = step_sql(m->db, "SELECT seq FROM episodes WHERE id=?", 0, id, &seq);
    if (s == RT_OK && seq < 0) s = rt_fail(RT_ERR_NOT_FOUND, "%s: no episode with id '%s'", m->dir, id);
    if (s == RT_OK) s = step_sql(m->db, "DELETE FROM episodes WHERE seq=?", seq, NULL, NULL);
    if (s == RT_OK) s = step_sql(m->db, "INSERT INTO deletions(seq) VALUES(?)", seq, NULL, NULL);
    if (s == RT_OK) s = rt_meta_get_int(m->db, "generation", &gen);
    if (s == RT_OK) s = rt_meta_set_int(m->db, "generation", gen + 1);
    if (s == RT_OK) s = rt_sql_exec(m->db, "COMMIT");
    if (s != RT_OK) {
        if (!sqlite3_get_autocommit(m->db)) rt_sql_exec(m->db, "ROLLBACK");
        return s;
    }
    /* Committed: an index that cannot catch up now is repaired by the next open (as after an add). */
    if (rt_index_sync(m, 1) != RT_OK) rt_warn("%s (the index will be repaired on the next open)", rt_errmsg());
    return RT_OK;
}
