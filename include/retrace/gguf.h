/* retrace/gguf.h: reading GGUF files, llama.cpp's single-file model format (versions 2 and 3).
 *
 * A GGUF file is a header (magic "GGUF", version, counts), typed key/value metadata, a table of tensor
 * descriptions (name, shape, ggml type, offset) and, after padding to `general.alignment`, the tensor
 * data. rt_gguf_open maps the file and checks every length, count, type and offset against the file's
 * size before anything is handed out, so the views below always point inside the mapping: a truncated
 * file, a lying length or a tensor past the end is an error that names the file and the key or tensor.
 *
 * Values are views into the mapping (little-endian, possibly unaligned): read numbers through the
 * getters, walk arrays with rt_gguf_iter. The container knows nothing about models; src/model maps
 * tensors onto a decoder and dequantizes them, src/tok builds a tokenizer from the metadata. */
#ifndef RETRACE_GGUF_H
#define RETRACE_GGUF_H

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, with the values the format gives them. */
typedef enum {
    RT_GGUF_U8 = 0,
    RT_GGUF_I8 = 1,
    RT_GGUF_U16 = 2,
    RT_GGUF_I16 = 3,
    RT_GGUF_U32 = 4,
    RT_GGUF_I32 = 5,
    RT_GGUF_F32 = 6,
    RT_GGUF_BOOL = 7,
    RT_GGUF_STRING = 8,
    RT_GGUF_ARRAY = 9,
    RT_GGUF_U64 = 10,
    RT_GGUF_I64 = 11,
    RT_GGUF_F64 = 12,
} rt_gguf_type;

/* Tensor types (ggml's numbering). Only those with a block layout below are accepted. */
typedef enum {
    RT_GGML_F32 = 0,
    RT_GGML_F16 = 1,
    RT_GGML_Q4_0 = 2,
    RT_GGML_Q4_1 = 3,
    RT_GGML_Q5_0 = 6,
    RT_GGML_Q5_1 = 7,
    RT_GGML_Q8_0 = 8,
    RT_GGML_Q8_1 = 9,
    RT_GGML_Q2_K = 10,
    RT_GGML_Q3_K = 11,
    RT_GGML_Q4_K = 12,
    RT_GGML_Q5_K = 13,
    RT_GGML_Q6_K = 14,
    RT_GGML_Q8_K = 15,
    RT_GGML_I8 = 24,
    RT_GGML_I16 = 25,
    RT_GGML_I32 = 26,
    RT_GGML_I64 = 27,
    RT_GGML_F64 = 28,
    RT_GGML_BF16 = 30,
} rt_ggml_type;

#define RT_GGUF_MAX_DIMS 4
#define RT_GGUF_DEFAULT_ALIGNMENT 32

/* Name ("Q4_K"), elements per block and bytes per block of a ggml type; NULL / 0 when unknown. */
const char *rt_ggml_type_name(rt_ggml_type t);
int64_t rt_ggml_block_elems(rt_ggml_type t);
size_t rt_ggml_block_bytes(rt_ggml_type t);
/* Name of a metadata type ("u32", "string", "array"). */
const char *rt_gguf_type_name(rt_gguf_type t);

/* One metadata value: a view into the file. For a string, n is its byte length and data its bytes (not
 * NUL-terminated); for an array, elem is the element type, n the element count and data the first
 * element; for a scalar, data holds its little-endian bytes. */
typedef struct {
    rt_gguf_type type;
    rt_gguf_type elem;
    uint64_t n;
    const uint8_t *data;
    size_t size; /* bytes the value spans */
} rt_gguf_value;

typedef struct {
    const char *key; /* NUL-terminated copy */
    rt_gguf_value value;
} rt_gguf_kv;

typedef struct {
    const char *name;           /* NUL-terminated copy */
    int n_dims;
    int64_t ne[RT_GGUF_MAX_DIMS]; /* ne[0] is the innermost (contiguous) dimension, as in ggml */
    rt_ggml_type type;
    uint64_t offset;            /* from the start of the data section */
    size_t nbytes;
    int64_t numel;
    const void *data;           /* inside the mapping */
} rt_gguf_tensor;

typedef struct rt_gguf rt_gguf;

