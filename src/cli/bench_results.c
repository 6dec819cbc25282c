/* bench_results.c: the bench's table and results.json. Each cell is `retrace eval`'s summary plus what
 * its episode file shows: success by task type and each episode's seed, so that two configurations are
 * compared on the same episodes (the exact McNemar test of the discordant pairs). Schema: docs/agent.md,
 * "results.json". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"

/* The configurations (e) is tested against, paired by seed, on every split. */
static const char *const RIVALS[] = {"c", "c+r", "b"};

static char *cell_file(const char *dir, const char *fmt, const char *config, const char *split) {
    char name[160];
    snprintf(name, sizeof name, fmt, config, split);
    return rt_path_join(dir, name);
}

/* Adds "success_by_type" to the cell and returns {seed (decimal): 0|1} of its episodes. */
static json_t *read_episodes(const char *path, json_t *cell) {
    FILE *f = fopen(path, "r");
    if (!f) return rt_fail(RT_ERR_IO, "%s: cannot read", path), NULL;
    json_t *by_seed = json_object(), *by_type = json_object();
    size_t cap = 1 << 20;
    char *line = rt_malloc(cap);
    int lineno = 0, bad = 0;
    while (fgets(line, (int)cap, f)) {
        lineno++;
        json_t *ep = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(ep, "task_type"));
        json_t *seed = json_object_get(json_object_get(ep, "meta"), "seed");
        if (!type || !json_is_integer(seed)) {
            json_decref(ep);
            bad = lineno;
            break;
        }
        int ok = rt_episode_succeeded(ep);
        char key[32];
        snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(seed));
        json_object_set_new(by_seed, key, json_integer(ok));
        json_t *t = json_object_get(by_type, type);
        if (!t) json_object_set_new(by_type, type, t = json_pack("{s:i, s:i}", "episodes", 0, "successes", 0));
        json_object_set_new(t, "episodes", json_integer(json_integer_value(json_object_get(t, "episodes")) + 1));
        json_object_set_new(t, "successes", json_integer(json_integer_value(json_object_get(t, "successes")) + ok));
        json_decref(ep);
    }
    fclose(f);
    free(line);
    if (bad) {
        json_decref(by_seed), json_decref(by_type);
        return rt_fail(RT_ERR_FORMAT, "%s:%d: not an episode with a task_type and meta.seed", path, bad), NULL;
    }
    const char *type;
    json_t *t;
    json_object_foreach(by_type, type, t) {
        double n = (double)json_integer_value(json_object_get(t, "episodes"));
        json_object_set_new(t, "success_rate", json_real((double)json_integer_value(json_object_get(t, "successes")) / n));
    }
    json_object_set_new(cell, "success_by_type", by_type);
    return by_seed;
}

/* One cell: the summary, success by type, its episode file (relative to dir). Fills *seeds. */
static json_t *read_cell(const char *dir, const char *config, const char *split, json_t **seeds) {
    char *sum = cell_file(dir, "eval_%s_%s.json", config, split), *eps = cell_file(dir, "episodes_%s_%s.jsonl", config, split);
    json_t *cell = NULL;
    *seeds = NULL;
    if (rt_json_load(sum, &cell) == RT_OK && !(*seeds = read_episodes(eps, cell))) json_decref(cell), cell = NULL;
    if (cell) json_object_set_new(cell, "episodes_file", json_string(strrchr(eps, '/') + 1));
    free(sum), free(eps);
    return cell;
}

/* The exact McNemar test of (e) against a rival on the episodes both ran (by seed). */
static json_t *paired_test(const json_t *e, const json_t *rival) {
    int e_only = 0, rival_only = 0, pairs = 0;
    const char *seed;
    json_t *v;
    json_object_foreach((json_t *)e, seed, v) {
        json_t *w = json_object_get(rival, seed);
        if (!w) continue;
        pairs++;
        e_only += json_integer_value(v) && !json_integer_value(w);
        rival_only += !json_integer_value(v) && json_integer_value(w);
    }
    return json_pack("{s:i, s:i, s:i, s:f}", "pairs", pairs, "e_only", e_only, "other_only", rival_only, "p",
                     rt_mcnemar_exact(e_only, rival_only));
}

static void print_cell(const json_t *x) {
    printf(" | %5.1f%% [%5.1f-%5.1f]", 100 * json_number_value(json_object_get(x, "success_rate")),
           100 * json_number_value(json_object_get(x, "ci_low")), 100 * json_number_value(json_object_get(x, "ci_high")));
}

static void print_header(const char *first, const bench_row *splits, int n) {
    printf("\n%-42s", first);
    for (int s = 0; s < n; s++) printf(" | %-21s", splits[s].label);
    printf("\n");
}

/* The share of steps whose first retrieved success has the task's own type, per cell with retrieval. */
static void print_same_type(const json_t *cells, const bench_row *configs, int nc, const bench_row *splits, int ns) {
    printf("\nretrieval: steps whose first retrieved success has the task's own type\n");
    for (int i = 0; i < nc; i++) {
        const json_t *row = json_object_get(cells, configs[i].id);
        if (json_is_null(json_object_get(json_object_get(row, splits[0].id), "retrieval_same_type"))) continue;
        printf("(%s)%*s", configs[i].id, (int)(40 - strlen(configs[i].id)), "");
        for (int s = 0; s < ns; s++) {
            const json_t *q = json_object_get(json_object_get(row, splits[s].id), "retrieval_same_type");
            if (json_is_number(q)) printf(" | %20.1f%%", 100 * json_number_value(q));
            else printf(" | %21s", "-");
        }
        printf("\n");
    }
}

