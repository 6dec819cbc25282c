/* cmd_memory.c: `retrace memory SUBCOMMAND`: init, add, search, docs, stats, check, rebuild, export. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_memory_summary[] = "the experience memory: init, add, search, docs, stats, check, rebuild, export, embed";

static const char USAGE[] =
    "usage: retrace memory SUBCOMMAND DIR [options]\n\n"
    "  init DIR [--embedder hash|hash:DIM|MODEL_DIR] [--M N] [--ef-construction N] [--ef N]\n"
    "  add DIR FILE... [--skip-bad] [--replace]     episodes and docs as JSON lines ('-' is stdin)\n"
    "  search DIR QUERY [-k N] [--negatives N] [--weight W] [--where KEY=VALUE]... [--ef N] [--exact]\n"
    "         [--exclude ID] [--exclude-task TEXT] [--avoid-type TYPE] [--pin TOOL@VERSION]...\n"
    "         [--all-outcomes] [--episode FILE --last N] [--docs] [--json]\n"
    "      What the agent retrieves for the same query: hits are successes ranked by\n"
    "      score = (1-W)*similarity + W*reward (W 0.5, the agent's default), failures only the\n"
    "      --negatives; --all-outcomes ranks every outcome together instead. QUERY is the task;\n"
    "      --episode takes the task and steps from an episode's JSON (FILE or -), keys on the task plus\n"
    "      its last N steps (dynamic retrieval) and excludes the episode itself. --where keys: env,\n"
    "      outcome, task_type, split, tool (tool=NAME or tool=NAME@VERSION). --pin: a tool version in\n"
    "      force (an episode that used TOOL at another version is left out, as the agent does);\n"
    "      --exclude-task: no episode of this exact task; --avoid-type: no hit of this task type.\n"
    "  docs DIR TOOL [--version V] [--json]        the newest doc of TOOL unless a version is given\n"
    "  stats DIR [--json]\n"
    "  check DIR                                   SQLite integrity_check, the index against the store, and\n"
    "                                              how many index nodes no search can reach (0 normally)\n"
    "  rebuild DIR                                 rebuild the index from the store\n"
    "  export DIR [-o FILE]                        every episode, then every doc, as added\n"
    "  embed EMBEDDER [TEXT...] [--stdin] [--quiet] the vectors of an embedder (hash, hash:DIM, a model\n"
    "                                              directory or a stored spec) as JSON lines; --stdin\n"
    "                                              reads one text per line\n";

#define CMD "memory"

int rt_cli_memory_embed(int argc, char **argv); /* memory_embed.c */

static int need_value(int i, int argc, const char *opt) {
    if (i + 1 >= argc) return rt_cli_usage_error(CMD, "%s needs a value", opt);
    return RT_EXIT_OK;
}

static int parse_int_opt(const char *opt, const char *val, int lo, int hi, int *out) {
    long long v;
    if (rt_cli_parse_int(CMD, opt, val, &v) != RT_EXIT_OK) return RT_EXIT_USAGE;
    if (v < lo || v > hi) return rt_cli_usage_error(CMD, "%s: %lld is outside %d..%d", opt, v, lo, hi);
    *out = (int)v;
    return RT_EXIT_OK;
}

/* ---- init ---- */
static int cmd_init(int argc, char **argv) {
    rt_memory_init_params p = rt_memory_init_params_default();
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--embedder") == 0 || strcmp(a, "--M") == 0 || strcmp(a, "--ef-construction") == 0 || strcmp(a, "--ef") == 0) &&
            need_value(i, argc, a))
            return RT_EXIT_USAGE;
        if (strcmp(a, "--embedder") == 0) p.embedder = argv[++i];
        else if (strcmp(a, "--M") == 0) {
            if (parse_int_opt(a, argv[++i], 2, 128, &p.M)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--ef-construction") == 0) {
            if (parse_int_opt(a, argv[++i], 1, 100000, &p.ef_construction)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--ef") == 0) {
            if (parse_int_opt(a, argv[++i], 1, 100000, &p.ef_search)) return RT_EXIT_USAGE;
        } else if (a[0] == '-') return rt_cli_usage_error(CMD, "init: unknown option '%s'", a);
        else if (!dir) dir = a;
        else return rt_cli_usage_error(CMD, "init: unexpected argument '%s'", a);
    }
    if (!dir) return rt_cli_usage_error(CMD, "init needs a directory");
    if (rt_memory_init(dir, &p) != RT_OK) return rt_cli_fail(CMD);
    fprintf(stderr, "initialised memory %s (embedder %s)\n", dir, p.embedder);
    return RT_EXIT_OK;
}

