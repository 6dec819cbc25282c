/* sql.c: small SQLite helpers: opening with the memory's pragmas, exec, and the meta table. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

rt_status rt_sql_fail(sqlite3 *db, const char *what) {
    const char *file = sqlite3_db_filename(db, "main");
    int code = sqlite3_extended_errcode(db);
    /* A full disk or a read-only file is an I/O problem for the user, not a format problem. */
    rt_status st = (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB ? RT_ERR_FORMAT : RT_ERR_IO;
    return rt_fail(st, "%s: %s: %s", file && *file ? file : "memory.db", what, sqlite3_errmsg(db));
}

rt_status rt_sql_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        sqlite3_free(err);
        return rt_sql_fail(db, sql);
    }
    return RT_OK;
}

static rt_status open_once(const char *name, int flags, const char *path, sqlite3 **out) {
    sqlite3 *db;
    *out = NULL;
    if (sqlite3_open_v2(name, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rt_status s = rt_fail(RT_ERR_IO, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return s;
    }
    sqlite3_busy_timeout(db, RT_MEMORY_BUSY_TIMEOUT_MS);
    /* synchronous=FULL in WAL mode makes every commit durable, not only consistent. A 32 MB page cache
     * keeps the filter indexes of a large memory in memory between searches. The pragmas are also the
     * first read, so a file that cannot be opened fails here. */
    if (sqlite3_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA cache_size=-32768;", NULL, NULL, NULL) != SQLITE_OK) {
        rt_status s = rt_fail(RT_ERR_IO, "%s: cannot open: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return s;
    }
    *out = db;
    return RT_OK;
}

/* A WAL database on read-only media cannot be opened the usual way once its -shm file is gone (SQLite
 * cannot create it there); opened as immutable it can, and nothing can change it there anyway. */
static rt_status open_immutable(const char *path, sqlite3 **out) {
    char *uri = rt_malloc(3 * strlen(path) + 32);
    char *u = uri + sprintf(uri, "file:");
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#') u += sprintf(u, "%%%02X", (unsigned char)*p);
        else *u++ = *p;
    }
    sprintf(u, "?immutable=1");
    rt_status s = open_once(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path, out);
    free(uri);
    return s;
}

rt_status rt_sql_open(const char *path, int flags, sqlite3 **out) {
    rt_status s = open_once(path, flags, path, out);
    if (s != RT_OK && (flags & SQLITE_OPEN_READONLY) && rt_path_exists(path)) s = open_immutable(path, out);
    return s;
}

rt_status rt_meta_get(sqlite3 *db, const char *key, char **out) {
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
        return rt_sql_fail(db, "reading metadata");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = rt_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return RT_OK;
    if (rc == SQLITE_DONE) return rt_fail(RT_ERR_FORMAT, "%s: metadata key '%s' missing", sqlite3_db_filename(db, "main"), key);
    return rt_sql_fail(db, "reading metadata");
}

rt_status rt_meta_get_int(sqlite3 *db, const char *key, int64_t *out) {
    char *v;
    RT_TRY(rt_meta_get(db, key, &v));
    char *end;
    long long x = strtoll(v, &end, 10);
    int bad = *v == '\0' || *end != '\0';
    free(v);
    if (bad) return rt_fail(RT_ERR_FORMAT, "%s: metadata key '%s' is not an integer", sqlite3_db_filename(db, "main"), key);
    *out = x;
    return RT_OK;
}

rt_status rt_meta_set(sqlite3 *db, const char *key, const char *value) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
        return rt_sql_fail(db, "writing metadata");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? RT_OK : rt_sql_fail(db, "writing metadata");
}

rt_status rt_meta_set_int(sqlite3 *db, const char *key, int64_t value) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    return rt_meta_set(db, key, buf);
}

rt_status rt_store_state_locked(sqlite3 *db, rt_index_state *out) {
    int64_t gen = 0;
    RT_TRY(rt_meta_get_int(db, "generation", &gen));
    out->generation = (uint64_t)gen;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name='episodes'), 0), IFNULL((SELECT MAX(n) FROM deletions), 0)",
                           -1, &st, NULL) != SQLITE_OK)
        return rt_sql_fail(db, "reading the store state");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->max_seq = sqlite3_column_int64(st, 0);
        out->deletions = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? RT_OK : rt_sql_fail(db, "reading the store state");
}

rt_status rt_store_state(sqlite3 *db, rt_index_state *out) {
    RT_TRY(rt_sql_exec(db, "BEGIN"));
    rt_status s = rt_store_state_locked(db, out);
    rt_sql_exec(db, "COMMIT");
    return s;
}
