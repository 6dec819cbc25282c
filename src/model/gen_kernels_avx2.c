/* gen_kernels_avx2.c: the inference kernels built with AVX2 and FMA (CMake adds -mavx2 -mfma to this file
 * alone); gen_kernels.c calls them only on a CPU that has both. */
#define GEN_KFN(name) name##_avx2
#include "model/gen_kernels_impl.h"
