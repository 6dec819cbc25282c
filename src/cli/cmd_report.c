/* cmd_report.c: `retrace report BENCH_DIR [-o FILE]` writes the HTML report of a `retrace bench` folder
 * (one self-contained file that opens offline). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_report_summary[] = "write the HTML report (table and charts) of a bench folder";

static void usage(void) {
    printf("usage: retrace report BENCH_DIR [-o FILE]\n\n"
           "Writes one self-contained HTML file (inline CSS and SVG, no scripts, no network) with the results\n"
           "table, success by configuration and split, the loss curves and the evaluation time, from\n"
           "BENCH_DIR/results.json and the loss logs it names.\n\n"
           "  -o FILE    where to write it (default: BENCH_DIR/report.html)\n");
}

int rt_cmd_report(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (rt_cli_is_help(a)) return usage(), RT_EXIT_OK;
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) return rt_cli_usage_error("report", "'%s' needs a value (see --help)", a);
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return rt_cli_usage_error("report", "unknown option '%s'", a);
        } else if (dir) {
            return rt_cli_usage_error("report", "one BENCH_DIR only ('%s' and '%s')", dir, a);
        } else {
            dir = a;
        }
    }
    if (!dir) return rt_cli_usage_error("report", "BENCH_DIR is required (see --help)");
    char *default_out = out ? NULL : rt_path_join(dir, "report.html");
    if (!out) out = default_out;
    rt_status s = rt_report_write(dir, out);
    if (s == RT_OK) printf("report: %s\n", out);
    free(default_out);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("report");
}
