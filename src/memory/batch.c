/* batch.c: adding episodes and docs. A batch is one SQLite write transaction (BEGIN IMMEDIATE, so a
 * second writer waits instead of failing half way): either every line of it is in the store after
 * commit or none is. Episodes are embedded in groups of FLUSH_EPISODES so a model embedder can batch. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

#define FLUSH_EPISODES 64

struct rt_memory_batch {
    rt_memory *m;
    rt_memory_add_opts opts;
    rt_memory_add_stats stats;
    rt_record pending[FLUSH_EPISODES];
    char *where[FLUSH_EPISODES];
    int n_pending;
    sqlite3_stmt *find, *ins_ep, *ins_data, *ins_step, *ins_tool, *del_ep, *log_del, *find_doc, *put_doc;
};

static const char *const SQL_FIND = "SELECT seq, json FROM episodes JOIN episode_data USING(seq) WHERE id=?";
static const char *const SQL_INS_EP =
    "INSERT INTO episodes(id, env, task, task_type, split, outcome, reward, n_steps) VALUES(?,?,?,?,?,?,?,?)";
static const char *const SQL_INS_DATA = "INSERT INTO episode_data(seq, json, embedding) VALUES(?,?,?)";
static const char *const SQL_INS_STEP = "INSERT INTO steps(episode, idx, thought, action, observation) VALUES(?,?,?,?,?)";
static const char *const SQL_INS_TOOL = "INSERT OR REPLACE INTO episode_tools(episode, tool, version) VALUES(?,?,?)";
static const char *const SQL_DEL_EP = "DELETE FROM episodes WHERE seq=?";
static const char *const SQL_LOG_DEL = "INSERT INTO deletions(seq) VALUES(?)";
static const char *const SQL_FIND_DOC = "SELECT json FROM docs WHERE tool=? AND version=?";
static const char *const SQL_PUT_DOC = "INSERT OR REPLACE INTO docs(tool, version, text, json) VALUES(?,?,?,?)";

static void finalize_all(rt_memory_batch *b) {
    sqlite3_stmt **all[] = {&b->find, &b->ins_ep, &b->ins_data, &b->ins_step, &b->ins_tool, &b->del_ep, &b->log_del, &b->find_doc, &b->put_doc};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
}

static void free_batch(rt_memory_batch *b) {
    finalize_all(b);
    for (int i = 0; i < b->n_pending; i++) {
        rt_record_free(&b->pending[i]);
        free(b->where[i]);
    }
    free(b);
}

rt_status rt_memory_batch_begin(rt_memory *m, const rt_memory_add_opts *opts, rt_memory_batch **out) {
    *out = NULL;
    if (m->mode != RT_MEMORY_WRITE) return rt_fail(RT_ERR_STATE, "%s: opened for reading only", m->dir);
    rt_memory_batch *b = rt_calloc(1, sizeof *b);
    b->m = m;
    if (opts) b->opts = *opts;
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } prep[] = {{&b->find, SQL_FIND},         {&b->ins_ep, SQL_INS_EP},   {&b->ins_data, SQL_INS_DATA}, {&b->ins_step, SQL_INS_STEP},
                {&b->ins_tool, SQL_INS_TOOL}, {&b->del_ep, SQL_DEL_EP},   {&b->log_del, SQL_LOG_DEL},
                {&b->find_doc, SQL_FIND_DOC}, {&b->put_doc, SQL_PUT_DOC}};
    rt_status s = rt_sql_exec(m->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; s == RT_OK && i < sizeof prep / sizeof prep[0]; i++)
        if (sqlite3_prepare_v2(m->db, prep[i].sql, -1, prep[i].st, NULL) != SQLITE_OK) s = rt_sql_fail(m->db, "preparing an insert");
    if (s != RT_OK) {
        finalize_all(b);
        if (!sqlite3_get_autocommit(m->db)) rt_sql_exec(m->db, "ROLLBACK");
        free(b);
        return s;
    }
    *out = b;
    return RT_OK;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

static rt_status step_done(rt_memory_batch *b, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    rt_status s = rc == SQLITE_DONE || rc == SQLITE_ROW ? RT_OK : rt_sql_fail(b->m->db, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s;
}

/* Looks the id up: 0 new, 1 same JSON (nothing to do), 2 different JSON (seq of the old one in *seq). */
static rt_status find_existing(rt_memory_batch *b, const rt_record *r, int *state, int64_t *seq) {
    sqlite3_bind_text(b->find, 1, r->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(b->find);
    *state = 0;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(b->find, 0);
        *state = strcmp((const char *)sqlite3_column_text(b->find, 1), r->json) == 0 ? 1 : 2;
    }
    rt_status s = rc == SQLITE_ROW || rc == SQLITE_DONE ? RT_OK : rt_sql_fail(b->m->db, "looking up an episode id");
    sqlite3_reset(b->find);
    sqlite3_clear_bindings(b->find);
    return s;
}