/* ---- add ---- */
static int cmd_add(int argc, char **argv) {
    rt_memory_add_opts o = {0};
    const char *dir = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--skip-bad") == 0) o.skip_bad = 1;
        else if (strcmp(argv[i], "--replace") == 0) o.replace = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            free(files);
            return rt_cli_usage_error(CMD, "add: unknown option '%s'", argv[i]);
        } else if (!dir) dir = argv[i];
        else files[n++] = argv[i];
    }
    if (!dir || n == 0) {
        free(files);
        return rt_cli_usage_error(CMD, "add needs a directory and at least one file ('-' for stdin)");
    }
    rt_memory *m;
    if (rt_memory_open(dir, RT_MEMORY_WRITE, &m) != RT_OK) {
        free(files);
        return rt_cli_fail(CMD);
    }
    rt_memory_add_stats st;
    rt_status s = rt_memory_add_files(m, files, n, &o, &st);
    free(files);
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    fprintf(stderr, "added %lld episodes (%lld unchanged, %lld replaced), %lld docs (%lld unchanged), %lld lines skipped\n",
            (long long)st.episodes_added, (long long)st.episodes_unchanged, (long long)st.episodes_replaced,
            (long long)st.docs_added, (long long)st.docs_unchanged, (long long)st.lines_skipped);
    return RT_EXIT_OK;
}

/* ---- search ---- */
static int parse_where(char *kv, rt_memory_query *q) {
    char *eq = strchr(kv, '=');
    if (!eq) return rt_cli_usage_error(CMD, "--where: '%s' is not KEY=VALUE", kv);
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
    } else return rt_cli_usage_error(CMD, "--where: unknown key '%s' (env, outcome, task_type, split, tool)", kv);
    return RT_EXIT_OK;
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

/* --pin TOOL@VERSION: appended to the query's pinned tool versions. */
static int parse_pin(char *tv, const char **tools, const char **versions, rt_memory_query *q) {
    char *at = strrchr(tv, '@');
    if (!at || at == tv || !at[1]) return rt_cli_usage_error(CMD, "--pin: '%s' is not TOOL@VERSION", tv);
    if (q->n_pins == RT_MEMORY_MAX_PINS) return rt_cli_usage_error(CMD, "--pin: at most %d", RT_MEMORY_MAX_PINS);
    *at = '\0';
    tools[q->n_pins] = tv, versions[q->n_pins++] = at + 1;
    return RT_EXIT_OK;
}

