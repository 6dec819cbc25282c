/* bench_leaks.c: `retrace bench --check-leaks DIR` proves that the training data of a bench folder holds
 * nothing of what the evaluation holds out. Every line of every training file named in DIR/plan.json
 * (SFT and validation examples, the pretraining episodes) is checked for:
 *   - a held-out household task type: its task_type, the type's name, or its goal phrasing (the env's
 *     ALFWorld goals, e.g. "heat some"), which would show a retrieved held-out episode in a prompt;
 *   - a name only the newest API version has: a tool name (as a word) or an argument name (as a JSON key)
 *     found in a pack's newest docs and in no older doc of any pack;
 *   - an evaluation seed (test or validation run): an episode's meta.seed, or for an example the seed of
 *     the episode it was built from (its id is "<episode id>#<step>"; an example that cannot be traced
 *     to its episode is a failure of the proof, so it is reported too).
 * Episodes are checked as the pretraining corpus renders them (the text the model reads, not metadata
 * such as a template id that happens to equal a newer tool's name), examples as prompt and completion.
 * The first leak is printed with its file and line, and the exit status is 1. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"

/* The goal phrasings of the held-out types (src/env/hh_world.c GOALS), by type. */
static const struct { const char *type, *phrases[2]; } GOALS[] = {
    {"pick_cool_then_place_in_recep", {"put a cool ", "cool some "}},
    {"pick_heat_then_place_in_recep", {"put a hot ", "heat some "}},
    {"pick_two_obj_and_place", {"put two ", "find two "}},
};

typedef struct {
    json_t *held_out;  /* array of type names */
    json_t *seeds;     /* decimal seed -> "test" | "validation" */
    json_t *v3_tools, *v3_args; /* name -> domain */
    json_t *episode_seed; /* episode id -> seed, for the current file's sources */
    size_t lines, files;
} checker;

/* Names in one doc: the tool, and its arguments ("- NAME (" lines). */
static void doc_names(const json_t *d, json_t *tools, json_t *args, const char *domain) {
    const char *tool = json_string_value(json_object_get(d, "tool")), *text = json_string_value(json_object_get(d, "text"));
    if (tool) json_object_set_new(tools, tool, json_string(domain));
    for (const char *p = text; p && (p = strstr(p, "\n- ")); p += 3) {
        const char *a = p + 3, *end = a;
        while (isalnum((unsigned char)*end) || *end == '_') end++;
        if (end > a && !strncmp(end, " (", 2)) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - a), a);
            json_object_set_new(args, name, json_string(domain));
        }
    }
}

/* The newest version's names that no older doc of any pack uses. */
static int load_docs(checker *k, const char *path) {
    json_t *all = json_array(), *newest = json_object(), *old_tools = json_object(), *old_args = json_object();
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "retrace bench: %s: cannot read the docs\n", path), 2;
    char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        json_t *d = json_loads(line, 0, NULL);
        const char *dom = json_string_value(json_object_get(d, "domain"));
        if (!dom) { json_decref(d); continue; }
        json_int_t v = json_integer_value(json_object_get(d, "version"));
        if (v > json_integer_value(json_object_get(newest, dom))) json_object_set_new(newest, dom, json_integer(v));
        json_array_append_new(all, d);
    }
    fclose(f);
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d) {
        const char *dom = json_string_value(json_object_get(d, "domain"));
        int is_new = json_integer_value(json_object_get(d, "version")) == json_integer_value(json_object_get(newest, dom));
        doc_names(d, is_new ? k->v3_tools : old_tools, is_new ? k->v3_args : old_args, dom);
    }
    const char *name;
    json_t *v, *tmp;
    json_object_foreach_safe(k->v3_tools, tmp, name, v) if (json_object_get(old_tools, name) || json_object_get(old_args, name))
        json_object_del(k->v3_tools, name);
    json_object_foreach_safe(k->v3_args, tmp, name, v) if (json_object_get(old_tools, name) || json_object_get(old_args, name))
        json_object_del(k->v3_args, name);
    json_decref(all), json_decref(newest), json_decref(old_tools), json_decref(old_args);
    return 0;
}

/* Whether text holds name as a word (no letter, digit or underscore on either side). */
static int has_word(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p++) {
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after) return 1;
    }
    return 0;
}

/* The leak in one training text, or NULL; why is filled. */
static int text_leak(const checker *k, const char *text, const char *type, char *why, size_t cap) {
    size_t i;
    json_t *h;
    json_array_foreach(k->held_out, i, h) {
        const char *t = json_string_value(h);
        if ((type && !strcmp(type, t)) || strstr(text, t)) return snprintf(why, cap, "held-out task type %s", t), 1;
        for (size_t g = 0; g < sizeof GOALS / sizeof *GOALS; g++)
            for (int j = 0; j < 2 && !strcmp(GOALS[g].type, t); j++)
                if (strstr(text, GOALS[g].phrases[j]))
                    return snprintf(why, cap, "the goal of held-out type %s (\"%s\")", t, GOALS[g].phrases[j]), 1;
    }
    const char *name;
    json_t *dom;
    json_object_foreach(k->v3_tools, name, dom) if (has_word(text, name))
        return snprintf(why, cap, "tool %s, only in the newest %s API", name, json_string_value(dom)), 1;
    json_object_foreach(k->v3_args, name, dom) {
        char key[160];
        snprintf(key, sizeof key, "\"%s\":", name);
        if (strstr(text, key)) return snprintf(why, cap, "argument %s, only in the newest %s API", name, json_string_value(dom)), 1;
    }
    return 0;
}

static int seed_leak(const checker *k, json_int_t seed, char *why, size_t cap) {
    char key[32];
    snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, seed);
    json_t *set = json_object_get(k->seeds, key);
    return set ? snprintf(why, cap, "evaluation seed %s (%s run)", key, json_string_value(set)), 1 : 0;
}

