/* cmd_dataset.c: `retrace dataset` turns successful episodes into retrieval-augmented SFT examples
 * (RAFT style): one example per step, whose prompt is what the agent would see at that step (retrieved
 * successes, mined failures, docs, the episode so far) and whose completion is the step itself. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "cli/cli.h"

const char rt_cmd_dataset_summary[] = "build retrieval-augmented SFT examples (RAFT style) from episodes and a memory";

typedef struct {
    const char *memory, *from, *out, *tokenizer;
    rt_agent_params ap;
    double p_useful;
    long long seed;
    int exclude_same_task, no_retrieval;
} options;

static void usage(void) {
    printf("usage: retrace dataset MEMORY_DIR --from EPISODES.jsonl --tokenizer DIR -o SFT.jsonl [options]\n\n"
           "For every step of every successful episode in --from, writes {\"id\", \"prompt\", \"completion\",\n"
           "\"useful\", \"task_type\"}: the prompt the agent would see before that step and the step\n"
           "(\"think: ...\\nact: ...\\n\") as the completion. Ready for `retrace train`.\n\n"
           "  --retrieve K          successful episodes retrieved (2); the episode itself is never retrieved\n"
           "  --negatives N         failed episodes mined (1)\n"
           "  --p-useful P          fraction of examples whose retrieval may hold useful episodes (0.8); the\n"
           "                        rest get distractors only: no success of the same task type (RAFT)\n"
           "  --exclude-same-task   also never retrieve an episode with the same task text\n"
           "  --any-version         also retrieve episodes that used another version of the episode's tools,\n"
           "                        and the newest docs (default: the versions the episode ran with)\n"
           "  --static | --dynamic  retrieval key: the task alone, or the task and the last steps (dynamic)\n"
           "  --reward-weight X (0.5)  --no-docs  --no-retrieval (plain SFT examples: task and history only)\n"
           "  --budget N            prompt tokens (1024), cut by the documented policy (docs/agent.md)\n"
           "  --seed N              the useful/distractor draw (1)\n");
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.ap = rt_agent_params_default(), .p_useful = 0.8, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (rt_cli_is_help(a)) return usage(), -1;
        if (!strcmp(a, "--static")) { o->ap.dynamic = 0; continue; }
        if (!strcmp(a, "--dynamic")) { o->ap.dynamic = 1; continue; }
        if (!strcmp(a, "--no-docs")) { o->ap.docs = 0; continue; }
        if (!strcmp(a, "--no-retrieval")) { o->no_retrieval = 1; continue; }
        if (!strcmp(a, "--exclude-same-task")) { o->exclude_same_task = 1; continue; }
        if (!strcmp(a, "--any-version")) { o->ap.any_version = 1; continue; }
        if (a[0] != '-') {
            if (o->memory) return rt_cli_usage_error("dataset", "unexpected argument '%s'", a);
            o->memory = a;
            continue;
        }
        if (!v) return rt_cli_usage_error("dataset", "'%s' needs a value (see --help)", a);
        i++;
        if (!strcmp(a, "--from")) o->from = v;
        else if (!strcmp(a, "-o")) o->out = v;
        else if (!strcmp(a, "--tokenizer")) o->tokenizer = v;
        else if (!strcmp(a, "--p-useful") || !strcmp(a, "--reward-weight")) {
            double x;
            if (rt_cli_parse_float("dataset", a, v, &x)) return RT_EXIT_USAGE;
            if (x < 0 || x > 1) return rt_cli_usage_error("dataset", "%s must be in [0, 1]", a);
            if (!strcmp(a, "--p-useful")) o->p_useful = x;
            else o->ap.reward_weight = x;
        } else if (!strcmp(a, "--retrieve") || !strcmp(a, "--negatives") || !strcmp(a, "--budget") || !strcmp(a, "--seed")) {
            if (rt_cli_parse_int("dataset", a, v, &n)) return RT_EXIT_USAGE;
            if (n < 0 || n > 100000000) return rt_cli_usage_error("dataset", "%s out of range", a);
            if (!strcmp(a, "--retrieve")) o->ap.k = (int)n;
            else if (!strcmp(a, "--negatives")) o->ap.negatives = (int)n;
            else if (!strcmp(a, "--budget")) o->ap.budget_tokens = (int)n;
            else o->seed = n;
        } else return rt_cli_usage_error("dataset", "unknown option '%s'", a);
    }
    if (!o->memory && !o->no_retrieval) return rt_cli_usage_error("dataset", "missing MEMORY_DIR (or --no-retrieval)");
    if (!o->from || !o->out || !o->tokenizer) return rt_cli_usage_error("dataset", "--from, --tokenizer and -o are required");
    return 0;
}

typedef struct {
    size_t episodes, skipped_failures, examples, useful, cut_parts, over_budget;
} dataset_stats;

/* Writes the examples of one successful episode. */
static rt_status episode_examples(const options *o, rt_memory *mem, const rt_tokenizer *tok, json_t *ep, rt_rng *rng,
                                  rt_atomic_file *out, dataset_stats *st) {
    const char *id = json_string_value(json_object_get(ep, "id"));
    const char *task = json_string_value(json_object_get(ep, "task"));
    const char *type = json_string_value(json_object_get(ep, "task_type"));
    const char *env = json_string_value(json_object_get(ep, "env"));
    json_t *steps = json_object_get(ep, "steps");
    const char *obs0 = json_string_value(json_object_get(json_object_get(ep, "meta"), "first_observation"));
    if (!id || !task || !json_is_array(steps)) return rt_fail(RT_ERR_FORMAT, "episode needs 'id', 'task' and 'steps'");
    size_t n = json_array_size(steps);
    rt_memory_step *hist = rt_calloc(n + 1, sizeof *hist);
    rt_retrieved r = {0};
    rt_status s = RT_OK;
    for (size_t i = 0; i < n && s == RT_OK; i++) {
        json_t *step = json_array_get(steps, i);
        int useful = rt_rng_double(rng) < o->p_useful;
        if (mem && (i == 0 || o->ap.dynamic)) {
            rt_retrieve_spec rs = {env, task, hist, (int)i, id, o->exclude_same_task ? task : NULL, useful ? NULL : type,
                                   o->ap.any_version ? NULL : json_object_get(ep, "api_versions")};
            s = rt_retrieve(mem, &o->ap, &rs, &r);
            if (s != RT_OK) break;
        }
        rt_prompt_parts parts = {task, r.succ, r.n_succ, r.fail, r.n_fail, r.doc_text, r.n_docs, hist, (int)i, obs0};
        char *prompt = NULL;
        rt_prompt_stats ps;
        rt_status bs = rt_prompt_build(tok, &parts, o->ap.budget_tokens, &prompt, &ps);
        if (bs == RT_ERR_ARG) {
            st->over_budget++; /* counted and reported: the task and last step alone exceed the budget */
        } else if ((s = bs) == RT_OK) {
            st->cut_parts += (size_t)(ps.dropped_failures + ps.dropped_successes + ps.dropped_docs + ps.dropped_thoughts + ps.dropped_history);
            char *target = rt_step_target(json_string_value(json_object_get(step, "thought")),
                                          json_string_value(json_object_get(step, "action")));
            char ex_id[512];
            snprintf(ex_id, sizeof ex_id, "%s#%zu", id, i);
            json_t *ex = json_pack("{s:s, s:s, s:s, s:b, s:s}", "id", ex_id, "prompt", prompt, "completion", target,
                                   "useful", mem ? useful : 0, "task_type", type ? type : "");
            char *line = json_dumps(ex, JSON_COMPACT | JSON_PRESERVE_ORDER);
            s = rt_atomic_write(out, line, strlen(line));
            if (s == RT_OK) s = rt_atomic_write(out, "\n", 1);
            st->examples++;
            st->useful += mem && useful;
            free(line), free(target);
            json_decref(ex);
        }
        free(prompt);
        hist[i].thought = json_string_value(json_object_get(step, "thought"));
        hist[i].action = json_string_value(json_object_get(step, "action"));
        hist[i].observation = json_string_value(json_object_get(step, "observation"));
    }
    rt_retrieved_free(&r);
    free(hist);
    return s;
}

