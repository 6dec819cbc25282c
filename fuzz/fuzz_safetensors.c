/* fuzz_safetensors.c: libFuzzer target for the safetensors parser.
 *
 * Feeds arbitrary bytes to the same parser rt_st_open uses (through rt_st_open_buffer) and, when they
 * are accepted, reads every tensor as float32 and as int32, so a header that passes validation but lies
 * would show up as an out-of-bounds read under ASan. Every rejection must leave a one-line message.
 * Run: make fuzz && ./build-fuzz/fuzz/fuzz_safetensors -max_total_time=60 [corpus folder] */
#include <stdlib.h>
#include <string.h>

#include "retrace/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_st_file *f;
    if (rt_st_open_buffer(data, size, "fuzz.safetensors", &f) != RT_OK) {
        if (strchr(rt_errmsg(), '\n') || !strstr(rt_errmsg(), "fuzz.safetensors")) abort();
        return 0;
    }
    for (int i = 0; i < rt_st_count(f); i++) {
        const rt_st_tensor *t = rt_st_at(f, i);
        /* numel * element size equals the tensor's bytes, which lie inside the input, so this is bounded. */
        size_t n = (size_t)t->numel;
        float *out = malloc(n * sizeof *out + 1);
        int32_t *ids = malloc(n * sizeof *ids + 1);
        if (rt_st_find(f, t->name) != t) abort();
        if (rt_st_read_f32(f, t->name, out, t->ndim, t->shape) != RT_OK) abort();
        rt_st_read_i32(f, t->name, ids, t->ndim, t->shape); /* fails for float dtypes and big I64; fine */
        free(out);
        free(ids);
    }
    rt_st_metadata(f, "format");
    rt_st_close(f);
    return 0;
}