int bench_collect(const char *dir, const bench_row *configs, int n_configs, const bench_row *splits, int n_splits,
                  const bench_row *ablation, int n_ablation, const char *abl_split, json_t *results) {
    json_t *jc = json_array(), *js = json_array(), *cells = json_object(), *logs = json_object(), *seeds = json_object();
    json_object_set_new(results, "configs", jc);
    json_object_set_new(results, "splits", js);
    json_object_set_new(results, "cells", cells);
    json_object_set_new(results, "loss_logs", logs);
    for (int s = 0; s < n_splits; s++)
        json_array_append_new(js, json_pack("{s:s, s:s, s:s}", "id", splits[s].id, "label", splits[s].label, "env", splits[s].env));
    char *base_log = rt_path_join(dir, "base/loss.jsonl");
    if (rt_path_exists(base_log)) json_object_set_new(logs, "base (pretraining)", json_string("base/loss.jsonl"));
    free(base_log);
    print_header("configuration: success [95% CI]", splits, n_splits);
    int rc = 0;
    for (int i = 0; i < n_configs && !rc; i++) {
        json_t *files = json_object(), *row = json_object(), *row_seeds = json_object();
        json_array_append_new(jc, json_pack("{s:s, s:s, s:o}", "id", configs[i].id, "label", configs[i].label, "episode_files", files));
        json_object_set_new(cells, configs[i].id, row);
        json_object_set_new(seeds, configs[i].id, row_seeds);
        char name[64], log[96];
        snprintf(name, sizeof name, "%s/loss.jsonl", configs[i].id);
        char *loss = rt_path_join(dir, name);
        snprintf(log, sizeof log, "(%s) %s", configs[i].id, configs[i].label);
        if (rt_path_exists(loss)) json_object_set_new(logs, log, json_string(name)); /* (c+r) has no training of its own */
        free(loss);
        printf("(%s) %-*s", configs[i].id, (int)(38 - strlen(configs[i].id)), configs[i].label);
        for (int s = 0; s < n_splits && !rc; s++) {
            json_t *by_seed, *cell = read_cell(dir, configs[i].id, splits[s].id, &by_seed);
            if (!cell) { rc = rt_cli_fail("bench"); break; }
            json_object_set(files, splits[s].id, json_object_get(cell, "episodes_file"));
            json_object_set_new(row, splits[s].id, cell);
            json_object_set_new(row_seeds, splits[s].id, by_seed);
            print_cell(cell);
        }
        printf("\n");
    }
    /* the paired tests, into (e)'s cells and a flat list */
    json_t *tests = json_array();
    json_object_set_new(results, "tests", tests);
    for (int s = 0; !rc && s < n_splits; s++) {
        json_t *e = json_object_get(json_object_get(seeds, "e"), splits[s].id), *into = json_object();
        json_object_set_new(json_object_get(json_object_get(cells, "e"), splits[s].id), "mcnemar", into);
        for (size_t r = 0; e && r < sizeof RIVALS / sizeof *RIVALS; r++) {
            json_t *other = json_object_get(json_object_get(seeds, RIVALS[r]), splits[s].id);
            if (!other) continue;
            json_t *t = paired_test(e, other);
            json_object_set(into, RIVALS[r], t);
            json_object_set_new(t, "split", json_string(splits[s].id));
            json_object_set_new(t, "versus", json_string(RIVALS[r]));
            json_array_append_new(tests, t);
        }
    }
    if (!rc) print_same_type(cells, configs, n_configs, splits, n_splits);
    /* the index ablation: (e) on one split with each memory */
    json_t *abl = json_array();
    json_object_set_new(results, "index_ablation", json_pack("{s:s, s:o}", "split", abl_split, "rows", abl));
    if (!rc) printf("\nindex ablation, (e) on %s:\n", abl_split);
    for (int i = 0; i < n_ablation && !rc; i++) {
        json_t *by_seed, *cell = read_cell(dir, ablation[i].id, abl_split, &by_seed);
        if (!cell) { rc = rt_cli_fail("bench"); break; }
        json_decref(by_seed);
        printf("  %-40s", ablation[i].label);
        print_cell(cell);
        printf("\n");
        json_array_append_new(abl, json_pack("{s:s, s:s, s:o}", "id", ablation[i].id, "label", ablation[i].label, "cell", cell));
    }
    if (!rc) {
        printf("\nexact McNemar tests (two-sided, paired by seed): (e) against\n");
        size_t i;
        json_t *t;
        json_array_foreach(tests, i, t)
            printf("  %-4s on %-12s %3d pairs, e only %3d, other only %3d: p = %.4g\n",
                   json_string_value(json_object_get(t, "versus")), json_string_value(json_object_get(t, "split")),
                   (int)json_integer_value(json_object_get(t, "pairs")), (int)json_integer_value(json_object_get(t, "e_only")),
                   (int)json_integer_value(json_object_get(t, "other_only")), json_number_value(json_object_get(t, "p")));
    }
    json_decref(seeds);
    return rc;
}
