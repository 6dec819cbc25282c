/* raft.c: RAFT-style SFT examples from episodes: for every step of a successful episode, the prompt the
 * agent's context step builds before it (retrieval with the exclusions a training example needs) and the
 * step as the completion. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/dataset.h"

rt_dataset_params rt_dataset_params_default(void) {
    return (rt_dataset_params){.retrieval = rt_retrieval_params_default(), .budget_tokens = 1024, .p_useful = 0.8,
                               .seed = 1};
}

static rt_status emit_example(const rt_episode *ep, int i, const char *prompt, int useful, rt_dataset_example_fn emit,
                              void *ctx) {
    char *target = rt_step_target(ep->steps[i].thought, ep->steps[i].action);
    char ex_id[512];
    snprintf(ex_id, sizeof ex_id, "%s#%d", ep->id, i);
    json_t *ex = json_pack("{s:s, s:s, s:s, s:b, s:s}", "id", ex_id, "prompt", prompt, "completion", target, "useful",
                           useful, "task_type", ep->task_type ? ep->task_type : "");
    rt_status s = emit(ctx, ex);
    json_decref(ex);
    free(target);
    return s;
}

rt_status rt_dataset_episode_examples(const rt_dataset_params *p, rt_memory *mem, const rt_tokenizer *tok,
                                      const rt_episode *ep, rt_rng *rng, rt_dataset_example_fn emit, void *ctx,
                                      rt_dataset_stats *st) {
    if (!ep->outcome || strcmp(ep->outcome, "success") != 0) return st->skipped_failures++, RT_OK;
    st->episodes++;
    rt_memory_step *hist = rt_calloc((size_t)ep->n_steps + 1, sizeof *hist);
    rt_context_config cfg = {.memory = mem, .tok = tok, .retrieval = p->retrieval, .budget_tokens = p->budget_tokens};
    rt_agent_context c = {0};
    rt_status s = RT_OK;
    for (int i = 0; i < ep->n_steps && s == RT_OK; i++) {
        /* drawn for every step, slips included, so a slip does not shift the draws of the steps after it */
        int useful = rt_rng_double(rng) < p->p_useful;
        rt_retrieve_spec spec = {.env = ep->env, .task = ep->task, .history = hist, .n_history = i,
                                 .exclude_id = ep->id, .exclude_task = p->exclude_same_task ? ep->task : NULL,
                                 .avoid_task_type = useful ? NULL : ep->task_type,
                                 .api_versions = p->retrieval.any_version ? NULL : ep->api_versions};
        /* A slip's context is still built: static retrieval happens at the first step, whatever it is. */
        rt_status bs = rt_agent_context_build(&cfg, &spec, ep->first_observation, &c);
        if (ep->steps[i].slip) {
            st->slips++; /* a deliberate mistake is never a target; it stays in the history below */
            if (bs != RT_ERR_ARG) s = bs;
        } else if (bs == RT_ERR_ARG) {
            st->over_budget++; /* counted and reported: the task and last step alone exceed the budget */
        } else if ((s = bs) == RT_OK) {
            st->cut_parts += (size_t)rt_prompt_stats_cuts(&c.stats);
            s = emit_example(ep, i, c.prompt, mem ? useful : 0, emit, ctx);
            st->examples++;
            st->useful += mem && useful;
        }
        hist[i] = (rt_memory_step){ep->steps[i].thought, ep->steps[i].action, ep->steps[i].observation};
    }
    rt_agent_context_free(&c);
    free(hist);
    return s;
}

static rt_status write_example(void *ctx, const json_t *ex) {
    char *line = json_dumps(ex, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rt_status s = rt_atomic_write(ctx, line, strlen(line));
    if (s == RT_OK) s = rt_atomic_write(ctx, "\n", 1);
    free(line);
    return s;
}

/* One line of the input: an episode's examples; a doc line is skipped (docs come from the memory). */
static rt_status line_examples(const rt_dataset_params *p, rt_memory *mem, const rt_tokenizer *tok, const char *line,
                               const char *where, rt_rng *rng, rt_atomic_file *out, rt_dataset_stats *st) {
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    rt_status s = RT_OK;
    rt_episode ep;
    if (!o || !json_is_object(o)) s = rt_fail(RT_ERR_FORMAT, "%s: invalid JSON: %s", where, o ? "not an object" : err.text);
    else if (rt_line_kind_of(o) == RT_LINE_DOC) s = RT_OK;
    else if (!json_object_get(o, "steps") && (json_object_get(o, "prompt") || json_object_get(o, "messages") ||
                                              json_object_get(o, "text")))
        s = rt_fail(RT_ERR_FORMAT, "%s: this is a training example (prompt/completion, messages or text), not an "
                    "episode: --from takes episodes as `retrace gen` writes them (JSON lines with \"task\" and "
                    "\"steps\")", where);
    else if (!rt_episode_succeeded(o)) st->skipped_failures++;
    else if ((s = rt_episode_steps_from_json(o, where, &ep)) == RT_OK) {
        s = rt_dataset_episode_examples(p, mem, tok, &ep, rng, write_example, out, st);
        if (s != RT_OK) rt_fail_context(s, "%s", where);
        rt_episode_free(&ep);
    }
    json_decref(o);
    return s;
}

/* Lines of a file, for the progress total; the file is read again from the start after. */
static int64_t count_lines(FILE *in) {
    int64_t n = 0;
    int c, last = '\n';
    while ((c = getc(in)) != EOF) n += (last = c) == '\n';
    rewind(in);
    return n + (last != '\n');
}

rt_status rt_dataset_build(const rt_dataset_params *p, rt_memory *mem, const rt_tokenizer *tok, const char *from_path,
                           const char *out_path, rt_dataset_stats *st) {
    memset(st, 0, sizeof *st);
    FILE *in = fopen(from_path, "rb");
    if (!in) return rt_fail(RT_ERR_IO, "%s: cannot open", from_path);
    rt_progress pg;
    rt_progress_begin(&pg, "dataset", count_lines(in));
    rt_atomic_file out = {0};
    rt_status s = rt_atomic_open(&out, out_path);
    if (s != RT_OK) return fclose(in), s;
    rt_rng rng;
    rt_rng_seed(&rng, p->seed);
    char *line = NULL, where[1024];
    size_t cap = 0, lineno = 0;
    while (s == RT_OK && getline(&line, &cap, in) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        snprintf(where, sizeof where, "%s:%zu", from_path, lineno);
        s = line_examples(p, mem, tok, line, where, &rng, &out, st);
        char extra[64];
        snprintf(extra, sizeof extra, "%zu examples", st->examples);
        rt_progress_update(&pg, (int64_t)lineno, extra);
    }
    rt_progress_end(&pg);
    free(line);
    fclose(in);
    if (s == RT_OK) return rt_atomic_commit(&out);
    rt_atomic_abort(&out);
    return s;
}
