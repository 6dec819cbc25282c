/* encode_batch.c: encoding many texts on OpenMP threads. Each thread keeps its own word cache (they
 * are thread-local), so threads share nothing but the read-only tokenizer. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "tok/tok_internal.h"

/* Texts are claimed in chunks so that threads rarely contend, yet long and short texts even out. */
#define BATCH_CHUNK_TEXTS 64

rt_status rt_tokenizer_encode_batch(const rt_tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                                    int flags, int threads, rt_tok_ids *out) {
    if (threads <= 0) threads = rt_threads();
    rt_status first = RT_OK;
    char msg[512] = "";
    /* Error messages are thread-local: a failing worker copies its own into msg for the caller. */
#pragma omp parallel for schedule(dynamic, BATCH_CHUNK_TEXTS) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
        rt_status s = rt_tokenizer_encode(t, texts[i], lens[i], flags, &out[i]);
        if (s != RT_OK) {
#pragma omp critical(rt_tok_batch_error)
            if (first == RT_OK) {
                first = s;
                snprintf(msg, sizeof msg, "text %zu: %s", i, rt_errmsg());
            }
        }
    }
    if (first != RT_OK) return rt_fail(first, "%s", msg);
    return RT_OK;
}
