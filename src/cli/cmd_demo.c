/* cmd_demo.c: `retrace demo`, the main job on built-in data: the whole chain of `retrace bench`
 * (generate experience, build the memory, pretrain the tiny base model, build the datasets, train three
 * LoRA adapters, evaluate the configurations on the paper's splits), ending with the table and the report. */
#include "cli/cli.h"

const char rt_cmd_demo_summary[] = "run the whole chain on built-in data and print the comparison table";

static void usage(void) {
    printf("usage: retrace demo [--quick] [-o DIR]\n\n"
           "Runs the whole chain on the built-in environments, as `retrace bench` does: generates\n"
           "household and toolapi experience, builds the memory, pretrains a tiny Llama-style model, builds\n"
           "plain, RAFT and retrace datasets, trains three LoRA adapters and compares (a) base, (b) retrieval\n"
           "only, (c) LoRA, (c+r) LoRA with retrieval at test time, (d) RAFT and (e) retrace on trained and\n"
           "held-out household task types and on seen (v1/v2) and drifted (v3) APIs, with the index ablation\n"
           "for (e). About 17 minutes on a quiet 2-core machine (estimated, pretraining included);\n"
           "--quick runs the same chain at a toy size in under a minute (its numbers mean nothing). Output\n"
           "in DIR (demo-out): results.json, report.html, and every intermediate file.\n");
}

int rt_cmd_demo(int argc, char **argv) {
    const char *out = "demo-out";
    int quick = 0;
    const rt_arg opts[] = {RT_ARG_B("--quick", &quick, 1), RT_ARG_S("-o|--output", &out), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"demo", usage, opts, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    char *args[] = {"bench", "-o", (char *)out, quick ? "--quick" : NULL, NULL};
    printf("retrace demo: the whole chain (experience -> memory -> pretraining -> datasets -> LoRA SFT -> evaluation)%s\n",
           quick ? ", toy size" : "");
    fflush(stdout);
    return rt_cmd_bench(quick ? 4 : 3, args);
}
