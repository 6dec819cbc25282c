/* h_memory.c: adding episodes and docs (one transaction per request, acknowledged only once
 * committed), and one episode by id (read, delete). Writes go through the server's writer lock. */
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

typedef struct {
    char **lines; /* each one JSON value on one line, as the store keeps it */
    int n;
    json_t *ids;  /* episode ids, or "tool@version" for docs */
    int successes; /* episodes with outcome "success" */
} body_lines;

static void lines_free(body_lines *b) {
    for (int i = 0; i < b->n; i++) free(b->lines[i]);
    free(b->lines);
    json_decref(b->ids);
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return 0;
    return 1;
}

/* Checks one value is the kind this endpoint takes; sets a 400 naming $[i] when it is not. */
static int check_kind(json_t *o, int i, int docs, body_lines *b, rt_reply *out) {
    json_t *ids = b->ids;
    if (!json_is_object(o)) return rt_reply_error(out, 400, "$[%d]: expected a JSON object", i), -1;
    json_t *steps = json_object_get(o, "steps");
    if (docs) {
        if (steps) return rt_reply_error(out, 400, "$[%d].steps: a doc has no steps (episodes go to /v1/episodes)", i), -1;
        const char *tool = json_string_value(json_object_get(o, "tool"));
        json_t *v = json_object_get(o, "version");
        char ver[128];
        if (!tool) return rt_reply_error(out, 400, "$[%d].tool: a doc needs a tool name (a string)", i), -1;
        if (!rt_version_text(v, ver, sizeof ver)) return rt_reply_error(out, 400, "$[%d].version: expected a string or a number", i), -1;
        if (!json_is_string(json_object_get(o, "text"))) return rt_reply_error(out, 400, "$[%d].text: a doc needs text (a string)", i), -1;
        json_array_append_new(ids, json_sprintf("%s@%s", tool, ver));
        return 0;
    }
    if (!json_is_array(steps)) return rt_reply_error(out, 400, "$[%d].steps: an episode needs a steps array (docs go to /v1/docs)", i), -1;
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!id) return rt_reply_error(out, 400, "$[%d].id: an episode needs an id (a string)", i), -1;
    json_array_append_new(ids, json_string(id));
    const char *oc = json_string_value(json_object_get(o, "outcome"));
    b->successes += oc && !strcmp(oc, "success");
    return 0;
}

/* The body as lines: JSON lines, or one JSON value over several lines (sent compact to the store). */
static int split_body(const rt_req *r, int docs, body_lines *b, rt_reply *out) {
    memset(b, 0, sizeof *b);
    b->ids = json_array();
    json_error_t e;
    json_t *whole = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (whole && !json_is_array(whole)) {
        int rc = check_kind(whole, 0, docs, b, out);
        /* One line is kept as sent (the store compares texts); a value over several lines is made one. */
        size_t end = r->len;
        while (end > 0 && blank(r->body + end - 1, 1)) end--;
        b->lines = rt_malloc(sizeof *b->lines);
        if (rc == 0 && !memchr(r->body, '\n', end)) b->lines[b->n] = rt_malloc(end + 1), memcpy(b->lines[b->n], r->body, end), b->lines[b->n++][end] = '\0';
        else if (rc == 0) b->lines[b->n++] = json_dumps(whole, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(whole);
        if (rc == 0 && !b->lines[0]) return rt_reply_error(out, 400, "$[0]: cannot be encoded"), -1;
        return rc;
    }
    json_decref(whole);
    int cap = 16, line_no = 0;
    b->lines = rt_malloc(sizeof *b->lines * (size_t)cap);
    for (size_t at = 0; at < r->len;) {
        const char *p = r->body + at, *nl = memchr(p, '\n', r->len - at);
        size_t n = nl ? (size_t)(nl - p) : r->len - at;
        at += n + 1;
        line_no++;
        if (blank(p, n)) continue;
        json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
        if (!o) return rt_reply_error(out, 400, "$[%d]: line %d is not valid JSON (column %d): %s", b->n, line_no, e.column, e.text), -1;
        int rc = check_kind(o, b->n, docs, b, out);
        json_decref(o);
        if (rc) return -1;
        if (b->n == cap) b->lines = rt_realloc(b->lines, sizeof *b->lines * (size_t)(cap *= 2));
        b->lines[b->n] = rt_malloc(n + 1);
        memcpy(b->lines[b->n], p, n), b->lines[b->n][n] = '\0';
        b->n++;
    }
    if (b->n == 0) return rt_reply_error(out, 400, "$: the body holds no %s", docs ? "doc" : "episode"), -1;
    return 0;
}

/* A boolean query parameter: true/1 or false/0 (absent: false); anything else is a 400. */
static int query_flag(struct MHD_Connection *c, const char *key, rt_reply *out) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v || !strcmp(v, "false") || !strcmp(v, "0")) return 0;
    if (!strcmp(v, "true") || !strcmp(v, "1")) return 1;
    rt_reply_error(out, 400, "?%s: expected true or false, not '%.40s'", key, v);
    return -1;
}

