/* gguf_internal.h: the GGUF handle's fields, shared by the parser (gguf.c) and the getters (gguf_get.c). */
#ifndef RT_BASE_GGUF_INTERNAL_H
#define RT_BASE_GGUF_INTERNAL_H

#include "retrace/gguf.h"

struct rt_gguf {
    char *path;
    const uint8_t *base; /* the whole file */
    size_t len;
    int mapped;          /* 1: base is our mmap, unmapped on close */
    uint32_t version;
    size_t alignment;
    rt_gguf_kv *kv;
    int n_kv;
    rt_gguf_tensor *tensors;
    int n_tensors;
};

#endif
