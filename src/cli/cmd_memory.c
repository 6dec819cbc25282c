/* cmd_memory.c: `retrace memory SUBCOMMAND`: init, add, search, docs, stats, check, rebuild, export. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_memory_summary[] = "the experience memory: init, add, search, docs, stats, check, rebuild, export, embed";

/* Each subcommand's synopsis and notes; `memory --help` prints them all, `memory SUB --help` its own. */
static const struct {
    const char *name, *help;
} SUBS_HELP[] = {
    {"init", "init DIR [--embedder hash|hash:DIM|MODEL_DIR] [--M N] [--ef-construction N] [--ef N]\n"},
    {"add", "add DIR FILE... [--skip-bad] [--replace]     episodes and docs as JSON lines ('-' is stdin)\n"},
    {"search",
     "search DIR QUERY [-k N] [--negatives N] [--weight W] [--where KEY=VALUE]... [--ef N] [--exact]\n"
     "         [--exclude ID] [--exclude-task TEXT] [--avoid-type TYPE] [--pin TOOL@VERSION]...\n"
     "         [--all-outcomes] [--episode FILE --last N] [--docs] [--json]\n"
     "      What the agent retrieves for the same query: hits are successes ranked by\n"
     "      score = (1-W)*similarity + W*reward (W 0.5, the agent's default), failures only the\n"
     "      --negatives; --all-outcomes ranks every outcome together instead. QUERY is the task;\n"
     "      --episode takes the task and steps from an episode's JSON (FILE or -), keys on the task plus\n"
     "      its last N steps (dynamic retrieval) and excludes the episode itself. --where keys: env,\n"
     "      outcome, task_type, split, tool (tool=NAME or tool=NAME@VERSION). --pin: a tool version in\n"
     "      force (an episode that used TOOL at another version is left out, as the agent does);\n"
     "      --exclude-task: no episode of this exact task; --avoid-type: no hit of this task type.\n"},
    {"docs", "docs DIR TOOL [--version V] [--json]        the newest doc of TOOL unless a version is given\n"},
    {"stats", "stats DIR [--json]\n"},
    {"check",
     "check DIR                                   SQLite integrity_check, the index against the store, and\n"
     "                                              how many index nodes no search can reach (0 normally)\n"},
    {"rebuild", "rebuild DIR                                 rebuild the index from the store\n"},
    {"export", "export DIR [-o FILE]                        every episode, then every doc, as added\n"},
    {"embed",
     "embed EMBEDDER [TEXT...] [--stdin] [--quiet] the vectors of an embedder (hash, hash:DIM, a model\n"
     "                                              directory or a stored spec) as JSON lines; --stdin\n"
     "                                              reads one text per line; --quiet: only the timing\n"},
};
#define N_SUBS (sizeof SUBS_HELP / sizeof SUBS_HELP[0])

static void usage(void) {
    printf("usage: retrace memory SUBCOMMAND DIR [options]   (retrace memory SUBCOMMAND --help)\n\n");
    for (size_t i = 0; i < N_SUBS; i++) printf("  %s", SUBS_HELP[i].help);
}

/* The subcommand being parsed, for its --help (rt_args_spec's usage takes no argument). */
static size_t g_sub;
static void sub_usage(void) { printf("usage: retrace memory %s", SUBS_HELP[g_sub].help); }

#define CMD "memory"

int rt_cli_memory_embed(int argc, char **argv); /* memory_embed.c */

/* Parses a subcommand's argv (argv[0] is its name) by its option table: "retrace memory SUB: ..." errors,
 * its own --help and the common options. */
int rt_cli_memory_args(const rt_arg *args, int min_pos, int max_pos, int argc, char **argv, const char **pos, int *n_pos);
int rt_cli_memory_args(const rt_arg *args, int min_pos, int max_pos, int argc, char **argv, const char **pos, int *n_pos) {
    char cmd[32];
    for (g_sub = 0; g_sub < N_SUBS && strcmp(SUBS_HELP[g_sub].name, argv[0]) != 0; g_sub++) {}
    snprintf(cmd, sizeof cmd, "memory %s", argv[0]);
    const rt_args_spec spec = {cmd, sub_usage, args, min_pos, max_pos, 0};
    return rt_args_parse(&spec, argc, argv, pos, n_pos);
}

