/* cmd_report.c: `retrace report BENCH_DIR [-o FILE]` writes the HTML report of a `retrace bench` folder
 * (one self-contained file that opens offline). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

const char rt_cmd_report_summary[] = "write the HTML report (table and charts) of a bench folder";

static void usage(void) {
    printf("usage: retrace report BENCH_DIR [-o FILE]\n\n"
           "Writes one self-contained HTML file (inline CSS and SVG, no scripts, no network) from\n"
           "BENCH_DIR/results.json and the files next to it: the configuration x split table (success with its\n"
           "Wilson interval, mean reward, same-type retrieval share), the paired McNemar tests, the index\n"
           "ablation, success by task type, one retrieved context per configuration and (c) beside (e) on one\n"
           "seed (from the episode files), the run's settings, seeds, commit and machine, links to the episode\n"
           "files, the loss curves and the evaluation time (docs/agent.md, \"The report\"). Parts whose data\n"
           "results.json lacks are left out.\n\n"
           "  -o FILE    where to write it (default: BENCH_DIR/report.html)\n");
}

int rt_cmd_report(int argc, char **argv) {
    const char *out = NULL, *pos[1] = {NULL};
    int n_pos = 0;
    const rt_arg opts[] = {RT_ARG_S("-o|--out|--output", &out), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"report", usage, opts, 1, 1, 0};
    int rc = rt_args_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return RT_ARGS_EXIT(rc);
    const char *dir = pos[0];
    char *default_out = out ? NULL : rt_path_join(dir, "report.html");
    if (!out) out = default_out;
    rt_status s = rt_report_write(dir, out);
    if (s == RT_OK) printf("report: %s\n", out);
    free(default_out);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("report");
}
