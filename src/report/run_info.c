/* run_info.c: how the results were made: base model, embedder, commit, machine, seeds, retrieval and
 * training settings, each configuration's adapter and memory, the commands, and links to every episode
 * file. Fields results.json does not have are left out; fields this version does not know are shown as
 * JSON at the end, so the page keeps everything results.json says about the run. */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* Top-level keys with a place of their own on the page. */
static const char *const SHOWN[] = {"configs", "splits", "cells", "loss_logs", "tests", "index_ablation", "scale",
                                    "seconds", "date", "base", "embedder", "commit", "machine", "seeds", "retrieval",
                                    "training", "stages", "command", "commands"};

/* A JSON value as text: strings as they are, everything else compact JSON. */
static void add_value(rt_strbuf *s, const json_t *v) {
    if (json_is_string(v)) {
        rt_html_escape(s, json_string_value(v));
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    rt_html_escape(s, text ? text : "n/a");
    free(text);
}

/* An object's fields as "key value, ..." (null fields left out). */
static void add_fields(rt_strbuf *s, const json_t *o) {
    const char *key;
    const json_t *v;
    int first = 1;
    json_object_foreach((json_t *)o, key, v) {
        if (json_is_null(v) || !strcmp(key, "episode_seeds")) continue;
        rt_strbuf_add(s, first ? "" : " &#183; ");
        first = 0;
        rt_html_escape(s, key);
        rt_strbuf_add(s, " <b>");
        add_value(s, v);
        rt_strbuf_add(s, "</b>");
    }
}

static void item(rt_strbuf *s, const char *name, const json_t *v) {
    if (!v || json_is_null(v)) return;
    rt_strbuf_add(s, "<dt>");
    rt_html_escape(s, name);
    rt_strbuf_add(s, "</dt><dd>");
    if (json_is_object(v)) add_fields(s, v);
    else add_value(s, v);
    rt_strbuf_add(s, "</dd>\n");
}

/* The evaluation seeds: every one, so any episode can be rerun. */
static void seeds_item(rt_strbuf *s, const json_t *seeds) {
    item(s, "evaluation seeds", seeds);
    const json_t *list = json_object_get(seeds, "episode_seeds");
    if (!json_is_array(list)) return;
    rt_strbuf_addf(s, "<dt>episode seeds (%zu, episode i of every cell)</dt><dd><code class=\"seeds\">",
                   json_array_size(list));
    add_value(s, list);
    rt_strbuf_add(s, "</code></dd>\n");
}

/* The commands: as results.json records them ("command", "commands"), else the bench command line
 * rebuilt from the recorded options. */
static void commands(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    const json_t *one = json_object_get(d->root, "command"), *many = json_object_get(d->root, "commands");
    rt_strbuf_add(s, "<h3>Commands</h3>\n");
    if (one || many) {
        rt_strbuf_add(s, "<pre class=\"cmd\">");
        if (one) add_value(s, one), rt_strbuf_add(s, "\n");
        size_t i;
        const json_t *c;
        json_array_foreach(many, i, c) add_value(s, c), rt_strbuf_add(s, "\n");
        rt_strbuf_add(s, "</pre>\n");
        return;
    }
    const json_t *tr = json_object_get(d->root, "training"), *re = json_object_get(d->root, "retrieval");
    const json_t *seeds = json_object_get(d->root, "seeds");
    rt_strbuf c = {0};
    rt_strbuf_add(&c, "retrace bench");
    const char *scale = d->scale, *base = json_string_value(json_object_get(d->root, "base"));
    const char *emb = json_string_value(json_object_get(d->root, "embedder"));
    const char *recipe = json_string_value(json_object_get(tr, "recipe"));
    if (scale) rt_strbuf_addf(&c, " --scale %s", scale);
    if (base && scale && strcmp(scale, "quick") && strcmp(scale, "full")) rt_strbuf_addf(&c, " --base %s", base);
    if (emb) rt_strbuf_addf(&c, " --embedder %s", emb);
    if (recipe && strcmp(recipe, "tiny")) rt_strbuf_addf(&c, " --recipe %s", recipe);
    const json_t *v;
    if (json_is_string(v = json_object_get(tr, "epochs"))) rt_strbuf_addf(&c, " --epochs %s", json_string_value(v));
    else if (json_is_number(v)) rt_strbuf_addf(&c, " --epochs %g", json_number_value(v));
    if (json_is_string(v = json_object_get(tr, "lr"))) rt_strbuf_addf(&c, " --lr %s", json_string_value(v));
    if (json_is_string(v = json_object_get(re, "k"))) rt_strbuf_addf(&c, " -k %s", json_string_value(v));
    else if (json_is_integer(v)) rt_strbuf_addf(&c, " -k %" JSON_INTEGER_FORMAT, json_integer_value(v));
    if (json_is_string(v = json_object_get(re, "mode")) && !strcmp(json_string_value(v), "dynamic"))
        rt_strbuf_add(&c, " --dynamic");
    if (json_is_string(v = json_object_get(seeds, "set")) && !strcmp(json_string_value(v), "validation"))
        rt_strbuf_add(&c, " --validation");
    rt_strbuf_addf(&c, " -o %s", bench_dir);
    rt_strbuf_add(s, "<pre class=\"cmd\">");
    rt_html_escape(s, c.buf);
    rt_strbuf_add(s, "</pre>\n<p class=\"note\">Rebuilt from the options results.json records (it names no command); "
                     "every stage the bench ran is printed in its output as the <code>retrace</code> command it "
                     "is.</p>\n");
    free(c.buf);
}

/* The LoRA hyperparameters of an adapter folder (its PEFT adapter_config.json): where the cell's path
 * is, or the same folder name under the bench folder (a moved or copied bench). */
static void lora_params(rt_strbuf *s, const char *bench_dir, const char *adapter) {
    /* "<config>/adapter": the path's last two components */
    const char *tail = adapter + strlen(adapter);
    for (int slashes = 0; tail > adapter; tail--)
        if (tail[-1] == '/' && ++slashes == 2) break;
    char *near = rt_path_join(bench_dir, tail);
    const char *dirs[2] = {adapter, near};
    json_t *cfg = NULL;
    for (int k = 0; k < 2 && !cfg; k++) {
        char *path = rt_path_join(dirs[k], "adapter_config.json");
        if (rt_path_exists(path) && rt_json_load(path, &cfg) != RT_OK) cfg = NULL;
        free(path);
    }
    rt_clear_error();
    free(near);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        rt_strbuf_add(s, "<span class=\"na\">n/a</span>");
        return;
    }
    double r = 0, alpha = 0, dropout = 0;
    if (rt_report_cell_num(cfg, "r", &r)) rt_strbuf_addf(s, "r %g", r);
    if (rt_report_cell_num(cfg, "lora_alpha", &alpha)) rt_strbuf_addf(s, ", alpha %g", alpha);
    if (json_is_true(json_object_get(cfg, "use_rslora"))) rt_strbuf_add(s, ", rsLoRA");
    if (rt_report_cell_num(cfg, "lora_dropout", &dropout)) rt_strbuf_addf(s, ", dropout %.2f", dropout);
    const json_t *targets = json_object_get(cfg, "target_modules");
    size_t i;
    const json_t *t;
    json_array_foreach(targets, i, t) {
        rt_strbuf_add(s, i ? ", " : ", on ");
        rt_html_escape(s, json_string_value(t));
    }
    json_decref(cfg);
}