/* ---- init ---- */
static int cmd_init(int argc, char **argv) {
    rt_memory_init_params p = rt_memory_init_params_default();
    const char *dir;
    const rt_arg args[] = {RT_ARG_S("--embedder", &p.embedder), RT_ARG_I32("--M", &p.M, 2, 128),
                           RT_ARG_I32("--ef-construction", &p.ef_construction, 1, 100000),
                           RT_ARG_I32("--ef", &p.ef_search, 1, 100000), RT_ARG_TABLE_END};
    int rc = rt_cli_memory_args(args, 1, 1, argc, argv, &dir, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (rt_memory_init(dir, &p) != RT_OK) return rt_cli_fail(CMD);
    rt_info("initialised memory %s (embedder %s)", dir, p.embedder);
    return RT_EXIT_OK;
}

/* ---- add ---- */
static int cmd_add(int argc, char **argv) {
    rt_memory_add_opts o = {0};
    const char **pos = rt_malloc((size_t)argc * sizeof *pos);
    const rt_arg args[] = {RT_ARG_B("--skip-bad", &o.skip_bad, 1), RT_ARG_B("--replace", &o.replace, 1), RT_ARG_TABLE_END};
    int n = 0, rc = rt_cli_memory_args(args, 0, argc, argc, argv, pos, &n);
    if (!rc && n < 2) rc = rt_cli_usage_error("memory add", "needs a directory and at least one file ('-' for stdin)");
    if (rc) {
        free(pos);
        return RT_ARGS_EXIT(rc);
    }
    const char *dir = pos[0], **files = pos + 1;
    n--;
    rt_memory *m;
    if (rt_memory_open(dir, RT_MEMORY_WRITE, &m) != RT_OK) {
        free(pos);
        return rt_cli_fail(CMD);
    }
    rt_memory_add_stats st;
    rt_status s = rt_memory_add_files(m, files, n, &o, &st);
    free(pos);
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    rt_info("added %lld episodes (%lld unchanged, %lld replaced), %lld docs (%lld unchanged), %lld lines skipped",
            (long long)st.episodes_added, (long long)st.episodes_unchanged, (long long)st.episodes_replaced,
            (long long)st.docs_added, (long long)st.docs_unchanged, (long long)st.lines_skipped);
    return RT_EXIT_OK;
}

/* ---- search ---- */
typedef struct {
    rt_memory_query q;
    const char *pin_tools[RT_MEMORY_MAX_PINS], *pin_versions[RT_MEMORY_MAX_PINS];
} search_opts;

/* --where KEY=VALUE (repeatable); the value is cut in place, argv being writable. */
static int parse_where(void *dst, const char *value) {
    rt_memory_query *q = &((search_opts *)dst)->q;
    char *kv = (char *)value, *eq = strchr(kv, '=');
    if (!eq) return rt_fail(RT_ERR_ARG, "'%s' is not KEY=VALUE", kv);
    *eq = '\0';
    char *v = eq + 1;
    if (strcmp(kv, "env") == 0) q->env = v;
    else if (strcmp(kv, "outcome") == 0) q->outcome = v;
    else if (strcmp(kv, "task_type") == 0) q->task_type = v;
    else if (strcmp(kv, "split") == 0) q->split = v;
    else if (strcmp(kv, "tool") == 0) {
        char *at = strchr(v, '@');
        if (at) *at = '\0', q->tool_version = at + 1;
        q->tool = v;
    } else return rt_fail(RT_ERR_ARG, "unknown key '%s' (env, outcome, task_type, split, tool)", kv);
    return 0;
}

static json_t *hit_json(const rt_memory_hit *h, double w) {
    json_t *ep = json_loads(h->json, 0, NULL);
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:f, s:f, s:f, s:f, s:o}", "id", h->id, "env", h->env, "task", h->task,
                     "task_type", h->task_type, "outcome", h->outcome, "score", h->score, "similarity", h->similarity,
                     "reward", h->reward, "weight", w, "episode", ep ? ep : json_null());
}

static void print_hits_text(const char *title, const rt_memory_hit *h, int n, double w) {
    printf("%s\n", title);
    for (int i = 0; i < n; i++)
        printf("%2d. %-24s score %.4f = (1-%.2f)*sim %.4f + %.2f*reward %.2f  [%s, %s]  %s\n", i + 1, h[i].id, h[i].score, w,
               h[i].similarity, w, h[i].reward, h[i].env, h[i].outcome, h[i].task);
}

