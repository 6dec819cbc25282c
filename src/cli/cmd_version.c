/* cmd_version.c: `retrace version` prints the version and the build's capabilities. */
#include <cblas.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_version_summary[] = "print the version and build configuration";

int rt_cmd_version(int argc, char **argv) {
    if (argc > 1 && rt_cli_is_help(argv[1])) {
        printf("usage: retrace version\n\nPrints the retrace version, the BLAS in use and the thread count.\n");
        return RT_EXIT_OK;
    }
    if (argc > 1) return rt_cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("retrace %s\n", RT_VERSION_STRING);
    printf("blas: %s\n", openblas_get_config());
    printf("threads: %d\n", rt_threads());
    return RT_EXIT_OK;
}