static int cmd_search(int argc, char **argv) {
    rt_memory_query q = rt_memory_query_default();
    const char *dir = NULL, *query = NULL, *episode = NULL;
    const char *pin_tools[RT_MEMORY_MAX_PINS], *pin_versions[RT_MEMORY_MAX_PINS];
    q.pin_tools = pin_tools, q.pin_versions = pin_versions;
    int as_json = 0, with_docs = 0, last = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = strcmp(a, "-k") == 0 || strcmp(a, "--negatives") == 0 || strcmp(a, "--weight") == 0 ||
                    strcmp(a, "--where") == 0 || strcmp(a, "--ef") == 0 || strcmp(a, "--exclude") == 0 ||
                    strcmp(a, "--episode") == 0 || strcmp(a, "--last") == 0 || strcmp(a, "--exclude-task") == 0 ||
                    strcmp(a, "--avoid-type") == 0 || strcmp(a, "--pin") == 0;
        if (takes && need_value(i, argc, a)) return RT_EXIT_USAGE;
        double w;
        if (strcmp(a, "-k") == 0) {
            if (parse_int_opt(a, argv[++i], 1, 10000, &q.k)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--negatives") == 0) {
            if (parse_int_opt(a, argv[++i], 0, 10000, &q.negatives)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--ef") == 0) {
            if (parse_int_opt(a, argv[++i], 1, 100000, &q.ef)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--last") == 0) {
            if (parse_int_opt(a, argv[++i], 0, 1000, &last)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--weight") == 0) {
            if (rt_cli_parse_float(CMD, a, argv[++i], &w) != RT_EXIT_OK) return RT_EXIT_USAGE;
            if (!(w >= 0 && w <= 1)) return rt_cli_usage_error(CMD, "--weight: %g is outside 0..1", w);
            q.weight = w;
        } else if (strcmp(a, "--where") == 0) {
            if (parse_where(argv[++i], &q)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--pin") == 0) {
            if (parse_pin(argv[++i], pin_tools, pin_versions, &q)) return RT_EXIT_USAGE;
        } else if (strcmp(a, "--exclude") == 0) q.exclude_id = argv[++i];
        else if (strcmp(a, "--exclude-task") == 0) q.exclude_task = argv[++i];
        else if (strcmp(a, "--avoid-type") == 0) q.avoid_task_type = argv[++i];
        else if (strcmp(a, "--all-outcomes") == 0) q.all_outcomes = 1;
        else if (strcmp(a, "--episode") == 0) episode = argv[++i];
        else if (strcmp(a, "--exact") == 0) q.exact = 1;
        else if (strcmp(a, "--json") == 0) as_json = 1;
        else if (strcmp(a, "--docs") == 0) with_docs = 1;
        else if (a[0] == '-' && a[1] != '\0') return rt_cli_usage_error(CMD, "search: unknown option '%s'", a);
        else if (!dir) dir = a;
        else if (!query) query = a;
        else return rt_cli_usage_error(CMD, "search: unexpected argument '%s' (quote the query)", a);
    }
    if (!dir || (!query && !episode)) return rt_cli_usage_error(CMD, "search needs a directory and a query (or --episode)");
    if (query && episode) return rt_cli_usage_error(CMD, "search: give a query or --episode, not both");
    char *key = NULL, *own_id = NULL;
    if (episode) {
        int rc = read_episode_key(episode, last, &key, &own_id);
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
    const char *dir = NULL, *tool = NULL, *version = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            if (need_value(i, argc, argv[i])) return RT_EXIT_USAGE;
            version = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) as_json = 1;
        else if (argv[i][0] == '-') return rt_cli_usage_error(CMD, "docs: unknown option '%s'", argv[i]);
        else if (!dir) dir = argv[i];
        else if (!tool) tool = argv[i];
        else return rt_cli_usage_error(CMD, "docs: unexpected argument '%s'", argv[i]);
    }
    if (!dir || !tool) return rt_cli_usage_error(CMD, "docs needs a directory and a tool");
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
static int open_one(int argc, char **argv, const char *sub, rt_memory_mode mode, int *as_json, const char **out_path, rt_memory **m) {
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (as_json && strcmp(argv[i], "--json") == 0) *as_json = 1;
        else if (out_path && strcmp(argv[i], "-o") == 0) {
            if (need_value(i, argc, "-o")) return RT_EXIT_USAGE;
            *out_path = argv[++i];
        } else if (argv[i][0] == '-') return rt_cli_usage_error(CMD, "%s: unknown option '%s'", sub, argv[i]);
        else if (!dir) dir = argv[i];
        else return rt_cli_usage_error(CMD, "%s: unexpected argument '%s'", sub, argv[i]);
    }
    if (!dir) return rt_cli_usage_error(CMD, "%s needs a directory", sub);
    if (rt_memory_open(dir, mode, m) != RT_OK) return rt_cli_fail(CMD);
    return RT_EXIT_OK;
}

static int cmd_stats(int argc, char **argv) {
    int as_json = 0;
    rt_memory *m;
    int rc = open_one(argc, argv, "stats", RT_MEMORY_READ, &as_json, NULL, &m);
    if (rc) return rc;
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
    int rc = open_one(argc, argv, "check", RT_MEMORY_READ, NULL, NULL, &m);
    if (rc) return rc;
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
    int rc = open_one(argc, argv, "rebuild", RT_MEMORY_WRITE, NULL, NULL, &m);
    if (rc) return rc;
    rt_status s = rt_memory_rebuild(m);
    int64_t n = rt_hnsw_count(rt_memory_index(m));
    rt_memory_close(m);
    if (s != RT_OK) return rt_cli_fail(CMD);
    fprintf(stderr, "rebuilt the index: %lld vectors\n", (long long)n);
    return RT_EXIT_OK;
}

static int cmd_export(int argc, char **argv) {
    rt_memory *m;
    const char *path = NULL;
    int rc = open_one(argc, argv, "export", RT_MEMORY_READ, NULL, &path, &m);
    if (rc) return rc;
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
    if (argc < 2 || rt_cli_is_help(argv[1])) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? RT_EXIT_USAGE : RT_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {{"init", cmd_init},   {"add", cmd_add},     {"search", cmd_search},   {"docs", cmd_docs},
                {"stats", cmd_stats}, {"check", cmd_check}, {"rebuild", cmd_rebuild}, {"export", cmd_export},
                {"embed", rt_cli_memory_embed}};
    for (int i = 2; i < argc; i++)
        if (rt_cli_is_help(argv[i])) {
            fputs(USAGE, stdout);
            return RT_EXIT_OK;
        }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    return rt_cli_usage_error(CMD, "unknown subcommand '%s' (init, add, search, docs, stats, check, rebuild, export, embed)",
                              argv[1]);
}