/* Each configuration's adapter (and its LoRA hyperparameters), memory and retrieval, from its first
 * cell that says. */
static void settings(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    static const char *const KEYS[] = {"adapter", "memory", "retrieval"};
    int any = 0;
    for (int i = 0; i < d->n_configs && !any; i++)
        for (int j = 0; j < d->n_splits && !any; j++)
            for (int k = 0; k < 3; k++) any |= json_object_get(rt_report_cell(d, i, j), KEYS[k]) != NULL;
    if (!any) return;
    rt_strbuf_add(s, "<h3>Configurations</h3>\n<div class=\"scroll\"><table class=\"settings\">\n<thead><tr>"
                     "<th>configuration</th><th>adapter</th><th>LoRA</th><th>memory</th><th>retrieval</th></tr></thead>\n"
                     "<tbody>\n");
    for (int i = 0; i < d->n_configs; i++) {
        const json_t *cell = NULL;
        for (int j = 0; j < d->n_splits && !cell; j++) cell = rt_report_cell(d, i, j);
        rt_strbuf_add(s, "<tr><td>");
        rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
        rt_strbuf_add(s, "</td>");
        for (int k = 0; k < 3; k++) {
            const json_t *v = json_object_get(cell, KEYS[k]);
            rt_strbuf_add(s, "<td><code>");
            if (!v || json_is_null(v)) rt_strbuf_add(s, k < 2 ? "none" : "n/a");
            else add_value(s, v);
            rt_strbuf_add(s, "</code></td>");
            if (k == 0) { /* the adapter's hyperparameters beside it */
                rt_strbuf_add(s, "<td class=\"lora\">");
                if (json_is_string(v)) lora_params(s, bench_dir, json_string_value(v));
                else rt_strbuf_add(s, "<span class=\"na\">none</span>");
                rt_strbuf_add(s, "</td>");
            }
        }
        rt_strbuf_add(s, "</tr>\n");
    }
    rt_strbuf_add(s, "</tbody>\n</table></div>\n");
}

