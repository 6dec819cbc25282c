/* fuzz_gguf.c: libFuzzer target for the GGUF reader.
 *
 * Feeds arbitrary bytes to the parser rt_gguf_open uses (through rt_gguf_open_buffer); when they are
 * accepted, walks every metadata value (nested arrays included), dequantizes every tensor of a
 * supported type and reads the model config, so a header that passes validation but lies shows up as
 * an out-of-bounds read under ASan. Every rejection must leave a one-line message naming the input.
 * Run: make fuzz && ./build-fuzz/fuzz/fuzz_gguf -max_total_time=60 [corpus folder]
 * (the files of tests/fixtures/gguf make a good seed corpus). */
#include <stdlib.h>
#include <string.h>

#include "retrace/gguf.h"
#include "retrace/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Dequantized outputs larger than this are skipped (the bytes were checked; only memory is saved). */
#define FUZZ_MAX_ELEMS (1 << 20)

static uint64_t walk(const rt_gguf_value *v) {
    uint64_t sum = v->size;
    if (v->type != RT_GGUF_ARRAY) {
        int64_t i;
        double d;
        if (rt_gguf_value_int(v, &i) == RT_OK) sum += (uint64_t)i;
        else if (rt_gguf_value_float(v, &d) == RT_OK) sum += d == d;
        else if (v->type == RT_GGUF_STRING && v->n) sum += v->data[0] + v->data[v->n - 1];
        return sum;
    }
    rt_gguf_iter it;
    rt_gguf_value e;
    rt_gguf_iter_init(&it, v);
    uint64_t count = 0;
    while (rt_gguf_iter_next(&it, &e)) {
        sum += walk(&e);
        count++;
    }
    if (count != v->n) abort();
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_gguf *g;
    if (rt_gguf_open_buffer(data, size, "fuzz.gguf", &g) != RT_OK) {
        if (strchr(rt_errmsg(), '\n') || !strstr(rt_errmsg(), "fuzz.gguf")) abort();
        return 0;
    }
    volatile uint64_t sink = 0;
    for (int i = 0; i < rt_gguf_kv_count(g); i++) {
        const rt_gguf_kv *kv = rt_gguf_kv_at(g, i);
        if (rt_gguf_find(g, kv->key) != &kv->value) abort();
        sink += walk(&kv->value);
    }
    for (int i = 0; i < rt_gguf_tensor_count(g); i++) {
        const rt_gguf_tensor *t = rt_gguf_tensor_at(g, i);
        if (rt_gguf_find_tensor(g, t->name) != t) abort();
        if (t->numel > FUZZ_MAX_ELEMS) continue;
        float *out = malloc((size_t)t->numel * sizeof *out + 1);
        rt_gguf_tensor_to_f32(g, t, out, t->numel); /* fails for unsupported types; fine */
        free(out);
    }
    rt_model_config cfg;
    rt_gguf_model_config(g, &cfg);
    rt_gguf_close(g);
    (void)sink;
    return 0;
}
