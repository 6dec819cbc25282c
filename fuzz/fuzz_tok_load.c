/* fuzz_tok_load.c: libFuzzer target for loading tokenizer.json text: any input either loads or fails
 * with a message, never crashes; a loaded tokenizer then encodes and decodes a fixed text.
 * Seed corpus: tests/fixtures/tok/models/ (minus the large ones):
 *   ./build-fuzz/fuzz/fuzz_tok_load -max_total_time=60 -max_len=65536 CORPUS_DIR */
#include <stdlib.h>
#include <string.h>

#include "retrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_tokenizer *t = NULL;
    if (rt_tokenizer_load_json((const char *)data, size, "fuzz.json", &t) != RT_OK) {
        if (t || !rt_errmsg()[0]) abort(); /* a failure must leave no object and say why */
        return 0;
    }
    static const char TEXT[] = "Hello world, it's 2024! caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x8E\x89 <s>";
    rt_tok_ids ids = {0};
    if (rt_tokenizer_encode(t, TEXT, sizeof TEXT - 1, RT_TOK_ADD_SPECIAL, &ids) != RT_OK) abort();
    char *out;
    size_t len;
    /* The post-processor may name ids the vocabulary lacks; decode must then fail cleanly. */
    if (rt_tokenizer_decode(t, ids.ids, ids.n, 0, &out, &len) == RT_OK) free(out);
    int32_t n = rt_tokenizer_vocab_size(t);
    for (int32_t id = 0; id < n && id < 64; id++) {
        if (rt_tokenizer_decode(t, &id, 1, 0, &out, &len) == RT_OK) free(out);
    }
    rt_tok_ids_free(&ids);
    rt_tokenizer_free(t);
    return 0;
}
