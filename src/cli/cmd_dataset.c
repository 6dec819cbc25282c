/* cmd_dataset.c: `retrace dataset`: options around rt_dataset_build (src/dataset), which turns successful
 * episodes into retrieval-augmented SFT examples (RAFT style). */
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
           "  -k, --retrieve K      successful episodes retrieved (2); the episode itself is never retrieved\n"
           "  --negatives N         failed episodes mined (1)\n"
           "  --p-useful P          fraction of examples whose retrieval may hold useful episodes (0.8); the\n"
           "                        rest get distractors only: no success of the same task type (RAFT)\n"
           "  --exclude-same-task   also never retrieve an episode with the same task text\n"
           "  --any-version         also retrieve episodes that used another version of the episode's tools,\n"
           "                        and the newest docs (default: the versions the episode ran with)\n"
           "  --static | --dynamic  retrieval key: the task alone, or the task and the last steps (dynamic)\n"
           "  --reward-weight X (0.5)  --no-docs  --no-retrieval (plain SFT examples: task and history only)\n"
           "  --budget N            prompt tokens (1024), cut by the documented policy (docs/agent.md)\n"
           "  -s, --seed N          the useful/distractor draw (1)\n");
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.dp = rt_dataset_params_default()};
    long long seed = (long long)o->dp.seed;
    rt_retrieval_params *r = &o->dp.retrieval;
    const rt_arg args[] = {
        RT_ARG_S("--from", &o->from), RT_ARG_S("-o|--output", &o->out), RT_ARG_S("--tokenizer", &o->tokenizer),
        RT_ARG_B("--static", &r->dynamic, 0), RT_ARG_B("--dynamic", &r->dynamic, 1), RT_ARG_B("--no-docs", &r->docs, 0),
        RT_ARG_B("--no-retrieval", &o->no_retrieval, 1), RT_ARG_B("--exclude-same-task", &o->dp.exclude_same_task, 1),
        RT_ARG_B("--any-version", &r->any_version, 1), RT_ARG_F("--p-useful", &o->dp.p_useful, 0, 1),
        RT_ARG_F("--reward-weight", &r->reward_weight, 0, 1), RT_ARG_I32("-k|--retrieve", &r->k, 0, 100000000),
        RT_ARG_I32("--negatives", &r->negatives, 0, 100000000), RT_ARG_I32("--budget", &o->dp.budget_tokens, 0, 100000000),
        RT_ARG_I("-s|--seed", &seed, 0, 1e18), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"dataset", usage, args, 0, 1, 1};
    int n_pos = 0, rc = rt_args_parse(&spec, argc, argv, &o->memory, &n_pos);
    if (rc) return rc;
    o->dp.seed = (uint64_t)seed;
    if (!o->memory && !o->no_retrieval) return rt_cli_usage_error("dataset", "missing MEMORY_DIR (or --no-retrieval)");
    if (!o->from || !o->out || !o->tokenizer) return rt_cli_usage_error("dataset", "--from, --tokenizer and -o are required");
    return 0;
}

int rt_cmd_dataset(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
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