static int read_episode_key(const char *path, int last, char **key, char **own_id) {
    char *text;
    size_t len;
    rt_status s;
    if (strcmp(path, "-") == 0) {
        size_t cap = 4096;
        text = malloc(cap);
        len = 0;
        size_t got;
        while ((got = fread(text + len, 1, cap - len - 1, stdin)) > 0)
            if ((len += got) + 1 == cap) text = realloc(text, cap *= 2);
        text[len] = '\0';
        s = RT_OK;
    } else s = rt_file_read(path, &text, &len);
    if (s != RT_OK) return rt_cli_fail(CMD);
    s = rt_memory_state_from_json(text, last, key);
    json_t *o = s == RT_OK ? json_loads(text, 0, NULL) : NULL;
    const char *id = o ? json_string_value(json_object_get(o, "id")) : NULL;
    *own_id = id ? strdup(id) : NULL;
    json_decref(o);
    free(text);
    if (s != RT_OK) return rt_fail_context(s, "%s", path), rt_cli_fail(CMD);
    return RT_EXIT_OK;
}

/* --pin TOOL@VERSION (repeatable): appended to the query's pinned tool versions. */
static int parse_pin(void *dst, const char *value) {
    search_opts *o = dst;
    char *tv = (char *)value, *at = strrchr(tv, '@');
    if (!at || at == tv || !at[1]) return rt_fail(RT_ERR_ARG, "'%s' is not TOOL@VERSION", tv);
    if (o->q.n_pins == RT_MEMORY_MAX_PINS) return rt_fail(RT_ERR_ARG, "at most %d", RT_MEMORY_MAX_PINS);
    *at = '\0';
    o->pin_tools[o->q.n_pins] = tv, o->pin_versions[o->q.n_pins++] = at + 1;
    return 0;
}

static int cmd_search(int argc, char **argv) {
    search_opts so = {.q = rt_memory_query_default()};
    rt_memory_query q;
    const char *pos[2] = {NULL, NULL}, *episode = NULL;
    int as_json = 0, with_docs = 0, last = 3, n_pos = 0;
    const rt_arg args[] = {RT_ARG_I32("-k", &so.q.k, 1, 10000), RT_ARG_I32("--negatives", &so.q.negatives, 0, 10000),
                           RT_ARG_I32("--ef", &so.q.ef, 1, 100000), RT_ARG_I32("--last", &last, 0, 1000),
                           RT_ARG_F("--weight", &so.q.weight, 0, 1), RT_ARG_CALL("--where", parse_where, &so),
                           RT_ARG_CALL("--pin", parse_pin, &so), RT_ARG_S("--exclude", &so.q.exclude_id),
                           RT_ARG_S("--exclude-task", &so.q.exclude_task), RT_ARG_S("--avoid-type", &so.q.avoid_task_type),
                           RT_ARG_B("--all-outcomes", &so.q.all_outcomes, 1), RT_ARG_S("--episode", &episode),
                           RT_ARG_B("--exact", &so.q.exact, 1), RT_ARG_B("--json", &as_json, 1),
                           RT_ARG_B("--docs", &with_docs, 1), RT_ARG_TABLE_END};
    int rc = rt_cli_memory_args(args, 0, 2, argc, argv, pos, &n_pos);
    if (rc) return RT_ARGS_EXIT(rc);
    q = so.q;
    q.pin_tools = so.pin_tools, q.pin_versions = so.pin_versions;
    const char *dir = pos[0], *query = pos[1];
    if (!dir || (!query && !episode)) return rt_cli_usage_error("memory search", "needs a directory and a query (or --episode)");
    if (query && episode) return rt_cli_usage_error("memory search", "give a query or --episode, not both");
    char *key = NULL, *own_id = NULL;
    if (episode) {
        rc = read_episode_key(episode, last, &key, &own_id);
        if (rc) return rc;
        if (!q.exclude_id) q.exclude_id = own_id;
    } else key = rt_memory_state_text(query, NULL, 0, 0);
    rt_memory *m;
    rt_memory_results r;
    rt_memory_doc *docs = NULL;
    int n_docs = 0;
    rt_status s = rt_memory_open(dir, RT_MEMORY_READ, &m);
    if (s == RT_OK) {
        s = rt_memory_search(m, key, &q, &r);
        /* The docs the agent gets: at the pinned versions, when there are pins. */
        if (s == RT_OK && with_docs && q.n_pins > 0)
            s = rt_memory_docs_at(m, key, &r, q.pin_tools, q.pin_versions, q.n_pins, &docs, &n_docs);
        else if (s == RT_OK && with_docs) s = rt_memory_docs_for(m, key, &r, &docs, &n_docs);
        if (s != RT_OK) rt_memory_results_free(&r);
        rt_memory_close(m);
    }
    if (s != RT_OK) {
        free(key), free(own_id);
        return rt_cli_fail(CMD);
    }
    if (as_json) {
        json_t *hits = json_array(), *negs = json_array(), *jd = json_array();
        for (int i = 0; i < r.n_hits; i++) json_array_append_new(hits, hit_json(&r.hits[i], r.weight));
        for (int i = 0; i < r.n_negatives; i++) json_array_append_new(negs, hit_json(&r.negatives[i], 0.0));
        for (int i = 0; i < n_docs; i++)
            json_array_append_new(jd, json_pack("{s:s, s:s, s:s}", "tool", docs[i].tool, "version", docs[i].version, "text", docs[i].text));
        json_t *o = json_pack("{s:s, s:f, s:o, s:o}", "key", key, "weight", r.weight, "hits", hits, "negatives", negs);
        if (with_docs) json_object_set_new(o, "docs", jd);
        else json_decref(jd);
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        print_hits_text(q.all_outcomes || q.outcome ? "hits:" : "hits (successes):", r.hits, r.n_hits, r.weight);
        if (q.negatives > 0) print_hits_text("negatives (similar failures):", r.negatives, r.n_negatives, 0.0);
        for (int i = 0; i < n_docs; i++) printf("doc %s v%s: %s\n", docs[i].tool, docs[i].version, docs[i].text);
    }
    rt_memory_docs_free(docs, n_docs);
    rt_memory_results_free(&r);
    free(key), free(own_id);
    return RT_EXIT_OK;
}