static void add_lines(rt_server *s, rt_req *r, int docs, rt_reply *out) {
    int replace = query_flag(r->conn, "replace", out);
    if (replace < 0) return;
    body_lines b;
    if (split_body(r, docs, &b, out)) return lines_free(&b);
    rt_memory_add_opts opts = {.replace = replace};
    rt_memory_add_stats st = {0};
    rt_memory_batch *batch = NULL;
    pthread_mutex_lock(&s->write_lock);
    rt_status rc = rt_memory_batch_begin(s->mem, &opts, &batch);
    for (int i = 0; rc == RT_OK && i < b.n; i++) {
        char where[32];
        snprintf(where, sizeof where, "$[%d]", i);
        rc = rt_memory_batch_add(batch, b.lines[i], where);
    }
    if (rc == RT_OK) rc = rt_memory_batch_commit(batch, &st);
    else if (batch) rt_memory_batch_abort(batch);
    pthread_mutex_unlock(&s->write_lock);
    /* New successes for the online loop: a batch's unchanged episodes are not new. */
    size_t fresh = st.episodes_added + st.episodes_replaced;
    if (rc == RT_OK && !docs) rt_retrain_note(s, (size_t)b.successes < fresh ? b.successes : (int)fresh);
    if (rc == RT_OK)
        rt_reply_json(out, 200, json_pack("{s:I, s:I, s:I, s:I, s:I, s:O}", "episodes_added", (json_int_t)st.episodes_added,
                                          "episodes_unchanged", (json_int_t)st.episodes_unchanged, "episodes_replaced",
                                          (json_int_t)st.episodes_replaced, "docs_added", (json_int_t)st.docs_added,
                                          "docs_unchanged", (json_int_t)st.docs_unchanged, "ids", b.ids));
    else if (rc == RT_ERR_ARG && strstr(rt_errmsg(), "already in the memory"))
        rt_reply_error(out, 409, "%s", rt_errmsg());
    else rt_reply_status(out, rc);
    lines_free(&b);
}

void rt_h_episodes_add(rt_server *s, rt_req *r, rt_reply *out) { add_lines(s, r, 0, out); }
void rt_h_docs_add(rt_server *s, rt_req *r, rt_reply *out) { add_lines(s, r, 1, out); }

void rt_h_episode_get(rt_server *s, rt_req *r, rt_reply *out) {
    char *json;
    rt_status rc = rt_memory_episode_get(s->mem, r->arg, &json);
    if (rc == RT_OK) rt_reply_text(out, 200, "application/json", json);
    else rt_reply_status(out, rc);
}

void rt_h_episode_delete(rt_server *s, rt_req *r, rt_reply *out) {
    pthread_mutex_lock(&s->write_lock);
    rt_status rc = rt_memory_episode_delete(s->mem, r->arg);
    pthread_mutex_unlock(&s->write_lock);
    if (rc == RT_OK) rt_reply_json(out, 200, json_pack("{s:s}", "deleted", r->arg));
    else rt_reply_status(out, rc);
}
