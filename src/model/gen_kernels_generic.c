/* gen_kernels_generic.c: the inference kernels for any CPU of the target (the portable fallback; with
 * RT_NATIVE=ON it is compiled for the build machine like everything else). */
#define GEN_KFN(name) name##_generic
#include "model/gen_kernels_impl.h"
