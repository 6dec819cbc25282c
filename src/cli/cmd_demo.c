/* cmd_demo.c: `retrace demo`, the main job on built-in data. Until the full pipeline lands it pretrains
 * the tiny model on the built-in episode corpus, showing the loss fall and a sample. */
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_demo_summary[] = "run the main job on built-in data (pretrain a tiny model, show loss and a sample)";

int rt_cmd_demo(int argc, char **argv) {
    const char *out = "demo-out";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (rt_cli_is_help(argv[i])) {
            printf("usage: retrace demo [--quick] [-o DIR]\n\nPretrains a tiny model on the built-in corpus of generated agent\n"
                   "episodes (300 steps; --quick: 40) and prints the loss and a sample. Output in DIR (demo-out).\n");
            return RT_EXIT_OK;
        }
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else return rt_cli_usage_error("demo", "unknown option '%s' (see --help)", argv[i]);
    }
    char *args[] = {"pretrain", "--steps", quick ? "40" : "300", "-o", (char *)out, NULL};
    printf("retrace demo: pretraining a tiny Llama-style model on generated agent episodes\n");
    fflush(stdout);
    return rt_cmd_pretrain(5, args);
}
