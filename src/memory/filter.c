/* filter.c: which episodes a query may return, decided in SQLite before the search. The filters of the
 * query (env, outcome, task type, split, tool, the task type to avoid, the tool versions in force)
 * become one SELECT of the passing seqs, kept as a list and a bitmap (cached while the store is
 * unchanged: an agent asks the same few filters every step); the exclusions of one query (its own
 * episode, its task instance) are then cleared from the bitmap. The graph search tests the bitmap at
 * every node it would return, and an exact scan reads just the passing vectors. */
#include "memory/memory_internal.h"

#include <stdlib.h>
#include <string.h>

int rt_filter_accept(int64_t label, void *ctx) {
    const rt_filter *f = ctx;
    if (f->allow) return label >= 0 && label < f->n_bits && (f->bits[label >> 6] >> (label & 63) & 1);
    for (int i = 0; i < f->n_deny; i++)
        if (f->deny[i] == label) return 0;
    return 1;
}

void rt_filter_drop(rt_filter *f, int64_t seq) {
    if (!f->allow) {
        f->deny = rt_realloc(f->deny, (size_t)(f->n_deny + 1) * sizeof *f->deny);
        f->deny[f->n_deny++] = seq;
        return;
    }
    if (seq < 0 || seq >= f->n_bits || !(f->bits[seq >> 6] >> (seq & 63) & 1)) return;
    f->bits[seq >> 6] &= ~(1ull << (seq & 63));
    f->n_pass--;
}

void rt_filter_free(rt_filter *f) {
    free(f->allow), free(f->bits), free(f->deny);
    memset(f, 0, sizeof *f);
}

/* The clauses of the SELECT and their arguments, in one order for the SQL and the cache key. */
typedef struct {
    rt_strbuf sql;
    const char **args;
    int n_args;
} select_text;

static void clause(select_text *t, const char *sql, const char *arg) {
    rt_strbuf_add(&t->sql, sql);
    t->args[t->n_args++] = arg;
}

static void build_select(const rt_memory_query *q, const char *outcome, const char *avoid, select_text *t) {
    t->args = rt_malloc((size_t)(8 + 2 * q->n_pins) * sizeof *t->args);
    t->n_args = 0;
    rt_strbuf_add(&t->sql, "SELECT seq FROM episodes WHERE 1");
    if (q->env) clause(t, " AND env=?", q->env);
    if (outcome) clause(t, " AND outcome=?", outcome);
    if (q->task_type) clause(t, " AND task_type=?", q->task_type);
    if (q->split) clause(t, " AND split=?", q->split);
    if (avoid) clause(t, " AND task_type IS NOT ?", avoid);
    if (q->tool && q->tool_version) {
        clause(t, " AND seq IN (SELECT episode FROM episode_tools WHERE tool=?", q->tool);
        clause(t, " AND version=?)", q->tool_version);
    } else if (q->tool) clause(t, " AND seq IN (SELECT episode FROM episode_tools WHERE tool=?)", q->tool);
    /* Stale experience: an episode that used a pinned tool at another version. */
    for (int i = 0; i < q->n_pins; i++) {
        clause(t, i == 0 ? " AND seq NOT IN (SELECT episode FROM episode_tools WHERE (tool=?" : " OR (tool=?", q->pin_tools[i]);
        clause(t, i == q->n_pins - 1 ? " AND version<>?))" : " AND version<>?)", q->pin_versions[i]);
    }
}

/* The cache key: the SQL (which says which filters are set) and every argument, unit-separated. */
static char *cache_key(const select_text *t) {
    rt_strbuf b = {0};
    rt_strbuf_add(&b, t->sql.buf);
    for (int i = 0; i < t->n_args; i++) {
        rt_strbuf_add(&b, "\x1f");
        rt_strbuf_add(&b, t->args[i]);
    }
    return b.buf;
}

