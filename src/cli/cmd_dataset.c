/* cmd_dataset.c: `retrace dataset`: options around rt_dataset_build (src/dataset), which turns successful
 * episodes into retrieval-augmented SFT examples (RAFT style). */
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_dataset_summary[] = "build retrieval-augmented SFT examples (RAFT style) from episodes and a memory";

typedef struct {
    const char *memory, *from, *out, *tokenizer;
    rt_dataset_params dp;
    int no_retrieval;
} options;

static void usage(void) {
    printf("usage: retrace dataset MEMORY_DIR --from EPISODES.jsonl --tokenizer DIR -o SFT.jsonl [options]\n\n"
           "For every step of every successful episode in --from, writes {\"id\", \"prompt\", \"completion\",\n"
           "\"useful\", \"task_type\"}: the prompt the agent would see before that step and the step\n"
           "(\"think: ...\\nact: ...\\n\") as the completion. Ready for `retrace train`. A step marked\n"
           "\"slip\": true (a noisy policy's deliberate mistake) is never a completion; it stays in the history.\n\n"
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
    *o = (options){.dp = rt_dataset_params_default()};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (rt_cli_is_help(a)) return usage(), -1;
        if (!strcmp(a, "--static")) { o->dp.retrieval.dynamic = 0; continue; }
        if (!strcmp(a, "--dynamic")) { o->dp.retrieval.dynamic = 1; continue; }
        if (!strcmp(a, "--no-docs")) { o->dp.retrieval.docs = 0; continue; }
        if (!strcmp(a, "--no-retrieval")) { o->no_retrieval = 1; continue; }
        if (!strcmp(a, "--exclude-same-task")) { o->dp.exclude_same_task = 1; continue; }
        if (!strcmp(a, "--any-version")) { o->dp.retrieval.any_version = 1; continue; }
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
            if (!strcmp(a, "--p-useful")) o->dp.p_useful = x;
            else o->dp.retrieval.reward_weight = x;
        } else if (!strcmp(a, "--retrieve") || !strcmp(a, "--negatives") || !strcmp(a, "--budget") || !strcmp(a, "--seed")) {
            if (rt_cli_parse_int("dataset", a, v, &n)) return RT_EXIT_USAGE;
            if (n < 0 || n > 100000000) return rt_cli_usage_error("dataset", "%s out of range", a);
            if (!strcmp(a, "--retrieve")) o->dp.retrieval.k = (int)n;
            else if (!strcmp(a, "--negatives")) o->dp.retrieval.negatives = (int)n;
            else if (!strcmp(a, "--budget")) o->dp.budget_tokens = (int)n;
            else o->dp.seed = (uint64_t)n;
        } else return rt_cli_usage_error("dataset", "unknown option '%s'", a);
    }
    if (!o->memory && !o->no_retrieval) return rt_cli_usage_error("dataset", "missing MEMORY_DIR (or --no-retrieval)");
    if (!o->from || !o->out || !o->tokenizer) return rt_cli_usage_error("dataset", "--from, --tokenizer and -o are required");
    return 0;
}

int rt_cmd_dataset(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? RT_EXIT_OK : rc;
    rt_tokenizer *tok = NULL;
    rt_memory *mem = NULL;
    rt_dataset_stats st = {0};
    rt_status s = rt_tokenizer_load(o.tokenizer, &tok);
    if (s == RT_OK && !o.no_retrieval) s = rt_memory_open(o.memory, RT_MEMORY_READ, &mem);
    if (s == RT_OK) s = rt_dataset_build(&o.dp, mem, tok, o.from, o.out, &st);
    if (mem) rt_memory_close(mem);
    rt_tokenizer_free(tok);
    if (s != RT_OK) return rt_cli_fail("dataset");
    printf("wrote %zu examples from %zu successful episodes (%zu failed episodes skipped) to %s\n", st.examples,
           st.episodes, st.skipped_failures, o.out);
    if (o.no_retrieval == 0)
        printf("useful retrieval in %zu of %zu examples (p = %.2f); %zu retrieved parts cut to fit %d tokens\n",
               st.useful, st.examples, o.dp.p_useful, st.cut_parts, o.dp.budget_tokens);
    if (st.slips) printf("%zu slipped steps (deliberate mistakes) kept in the history, not as targets\n", st.slips);
    if (st.over_budget)
        rt_warn("%zu steps left out: the task and the last step alone exceed the budget of %d tokens", st.over_budget,
                o.dp.budget_tokens);
    if (st.examples == 0) {
        fprintf(stderr, "retrace dataset: no example was written to %s (raise --budget?)\n", o.out);
        return RT_EXIT_FAIL;
    }
    return RT_EXIT_OK;
}