static rt_status delete_episode(rt_memory_batch *b, int64_t seq) {
    sqlite3_bind_int64(b->del_ep, 1, seq);
    RT_TRY(step_done(b, b->del_ep, "deleting a replaced episode"));
    sqlite3_bind_int64(b->log_del, 1, seq);
    return step_done(b, b->log_del, "logging a deletion");
}

static rt_status insert_episode(rt_memory_batch *b, const rt_record *r, const float *vec) {
    sqlite3_stmt *st = b->ins_ep;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->env, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->task, -1, SQLITE_STATIC);
    bind_opt(st, 4, r->task_type);
    bind_opt(st, 5, r->split);
    sqlite3_bind_text(st, 6, r->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, r->reward);
    sqlite3_bind_int(st, 8, r->n_steps);
    RT_TRY(step_done(b, st, "inserting an episode"));
    int64_t seq = sqlite3_last_insert_rowid(b->m->db);
    sqlite3_bind_int64(b->ins_data, 1, seq);
    sqlite3_bind_text(b->ins_data, 2, r->json, -1, SQLITE_STATIC);
    sqlite3_bind_blob(b->ins_data, 3, vec, b->m->dim * (int)sizeof(float), SQLITE_STATIC);
    RT_TRY(step_done(b, b->ins_data, "inserting an episode's text and embedding"));
    for (int i = 0; i < r->n_steps; i++) {
        sqlite3_bind_int64(b->ins_step, 1, seq);
        sqlite3_bind_int(b->ins_step, 2, i);
        bind_opt(b->ins_step, 3, r->steps[i].thought);
        bind_opt(b->ins_step, 4, r->steps[i].action);
        bind_opt(b->ins_step, 5, r->steps[i].observation);
        RT_TRY(step_done(b, b->ins_step, "inserting a step"));
    }
    for (int i = 0; i < r->n_tools; i++) {
        sqlite3_bind_int64(b->ins_tool, 1, seq);
        sqlite3_bind_text(b->ins_tool, 2, r->tools[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(b->ins_tool, 3, r->tool_versions[i], -1, SQLITE_STATIC);
        RT_TRY(step_done(b, b->ins_tool, "inserting a tool version"));
    }
    return RT_OK;
}

/* A bad line: with skip_bad it is logged and counted, otherwise it fails the batch. */
static rt_status bad_line(rt_memory_batch *b, rt_status s) {
    if (!b->opts.skip_bad || s == RT_ERR_IO || s == RT_ERR_NOMEM) return s;
    rt_warn("%s (skipped)", rt_errmsg());
    b->stats.lines_skipped++;
    return RT_OK;
}

static rt_status store_one(rt_memory_batch *b, const rt_record *r, const char *where, const float *vec) {
    int state;
    int64_t old_seq = 0;
    RT_TRY(find_existing(b, r, &state, &old_seq));
    if (state == 1) {
        b->stats.episodes_unchanged++;
        return RT_OK;
    }
    if (state == 2 && !b->opts.replace)
        return bad_line(b, rt_fail(RT_ERR_ARG, "%s: episode id '%s' is already in the memory with other content (--replace replaces it)",
                                   where, r->id));
    if (state == 2) RT_TRY(delete_episode(b, old_seq));
    RT_TRY(insert_episode(b, r, vec));
    if (state == 2) b->stats.episodes_replaced++;
    else b->stats.episodes_added++;
    return RT_OK;
}

static rt_status flush(rt_memory_batch *b) {
    int n = b->n_pending;
    if (n == 0) return RT_OK;
    char *texts[FLUSH_EPISODES];
    for (int i = 0; i < n; i++) texts[i] = rt_memory_state_text(b->pending[i].task, b->pending[i].steps, b->pending[i].n_steps, -1);
    float *vecs = rt_malloc((size_t)n * (size_t)b->m->dim * sizeof(float));
    rt_status s = rt_embedder_embed(b->m->emb, (const char *const *)texts, n, vecs);
    for (int i = 0; s == RT_OK && i < n; i++) s = store_one(b, &b->pending[i], b->where[i], vecs + (size_t)i * (size_t)b->m->dim);
    for (int i = 0; i < n; i++) {
        free(texts[i]);
        rt_record_free(&b->pending[i]);
        free(b->where[i]);
    }
    b->n_pending = 0;
    free(vecs);
    return s;
}

static rt_status store_doc(rt_memory_batch *b, const rt_record *r, const char *where) {
    sqlite3_bind_text(b->find_doc, 1, r->tool, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->find_doc, 2, r->version, -1, SQLITE_STATIC);
    int rc = sqlite3_step(b->find_doc);
    int same = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(b->find_doc, 0), r->json) == 0;
    int exists = rc == SQLITE_ROW;
    sqlite3_reset(b->find_doc);
    sqlite3_clear_bindings(b->find_doc);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rt_sql_fail(b->m->db, "looking up a doc");
    if (same) {
        b->stats.docs_unchanged++;
        return RT_OK;
    }
    if (exists && !b->opts.replace)
        return bad_line(b, rt_fail(RT_ERR_ARG, "%s: doc %s version %s is already in the memory with other content (--replace replaces it)",
                                   where, r->tool, r->version));
    sqlite3_bind_text(b->put_doc, 1, r->tool, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->put_doc, 2, r->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->put_doc, 3, r->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(b->put_doc, 4, r->json, -1, SQLITE_STATIC);
    RT_TRY(step_done(b, b->put_doc, "inserting a doc"));
    b->stats.docs_added++;
    return RT_OK;
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

rt_status rt_memory_batch_add(rt_memory_batch *b, const char *line, const char *where) {
    if (blank(line)) return RT_OK;
    rt_record r;
    rt_status s = rt_record_parse(line, where ? where : "input", &r);
    if (s != RT_OK) return bad_line(b, s);
    if (r.is_doc) {
        s = store_doc(b, &r, where ? where : "input");
        rt_record_free(&r);
        return s;
    }
    /* Two lines of one batch with the same id must see each other, so pending lines are flushed first. */
    for (int i = 0; i < b->n_pending; i++)
        if (strcmp(b->pending[i].id, r.id) == 0) {
            s = flush(b);
            break;
        }
    if (s != RT_OK) {
        rt_record_free(&r);
        return s;
    }
    b->pending[b->n_pending] = r;
    b->where[b->n_pending] = rt_strdup(where ? where : "input");
    if (++b->n_pending == FLUSH_EPISODES) return flush(b);
    return RT_OK;
}

void rt_memory_batch_abort(rt_memory_batch *b) {
    if (!b) return;
    finalize_all(b);
    if (!sqlite3_get_autocommit(b->m->db)) rt_sql_exec(b->m->db, "ROLLBACK");
    free_batch(b);
}

rt_status rt_memory_batch_commit(rt_memory_batch *b, rt_memory_add_stats *stats) {
    rt_memory *m = b->m;
    rt_status s = flush(b);
    int64_t gen = 0;
    if (s == RT_OK) s = rt_meta_get_int(m->db, "generation", &gen);
    if (s == RT_OK) s = rt_meta_set_int(m->db, "generation", gen + 1);
    finalize_all(b);
    if (s == RT_OK) s = rt_sql_exec(m->db, "COMMIT");
    if (s != RT_OK) {
        rt_status keep = s;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", rt_errmsg());
        rt_memory_batch_abort(b);
        return rt_fail(keep, "%s (nothing was added)", msg);
    }
    if (stats) *stats = b->stats;
    free_batch(b);
    /* The episodes are committed whatever happens now; an index that cannot be brought up to date
     * here is repaired by the next open, so this is a warning, not a failed add. */
    if (rt_index_sync(m, 1) != RT_OK) rt_warn("%s (the index will be repaired on the next open)", rt_errmsg());
    return RT_OK;
}