void rt_report_run_info(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    const json_t *r = d->root;
    rt_strbuf_add(s, "<h2 id=\"run\">How it was run</h2>\n<dl class=\"run\">\n");
    item(s, "base model", json_object_get(r, "base"));
    item(s, "embedder", json_object_get(r, "embedder"));
    item(s, "commit", json_object_get(r, "commit"));
    item(s, "machine", json_object_get(r, "machine"));
    seeds_item(s, json_object_get(r, "seeds"));
    item(s, "retrieval", json_object_get(r, "retrieval"));
    item(s, "training", json_object_get(r, "training"));
    item(s, "stages", json_object_get(r, "stages"));
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)r, key, v) {
        size_t k = 0, n = sizeof SHOWN / sizeof *SHOWN;
        while (k < n && strcmp(SHOWN[k], key)) k++;
        if (k == n) item(s, key, v);
    }
    rt_strbuf_add(s, "</dl>\n");
    settings(s, d, bench_dir);
    commands(s, d, bench_dir);
}

/* A cell's episode file: "episodes_file" in the cell, else the configuration's "episode_files". */
const char *rt_report_episode_file(const report_data *d, int i, int j) {
    const json_t *f = json_object_get(rt_report_cell(d, i, j), "episodes_file");
    if (!json_is_string(f)) f = json_object_get(json_object_get(d->configs[i].json, "episode_files"), d->splits[j].id);
    return json_string_value(f);
}

int rt_report_has_episode_files(const report_data *d) {
    for (int i = 0; i < d->n_configs; i++)
        for (int j = 0; j < d->n_splits; j++)
            if (rt_report_episode_file(d, i, j)) return 1;
    return 0;
}

void rt_report_file_link(rt_strbuf *s, const report_data *d, const char *bench_dir, const char *file) {
    char *full = file[0] == '/' ? rt_strdup(file) : rt_path_join(bench_dir, file);
    int exists = rt_path_exists(full);
    free(full);
    rt_strbuf_add(s, "<a href=\"");
    if (file[0] != '/' && d->link_prefix) rt_html_escape(s, d->link_prefix);
    rt_html_escape(s, file);
    rt_strbuf_add(s, "\">");
    rt_html_escape(s, file);
    rt_strbuf_add(s, exists ? "</a>" : "</a> <span class=\"na\">(not in the folder)</span>");
}

void rt_report_episode_links(rt_strbuf *s, const report_data *d, const char *bench_dir) {
    if (!rt_report_has_episode_files(d)) return;
    rt_strbuf_add(s, "<h2 id=\"episode-files\">Episode files</h2>\n<p class=\"note\">Every evaluation episode, one JSON "
                     "line each (steps, actions, observations, and what was retrieved at each step), next to this "
                     "page in the bench folder.</p>\n<ul class=\"files\">\n");
    for (int i = 0; i < d->n_configs; i++)
        for (int j = 0; j < d->n_splits; j++) {
            const char *f = rt_report_episode_file(d, i, j);
            if (!f) continue;
            rt_strbuf_add(s, "<li>");
            rt_report_config_name(s, d->configs[i].id, d->configs[i].label);
            rt_strbuf_add(s, ", ");
            rt_html_escape(s, d->splits[j].label);
            rt_strbuf_add(s, ": ");
            rt_report_file_link(s, d, bench_dir, f);
            rt_strbuf_add(s, "</li>\n");
        }
    const json_t *rows = json_object_get(json_object_get(d->root, "index_ablation"), "rows"), *row;
    size_t k;
    json_array_foreach(rows, k, row) {
        const char *f = json_string_value(json_object_get(json_object_get(row, "cell"), "episodes_file"));
        const char *label = json_string_value(json_object_get(row, "label"));
        if (!f) continue;
        rt_strbuf_add(s, "<li>index ablation, ");
        rt_html_escape(s, label ? label : "n/a");
        rt_strbuf_add(s, ": ");
        rt_report_file_link(s, d, bench_dir, f);
        rt_strbuf_add(s, "</li>\n");
    }
    rt_strbuf_add(s, "</ul>\n");
}
