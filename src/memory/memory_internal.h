/* memory_internal.h: the memory object and helpers shared by the store's files (private). */
#ifndef RT_MEMORY_INTERNAL_H
#define RT_MEMORY_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "retrace/memory.h"

#define RT_MEMORY_FORMAT_VERSION 1
#define RT_MEMORY_DB_NAME "memory.db"
#define RT_MEMORY_INDEX_NAME "index.hnsw"
#define RT_MEMORY_LOCK_NAME "index.lock"
#define RT_MEMORY_BUSY_TIMEOUT_MS 10000

/* The store state an index file reflects; stored in the file's tag. */
typedef struct {
    char uuid[33];      /* the store's identity, so an index from another memory is never used */
    uint64_t generation; /* bumped by every write transaction */
    int64_t max_seq;     /* the newest episode seq the index holds */
    int64_t deletions;   /* how many entries of the deletions log the index has applied */
} rt_index_state;

/* The episodes passing one filter, as of one store state: searches reuse it instead of reading SQLite
 * again (the scan is linear in the memory; an agent asks the same two filters every step). */
typedef struct {
    char *key;           /* the filter's values, NUL-separated into one string; NULL = empty slot */
    rt_index_state state;
    int64_t *allow;
    size_t n_allow;
    uint64_t *bits;
    int64_t n_bits;
    uint64_t used;       /* for least-recently-used eviction */
} rt_filter_cache;

#define RT_FILTER_CACHE_SLOTS 8 /* the dataset builder alternates a few (pins and avoided types) */

struct rt_memory {
    char *dir, *db_path, *index_path, *lock_path;
    rt_memory_mode mode;
    sqlite3 *db;            /* writes and index maintenance */
    sqlite3 *rdb;           /* reads by searching threads, outside any write transaction */
    pthread_mutex_t rlock;  /* serialises use of rdb */
    pthread_rwlock_t swap_lock; /* searches hold it shared; replacing m->index holds it exclusively */
    rt_embedder *emb;
    rt_hnsw *index;
    rt_index_state state;
    char uuid[33];
    int dim, M, ef_construction, ef_search;
    rt_filter_cache filters[RT_FILTER_CACHE_SLOTS]; /* under rlock */
    uint64_t filter_clock;
};

/* The episodes one query may return (filter.c). */
typedef struct {
    int64_t *allow;  /* the passing seqs, in no order (some may be dropped since); NULL = every episode */
    size_t n_allow;
    uint64_t *bits;  /* the passing seqs as a bitmap: what rt_filter_accept tests */
    int64_t n_bits;
    int64_t *deny;   /* without an allow list: the seqs excluded */
    int n_deny;
    int64_t n_pass;  /* how many pass (-1 without an allow list: all but the denied) */
} rt_filter;

/* Reads the seqs passing the query's filters with `outcome` in place of its own (NULL: any), the avoided
 * task type applying when for_hits, less its exclusions (exclude_id, exclude_task). */
rt_status rt_filter_load(rt_memory *m, const rt_memory_query *q, const char *outcome, int for_hits, rt_filter *f);
int rt_filter_accept(int64_t label, void *ctx); /* ctx is an rt_filter */
void rt_filter_drop(rt_filter *f, int64_t seq);
void rt_filter_free(rt_filter *f);
/* Frees the cached filter results. */
void rt_filter_cache_clear(rt_memory *m);

/* A parsed input line. */
typedef struct {
    int is_doc;
    char *json; /* the line as given (trailing whitespace removed) */
    /* episode */
    char *id, *env, *task, *task_type, *split, *outcome;
    double reward;
    int n_steps;
    rt_memory_step *steps;
    char **step_text; /* owned strings behind steps[] */
    int n_tools;
    char **tools, **tool_versions;
    /* doc */
    char *tool, *version, *text;
} rt_record;

rt_status rt_record_parse(const char *line, const char *where, rt_record *out);
void rt_record_free(rt_record *r);

/* SQLite helpers: the error names the database file and the failing statement's message. */
rt_status rt_sql_fail(sqlite3 *db, const char *what);
rt_status rt_sql_exec(sqlite3 *db, const char *sql);
rt_status rt_sql_open(const char *path, int flags, sqlite3 **out);
rt_status rt_meta_get(sqlite3 *db, const char *key, char **out);
rt_status rt_meta_get_int(sqlite3 *db, const char *key, int64_t *out);
rt_status rt_meta_set(sqlite3 *db, const char *key, const char *value);
rt_status rt_meta_set_int(sqlite3 *db, const char *key, int64_t value);
/* Reads generation, max episode seq and deletion count in one read transaction. */
rt_status rt_store_state(sqlite3 *db, rt_index_state *out);
/* The same inside a transaction the caller holds. */
rt_status rt_store_state_locked(sqlite3 *db, rt_index_state *out);

/* Index maintenance (index_sync.c). */
rt_status rt_index_open(rt_memory *m);
rt_status rt_index_sync(rt_memory *m, int save);
rt_status rt_index_rebuild(rt_memory *m, int save);

#endif