int rt_cmd_dataset(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? RT_EXIT_OK : rc;
    rt_tokenizer *tok = NULL;
    rt_memory *mem = NULL;
    FILE *in = NULL;
    rt_atomic_file out = {0};
    int out_open = 0;
    dataset_stats st = {0};
    rt_status s = rt_tokenizer_load(o.tokenizer, &tok);
    if (s == RT_OK && !o.no_retrieval) s = rt_memory_open(o.memory, RT_MEMORY_READ, &mem);
    if (s == RT_OK && !(in = fopen(o.from, "rb"))) s = rt_fail(RT_ERR_IO, "%s: cannot open", o.from);
    if (s == RT_OK && (s = rt_atomic_open(&out, o.out)) == RT_OK) out_open = 1;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    rt_rng rng;
    rt_rng_seed(&rng, (uint64_t)o.seed);
    while (s == RT_OK && getline(&line, &cap, in) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        json_error_t err;
        json_t *ep = json_loads(line, 0, &err);
        if (!ep || !json_is_object(ep)) {
            s = rt_fail(RT_ERR_FORMAT, "%s:%zu: invalid JSON: %s", o.from, lineno, ep ? "not an object" : err.text);
        } else if (json_object_get(ep, "tool") && !json_object_get(ep, "steps")) {
            /* a doc line; docs come from the memory */
        } else if (strcmp(json_string_value(json_object_get(ep, "outcome")) ? json_string_value(json_object_get(ep, "outcome")) : "", "success")) {
            st.skipped_failures++;
        } else {
            st.episodes++;
            s = episode_examples(&o, mem, tok, ep, &rng, &out, &st);
            if (s != RT_OK) rt_fail_context(s, "%s:%zu", o.from, lineno);
        }
        json_decref(ep);
    }
    free(line);
    if (in) fclose(in);
    if (out_open) s = s == RT_OK ? rt_atomic_commit(&out) : (rt_atomic_abort(&out), s);
    if (mem) rt_memory_close(mem);
    rt_tokenizer_free(tok);
    if (s != RT_OK) return rt_cli_fail("dataset");
    printf("wrote %zu examples from %zu successful episodes (%zu failed episodes skipped) to %s\n", st.examples,
           st.episodes, st.skipped_failures, o.out);
    if (mem) printf("useful retrieval in %zu of %zu examples (p = %.2f); %zu retrieved parts cut to fit %d tokens\n",
                    st.useful, st.examples, o.p_useful, st.cut_parts, o.ap.budget_tokens);
    if (st.over_budget)
        rt_warn("%zu steps left out: the task and the last step alone exceed the budget of %d tokens", st.over_budget,
                o.ap.budget_tokens);
    if (st.examples == 0) {
        fprintf(stderr, "retrace dataset: no example was written to %s (raise --budget?)\n", o.out);
        return RT_EXIT_FAIL;
    }
    return RT_EXIT_OK;
}
