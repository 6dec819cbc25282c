/* cmd_version.c: `retrace version` prints the version and the build's capabilities. */
#include <cblas.h>

#include "cli/cli.h"

const char rt_cmd_version_summary[] = "print the version and build configuration";

static void usage(void) { printf("usage: retrace version\n\nPrints the retrace version, the BLAS in use, the thread count, whether the build is portable or\n"
                        "native (-DRT_NATIVE=ON), and the distance kernels the CPU runs.\n"); }

int rt_cmd_version(int argc, char **argv) {
    const rt_arg args[] = {RT_ARG_TABLE_END};
    const rt_args_spec spec = {"version", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    printf("retrace %s\n", RT_VERSION_STRING);
    printf("blas: %s\n", openblas_get_config());
    printf("threads: %d\n", rt_threads());
#ifdef RT_BUILD_NATIVE
    printf("build: native (-march=native: runs only on CPUs with this one's instruction sets)\n");
#else
    printf("build: portable (the compiler's baseline target; SIMD kernels picked at run time)\n");
#endif
    printf("distance kernels: %s (RETRACE_SIMD=scalar|avx2|avx512 caps them)\n", rt_distance_kernel_name());
    return RT_EXIT_OK;
}