/* Maps and validates a file. */
rt_status rt_gguf_open(const char *path, rt_gguf **out);
/* The same checks over bytes in memory (tests, fuzzing); `data` must outlive the handle. */
rt_status rt_gguf_open_buffer(const void *data, size_t len, const char *name, rt_gguf **out);
void rt_gguf_close(rt_gguf *g);
/* 1 when `path` names a GGUF file: a regular file starting with the magic, or a path ending in ".gguf"
 * (so that a missing or broken .gguf gets the GGUF reader's error rather than a folder's). */
int rt_gguf_path_is_gguf(const char *path);

const char *rt_gguf_path(const rt_gguf *g);
uint32_t rt_gguf_version(const rt_gguf *g);
size_t rt_gguf_alignment(const rt_gguf *g);

int rt_gguf_kv_count(const rt_gguf *g);
const rt_gguf_kv *rt_gguf_kv_at(const rt_gguf *g, int i);
/* NULL when absent. */
const rt_gguf_value *rt_gguf_find(const rt_gguf *g, const char *key);

/* Typed getters; a missing key is RT_ERR_NOT_FOUND, a mistyped one RT_ERR_FORMAT, both naming file and
 * key. Integers of any width and sign convert when the value fits; floats take f32 and f64. */
rt_status rt_gguf_get_int(const rt_gguf *g, const char *key, int64_t *out);
rt_status rt_gguf_get_float(const rt_gguf *g, const char *key, double *out);
rt_status rt_gguf_get_bool(const rt_gguf *g, const char *key, int *out);
/* A view, not NUL-terminated. */
rt_status rt_gguf_get_str(const rt_gguf *g, const char *key, const char **s, size_t *len);
/* A short string value copied into buf (NUL-terminated, cut to cap-1 bytes, bytes outside printable
 * ASCII replaced by '?'), for names that go into messages: architecture, tokenizer model. */
rt_status rt_gguf_get_name(const rt_gguf *g, const char *key, char *buf, size_t cap);
/* An array whose elements are of type `elem` (-1: any element type). */
rt_status rt_gguf_get_array(const rt_gguf *g, const char *key, int elem, rt_gguf_value *out);
/* Defaults for optional keys: absent gives `dflt`; present but mistyped is still an error. */
rt_status rt_gguf_get_int_or(const rt_gguf *g, const char *key, int64_t dflt, int64_t *out);
rt_status rt_gguf_get_float_or(const rt_gguf *g, const char *key, double dflt, double *out);

/* Scalar value conversions (0 / RT_ERR_FORMAT when the value is of another kind or does not fit). */
rt_status rt_gguf_value_int(const rt_gguf_value *v, int64_t *out);
rt_status rt_gguf_value_float(const rt_gguf_value *v, double *out);

/* Walks an array's elements in order (arrays of arrays included). The parser checked every length
 * already, so next cannot run past the file. */
typedef struct {
    const uint8_t *p;
    rt_gguf_type elem;
    uint64_t left;
} rt_gguf_iter;

void rt_gguf_iter_init(rt_gguf_iter *it, const rt_gguf_value *array);
/* 1 and the next element in *v, or 0 at the end. */
int rt_gguf_iter_next(rt_gguf_iter *it, rt_gguf_value *v);

int rt_gguf_tensor_count(const rt_gguf *g);
const rt_gguf_tensor *rt_gguf_tensor_at(const rt_gguf *g, int i);
const rt_gguf_tensor *rt_gguf_find_tensor(const rt_gguf *g, const char *name);

/* Dequantizes `n` elements of a tensor's data (n a multiple of the block size) to float32, exactly as
 * ggml and the `gguf` Python package do. F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and
 * Q6_K; other types are RT_ERR_UNSUPPORTED. Implemented in src/model/gguf_dequant.c (parallel over
 * blocks with OpenMP for large tensors). */
rt_status rt_gguf_dequantize(rt_ggml_type type, const void *src, float *dst, int64_t n);
/* A whole tensor, with a check that it holds `numel` elements; errors name the tensor. */
rt_status rt_gguf_tensor_to_f32(const rt_gguf *g, const rt_gguf_tensor *t, float *dst, int64_t numel);

#ifdef __cplusplus
}
#endif
#endif