/* ---- docs ---- */
static int cmd_docs(int argc, char **argv) {
    const char *pos[2], *version = NULL;
    int as_json = 0;
    const rt_arg args[] = {RT_ARG_S("--version", &version), RT_ARG_B("--json", &as_json, 1), RT_ARG_TABLE_END};
    int rc = rt_cli_memory_args(args, 2, 2, argc, argv, pos, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    const char *dir = pos[0], *tool = pos[1];
    rt_memory *m;
    if (rt_memory_open(dir, RT_MEMORY_READ, &m) != RT_OK) return rt_cli_fail(CMD);
    rt_memory_doc d;
    rt_status s = rt_memory_doc_get(m, tool, version, &d);
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    if (as_json) printf("%s\n", d.json);
    else printf("%s %s\n%s\n", d.tool, d.version, d.text);
    rt_memory_doc_free(&d);
    return RT_EXIT_OK;
}

/* ---- stats, check, rebuild, export ---- */
static int open_one(int argc, char **argv, rt_memory_mode mode, int *as_json, const char **out_path, rt_memory **m) {
    const char *dir;
    rt_arg args[3] = {RT_ARG_TABLE_END, RT_ARG_TABLE_END, RT_ARG_TABLE_END}, *a = args;
    if (as_json) *a++ = (rt_arg)RT_ARG_B("--json", as_json, 1);
    if (out_path) *a++ = (rt_arg)RT_ARG_S("-o|--output", out_path);
    int rc = rt_cli_memory_args(args, 1, 1, argc, argv, &dir, NULL);
    if (rc) return rc; /* RT_ARGS_HELP too: the caller returns RT_ARGS_EXIT(rc) */
    if (rt_memory_open(dir, mode, m) != RT_OK) return rt_cli_fail(CMD);
    return RT_EXIT_OK;
}

static int cmd_stats(int argc, char **argv) {
    int as_json = 0;
    rt_memory *m;
    int rc = open_one(argc, argv, RT_MEMORY_READ, &as_json, NULL, &m);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_memory_stats st;
    rt_status s = rt_memory_get_stats(m, &st);
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    if (as_json) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i, s:i, s:I}", "episodes", (json_int_t)st.episodes,
                              "successes", (json_int_t)st.successes, "failures", (json_int_t)st.failures, "steps", (json_int_t)st.steps,
                              "docs", (json_int_t)st.docs, "tools", (json_int_t)st.tools, "index_vectors", (json_int_t)st.index_vectors,
                              "index_bytes", (json_int_t)st.index_bytes, "db_bytes", (json_int_t)st.db_bytes, "embedder", st.embedder,
                              "dim", st.dim, "format_version", st.format_version, "generation", (json_int_t)st.generation);
        char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", t);
        free(t);
        json_decref(o);
    } else {
        printf("episodes   %lld (%lld successes, %lld failures), %lld steps\n", (long long)st.episodes, (long long)st.successes,
               (long long)st.failures, (long long)st.steps);
        printf("docs       %lld for %lld tools\n", (long long)st.docs, (long long)st.tools);
        printf("embedder   %s (dim %d)\n", st.embedder, st.dim);
        printf("index      %lld vectors, %zu bytes on disk\n", (long long)st.index_vectors, st.index_bytes);
        printf("store      %zu bytes, format %d, generation %llu\n", st.db_bytes, st.format_version, (unsigned long long)st.generation);
    }
    return RT_EXIT_OK;
}

