/* docs.c: tool documentation by version. The newest version wins unless one is asked for; versions
 * compare naturally ("1.10" after "1.9"), so "2" and "v2" style names both order as people expect. */
#include "memory/memory_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int rt_version_cmp(const char *a, const char *b) {
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la])) la++;
            while (isdigit((unsigned char)b[lb])) lb++;
            if (la != lb) return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c) return c < 0 ? -1 : 1;
            a += la, b += lb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++, b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? rt_strdup((const char *)t) : NULL;
}

static rt_status doc_get_locked(rt_memory *m, const char *tool, const char *version, rt_memory_doc *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    const char *sql = version ? "SELECT tool, version, text, json FROM docs WHERE tool=? AND version=?"
                              : "SELECT tool, version, text, json FROM docs WHERE tool=?";
    if (sqlite3_prepare_v2(m->rdb, sql, -1, &st, NULL) != SQLITE_OK) return rt_sql_fail(m->rdb, "reading docs");
    sqlite3_bind_text(st, 1, tool, -1, SQLITE_STATIC);
    if (version) sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (out->version && rt_version_cmp(v, out->version) <= 0) continue;
        rt_memory_doc_free(out);
        out->tool = col_dup(st, 0), out->version = col_dup(st, 1), out->text = col_dup(st, 2), out->json = col_dup(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rt_memory_doc_free(out);
        return rt_sql_fail(m->rdb, "reading docs");
    }
    if (!out->tool) {
        if (version) return rt_fail(RT_ERR_NOT_FOUND, "%s: no doc for tool '%s' version '%s'", m->dir, tool, version);
        return rt_fail(RT_ERR_NOT_FOUND, "%s: no doc for tool '%s'", m->dir, tool);
    }
    return RT_OK;
}

rt_status rt_memory_doc_get(rt_memory *m, const char *tool, const char *version, rt_memory_doc *out) {
    pthread_mutex_lock(&m->rlock);
    rt_status s = doc_get_locked(m, tool, version, out);
    pthread_mutex_unlock(&m->rlock);
    return s;
}

void rt_memory_doc_free(rt_memory_doc *d) {
    free(d->tool), free(d->version), free(d->text), free(d->json);
    memset(d, 0, sizeof *d);
}

void rt_memory_docs_free(rt_memory_doc *docs, int n) {
    for (int i = 0; i < n; i++) rt_memory_doc_free(&docs[i]);
    free(docs);
}

/* True when `word` occurs in `text` delimited by non-word characters (case-insensitive). */
static int names_word(const char *text, const char *word) {
    size_t n = strlen(word);
    if (!text || n == 0) return 0;
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, n) != 0) continue;
        int before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after) return 1;
    }
    return 0;
}

static int have_doc(const rt_memory_doc *docs, int n, const char *tool) {
    for (int i = 0; i < n; i++)
        if (strcmp(docs[i].tool, tool) == 0) return 1;
    return 0;
}

/* The newest version of `tool` any hit used (NULL when no hit names it). */
static char *hit_version(rt_memory *m, const rt_memory_results *r, const char *tool) {
    char *best = NULL;
    for (int i = 0; r && i < r->n_hits; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(m->rdb, "SELECT version FROM episode_tools WHERE episode=? AND tool=?", -1, &st, NULL) != SQLITE_OK) continue;
        sqlite3_bind_int64(st, 1, r->hits[i].rowid);
        sqlite3_bind_text(st, 2, tool, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(st, 0);
            if (!best || rt_version_cmp(v, best) > 0) {
                free(best);
                best = rt_strdup(v);
            }
        }
        sqlite3_finalize(st);
    }
    return best;
}

/* The pinned version of `tool`, or NULL. */
static const char *pinned(const char *const *tools, const char *const *versions, int n, const char *tool) {
    for (int i = 0; i < n; i++)
        if (strcmp(tools[i], tool) == 0) return versions[i];
    return NULL;
}

rt_status rt_memory_docs_for(rt_memory *m, const char *text, const rt_memory_results *r, rt_memory_doc **out, int *n_out) {
    return rt_memory_docs_at(m, text, r, NULL, NULL, 0, out, n_out);
}

rt_status rt_memory_docs_at(rt_memory *m, const char *text, const rt_memory_results *r, const char *const *tools,
                            const char *const *versions, int n_pinned, rt_memory_doc **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&m->rlock);
    sqlite3_stmt *st;
    rt_status s = RT_OK;
    if (sqlite3_prepare_v2(m->rdb, "SELECT DISTINCT tool FROM docs ORDER BY tool", -1, &st, NULL) != SQLITE_OK)
        s = rt_sql_fail(m->rdb, "listing doc tools");
    int n = 0, cap = 0;
    rt_memory_doc *docs = NULL;
    while (s == RT_OK && sqlite3_step(st) == SQLITE_ROW) {
        char *tool = col_dup(st, 0);
        const char *pin = pinned(tools, versions, n_pinned, tool);
        /* with the versions in force known, a tool that is not among them does not exist here (and the
         * hits are not asked about it) */
        char *version = n_pinned == 0 || pin ? hit_version(m, r, tool) : NULL;
        int wanted = (n_pinned == 0 || pin) && (version || names_word(text, tool));
        if (wanted && !have_doc(docs, n, tool)) {
            rt_memory_doc d;
            /* The version in force when the caller knows it (a pinned version without a doc gives no
             * doc: another version's signature would mislead); otherwise the current (newest) one,
             * whichever one the hit used: tools drift, and the agent acts against today's API. */
            rt_status ds = doc_get_locked(m, tool, pin, &d);
            if (ds == RT_OK) {
                if (n == cap) docs = rt_realloc(docs, (size_t)(cap = cap ? 2 * cap : 8) * sizeof *docs);
                docs[n++] = d;
            } else if (ds != RT_ERR_NOT_FOUND) s = ds;
        }
        free(tool);
        free(version);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&m->rlock);
    if (s != RT_OK) {
        rt_memory_docs_free(docs, n);
        return s;
    }
    *out = docs;
    *n_out = n;
    return RT_OK;
}
