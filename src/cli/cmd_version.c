/* cmd_version.c: `retrace version` prints the version and the build's capabilities. */
#include <cblas.h>

#include "cli/cli.h"

const char rt_cmd_version_summary[] = "print the version and build configuration";

static void usage(void) { printf("usage: retrace version\n\nPrints the retrace version, the BLAS in use and the thread count.\n"); }

int rt_cmd_version(int argc, char **argv) {
    const rt_arg args[] = {RT_ARG_TABLE_END};
    const rt_args_spec spec = {"version", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    printf("retrace %s\n", RT_VERSION_STRING);
    printf("blas: %s\n", openblas_get_config());
    printf("threads: %d\n", rt_threads());
    return RT_EXIT_OK;
}