/* One line: an episode (has "steps") or an example. */
static int line_leak(const checker *k, const json_t *o, const char *line, char *why, size_t cap) {
    const char *type = json_string_value(json_object_get(o, "task_type"));
    if (json_object_get(o, "steps")) { /* the text the model reads: the episode as the corpus renders it */
        json_t *seed = json_object_get(json_object_get(o, "meta"), "seed");
        char *text = NULL;
        if (rt_episode_render(line, &text) != RT_OK) return snprintf(why, cap, "unreadable episode: %s", rt_errmsg()), 1;
        int leak = text_leak(k, text, type, why, cap) || (seed && seed_leak(k, json_integer_value(seed), why, cap));
        free(text);
        return leak;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *prompt = json_string_value(json_object_get(o, "prompt")), *completion = json_string_value(json_object_get(o, "completion"));
    if (!id || !prompt || !completion) return snprintf(why, cap, "neither an episode nor an example (id, prompt, completion)"), 1;
    if (text_leak(k, prompt, type, why, cap) || text_leak(k, completion, NULL, why, cap)) return 1;
    char ep[512];
    snprintf(ep, sizeof ep, "%.*s", (int)strcspn(id, "#"), id);
    json_t *seed = json_object_get(k->episode_seed, ep);
    if (!seed) return snprintf(why, cap, "example %s: its episode %s is in none of the source files", id, ep), 1;
    return seed_leak(k, json_integer_value(seed), why, cap);
}

/* Reads a JSON-lines file, calling fn for each object; returns fn's first non-zero or 2 on a read error. */
static int each_line(const char *path, int (*fn)(void *, const json_t *, const char *, int), void *ctx) {
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "retrace bench: %s: cannot read\n", path), 2;
    size_t cap = 1 << 22;
    char *line = rt_malloc(cap);
    int rc = 0, lineno = 0;
    while (!rc && fgets(line, (int)cap, f)) {
        json_t *o = json_loads(line, 0, NULL);
        lineno++;
        if (!o) rc = (fprintf(stderr, "retrace bench: %s:%d: not JSON\n", path, lineno), 2);
        else rc = fn(ctx, o, line, lineno);
        json_decref(o);
    }
    fclose(f);
    free(line);
    return rc;
}

static int add_source(void *ctx, const json_t *o, const char *line, int lineno) {
    (void)line, (void)lineno;
    checker *k = ctx;
    json_t *id = json_object_get(o, "id"), *seed = json_object_get(json_object_get(o, "meta"), "seed");
    if (json_is_string(id) && seed) json_object_set(k->episode_seed, json_string_value(id), seed);
    return 0;
}

typedef struct {
    checker *k;
    const char *file;
} scan;

static int check_line(void *ctx, const json_t *o, const char *line, int lineno) {
    scan *s = ctx;
    char why[512];
    s->k->lines++;
    if (json_object_get(o, "tool") && !json_object_get(o, "steps")) return 0; /* a doc line of an episode file */
    if (!line_leak(s->k, o, line, why, sizeof why)) return 0;
    fprintf(stderr, "retrace bench: leak: %s:%d: %s\n", s->file, lineno, why);
    return 1;
}

static int check_file(checker *k, const char *dir, const json_t *entry) {
    const char *file = json_string_value(json_object_get(entry, "file"));
    if (!file) return fprintf(stderr, "retrace bench: %s/plan.json: a training entry without \"file\"\n", dir), 2;
    json_object_clear(k->episode_seed);
    size_t i;
    json_t *src;
    int rc = 0;
    json_array_foreach(json_object_get(entry, "episodes"), i, src) {
        char *p = rt_path_join(dir, json_string_value(src));
        if (!rc) rc = each_line(p, add_source, k);
        free(p);
    }
    char *path = rt_path_join(dir, file);
    scan s = {k, path};
    if (!rc) rc = each_line(path, check_line, &s);
    free(path);
    k->files++;
    return rc;
}

int bench_check_leaks(const char *dir) {
    char *plan_path = rt_path_join(dir, "plan.json");
    json_t *plan;
    if (rt_json_load(plan_path, &plan) != RT_OK) {
        free(plan_path);
        return fprintf(stderr, "retrace bench: %s (is %s a bench folder?)\n", rt_errmsg(), dir), 2;
    }
    free(plan_path);
    checker k = {.held_out = json_object_get(plan, "held_out_types"), .seeds = json_object(), .v3_tools = json_object(),
                 .v3_args = json_object(), .episode_seed = json_object()};
    const char *set;
    json_t *run;
    json_object_foreach(json_object_get(plan, "eval_seeds"), set, run) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(run, "seeds"), i, s) {
            char key[32];
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(s));
            json_object_set_new(k.seeds, key, json_string(set));
        }
    }
    char *docs = rt_path_join(dir, json_string_value(json_object_get(plan, "docs")) ? json_string_value(json_object_get(plan, "docs")) : "");
    int rc = load_docs(&k, docs);
    free(docs);
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(plan, "training"), i, entry) if (!rc) rc = check_file(&k, dir, entry);
    if (!rc)
        printf("no leaks: %zu lines of %zu training files checked against %zu held-out task types, %zu tool and %zu "
               "argument names only the newest API versions have, and %zu evaluation seeds\n",
               k.lines, k.files, json_array_size(k.held_out), json_object_size(k.v3_tools), json_object_size(k.v3_args),
               json_object_size(k.seeds));
    json_decref(k.seeds), json_decref(k.v3_tools), json_decref(k.v3_args), json_decref(k.episode_seed);
    json_decref(plan);
    return rc;
}