static rt_status run_select(rt_memory *m, const select_text *t, rt_filter *f) {
    /* No ORDER BY: it would make SQLite walk an index in seq order and look every row up in the table
     * instead of reading the covering filter index. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(m->rdb, t->sql.buf, -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->rdb, "filtering episodes");
    for (int i = 0; i < t->n_args; i++) sqlite3_bind_text(st, i + 1, t->args[i], -1, SQLITE_STATIC);
    size_t cap = 256;
    f->allow = rt_malloc(cap * sizeof *f->allow);
    f->n_allow = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f->n_allow == cap) f->allow = rt_realloc(f->allow, (cap *= 2) * sizeof *f->allow);
        f->allow[f->n_allow++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    int64_t max = 0;
    for (size_t i = 0; i < f->n_allow; i++) max = f->allow[i] > max ? f->allow[i] : max;
    f->n_bits = max + 1;
    f->bits = rt_calloc((size_t)(f->n_bits + 63) / 64, sizeof *f->bits);
    for (size_t i = 0; i < f->n_allow; i++) f->bits[f->allow[i] >> 6] |= 1ull << (f->allow[i] & 63);
    return rc == SQLITE_DONE ? RT_OK : rt_sql_fail(m->rdb, "filtering episodes");
}

void rt_filter_cache_clear(rt_memory *m) {
    for (int i = 0; i < RT_FILTER_CACHE_SLOTS; i++) {
        rt_filter_cache *c = &m->filters[i];
        free(c->key), free(c->allow), free(c->bits);
        memset(c, 0, sizeof *c);
    }
}

static void copy_arrays(int64_t **allow, uint64_t **bits, const int64_t *a, size_t n_allow, const uint64_t *b, int64_t n_bits) {
    *allow = rt_malloc((n_allow ? n_allow : 1) * sizeof **allow);
    memcpy(*allow, a, n_allow * sizeof **allow);
    size_t words = (size_t)(n_bits + 63) / 64;
    *bits = rt_malloc((words ? words : 1) * sizeof **bits);
    memcpy(*bits, b, words * sizeof **bits);
}

/* The allow list, from the cache when the store has not changed since it was read. Under rlock. */
static rt_status load_allow_locked(rt_memory *m, const select_text *t, rt_filter *f) {
    /* The store's own state, read on the search connection (m->state belongs to the index and is
     * updated by a syncing writer without the read lock). */
    rt_index_state now;
    RT_TRY(rt_store_state(m->rdb, &now));
    char *key = cache_key(t);
    rt_filter_cache *hit = NULL, *victim = &m->filters[0];
    for (int i = 0; i < RT_FILTER_CACHE_SLOTS; i++) {
        rt_filter_cache *c = &m->filters[i];
        if (c->key && !strcmp(c->key, key) && c->state.generation == now.generation && c->state.max_seq == now.max_seq &&
            c->state.deletions == now.deletions)
            hit = c;
        if (!c->key || (victim->key && c->used < victim->used)) victim = c;
    }
    rt_status s = RT_OK;
    if (hit) {
        f->n_allow = hit->n_allow, f->n_bits = hit->n_bits;
        copy_arrays(&f->allow, &f->bits, hit->allow, hit->n_allow, hit->bits, hit->n_bits);
        hit->used = ++m->filter_clock;
        free(key);
    } else if ((s = run_select(m, t, f)) == RT_OK) {
        free(victim->key), free(victim->allow), free(victim->bits);
        *victim = (rt_filter_cache){.key = key, .state = now, .n_allow = f->n_allow, .n_bits = f->n_bits, .used = ++m->filter_clock};
        copy_arrays(&victim->allow, &victim->bits, f->allow, f->n_allow, f->bits, f->n_bits);
    } else {
        free(key);
    }
    return s;
}

/* The seqs of the query's own episode and of its task instance. Under rlock. */
static rt_status deny_exclusions(rt_memory *m, const rt_memory_query *q, rt_filter *f) {
    const char *sql[2] = {"SELECT seq FROM episodes WHERE id=?", "SELECT seq FROM episodes WHERE task=?"};
    const char *arg[2] = {q->exclude_id, q->exclude_task};
    for (int i = 0; i < 2; i++) {
        if (!arg[i]) continue;
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(m->rdb, sql[i], -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->rdb, "reading exclusions");
        sqlite3_bind_text(st, 1, arg[i], -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) rt_filter_drop(f, sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return rt_sql_fail(m->rdb, "reading exclusions");
    }
    return RT_OK;
}

rt_status rt_filter_load(rt_memory *m, const rt_memory_query *q, const char *outcome, int for_hits, rt_filter *f) {
    memset(f, 0, sizeof *f);
    f->n_pass = -1;
    const char *avoid = for_hits ? q->avoid_task_type : NULL;
    int selective = q->env || outcome || q->task_type || q->split || q->tool || avoid || q->n_pins > 0;
    rt_status s = RT_OK;
    pthread_mutex_lock(&m->rlock);
    if (selective) {
        select_text t = {0};
        build_select(q, outcome, avoid, &t);
        s = load_allow_locked(m, &t, f);
        free(t.sql.buf), free(t.args);
        f->n_pass = (int64_t)f->n_allow;
    }
    if (s == RT_OK) s = deny_exclusions(m, q, f);
    pthread_mutex_unlock(&m->rlock);
    if (s != RT_OK) rt_filter_free(f);
    return s;
}
