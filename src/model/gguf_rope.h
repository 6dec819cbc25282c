/* gguf_rope.h: llama3 rope scaling recovered from a GGUF file's rope_freqs.weight (gguf_rope.c). */
#ifndef RT_MODEL_GGUF_ROPE_H
#define RT_MODEL_GGUF_ROPE_H

#include "retrace/gguf.h"
#include "retrace/tensor.h"

/* With no rope_freqs.weight: RT_OK, rope unchanged. Otherwise rope (theta set, kind default) becomes
 * the llama3 scaling whose divisors equal the tensor's, or an error naming the file and tensor. */
rt_status rt_gguf_read_rope_freqs(const rt_gguf *g, int head_dim, rt_rope_params *rope);

#endif