static int cmd_check(int argc, char **argv) {
    rt_memory *m;
    int rc = open_one(argc, argv, RT_MEMORY_READ, NULL, NULL, &m);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_status s = rt_memory_check(m);
    int64_t n = rt_hnsw_count(rt_memory_index(m));
    /* Nodes no search can return, whatever its ef: 0 unless the file was written by an older build. */
    rt_hnsw_connectivity_stats c;
    rt_hnsw_connectivity(rt_memory_index(m), &c);
    rt_memory_close(m);
    printf("unreachable: %lld of %lld index nodes cannot be reached from the entry point%s\n", (long long)c.unreachable,
           (long long)n, c.unreachable ? " ('retrace memory rebuild' fixes this)" : "");
    if (s != RT_OK) return rt_cli_fail(CMD);
    printf("ok: integrity_check passed, index agrees with the store (%lld vectors)\n", (long long)n);
    return RT_EXIT_OK;
}

static int cmd_rebuild(int argc, char **argv) {
    rt_memory *m;
    int rc = open_one(argc, argv, RT_MEMORY_WRITE, NULL, NULL, &m);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_status s = rt_memory_rebuild(m);
    int64_t n = rt_hnsw_count(rt_memory_index(m));
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    rt_info("rebuilt the index: %lld vectors", (long long)n);
    return RT_EXIT_OK;
}

static int cmd_export(int argc, char **argv) {
    rt_memory *m;
    const char *path = NULL;
    int rc = open_one(argc, argv, RT_MEMORY_READ, NULL, &path, &m);
    if (rc) return RT_ARGS_EXIT(rc);
    FILE *out = path && strcmp(path, "-") != 0 ? fopen(path, "wb") : stdout;
    if (!out) {
        rt_memory_close(m);
        return rt_cli_usage_error(CMD, "export: cannot write %s", path);
    }
    int64_t n;
    rt_status s = rt_memory_export(m, out, &n);
    if (out != stdout && fclose(out) != 0 && s == RT_OK) s = rt_fail(RT_ERR_IO, "%s: write failed", path);
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    return RT_EXIT_OK;
}

int rt_cmd_memory(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"init", cmd_init},   {"add", cmd_add},     {"search", cmd_search},   {"docs", cmd_docs},
                {"stats", cmd_stats}, {"check", cmd_check}, {"rebuild", cmd_rebuild}, {"export", cmd_export},
                {"embed", rt_cli_memory_embed}};
    /* The group's own options (--help) come before the subcommand; the subcommand's after it. */
    if (argc < 2 || argv[1][0] == '-') {
        const rt_arg none[] = {RT_ARG_TABLE_END};
        const rt_args_spec group = {CMD, usage, none, 0, 0, 0};
        int rc = rt_args_parse(&group, argc, argv, NULL, NULL);
        if (rc) return RT_ARGS_EXIT(rc);
        return rt_cli_usage_error(CMD, "missing the subcommand: init, add, search, docs, stats, check, rebuild, export, "
                                       "embed (retrace memory --help)");
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    return rt_cli_usage_error(CMD, "unknown subcommand '%s' (init, add, search, docs, stats, check, rebuild, export, embed)",
                              argv[1]);
}
