/* retrace/safetensors.h: the safetensors format, read through mmap and written atomically.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON header
 * ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}), then the
 * data. Readers validate everything a header claims (offsets inside the file, sizes matching shape and
 * dtype, no overlaps) before any tensor is touched. A model folder may instead hold a sharded checkpoint
 * (model.safetensors.index.json with a weight_map from tensor name to shard file). */
#ifndef RETRACE_SAFETENSORS_H
#define RETRACE_SAFETENSORS_H

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_ST_MAX_DIMS 8

/* Explicit values; only grow at the end. */
typedef enum {
    RT_DTYPE_F32 = 0,
    RT_DTYPE_F16 = 1,
    RT_DTYPE_BF16 = 2,
    RT_DTYPE_F64 = 3,
    RT_DTYPE_I64 = 4,
    RT_DTYPE_I32 = 5,
    RT_DTYPE_I16 = 6,
    RT_DTYPE_I8 = 7,
    RT_DTYPE_U8 = 8,
    RT_DTYPE_BOOL = 9,
} rt_dtype;

const char *rt_dtype_name(rt_dtype d);  /* "F32", "BF16", ... as in the format */
size_t rt_dtype_size(rt_dtype d);       /* bytes per element */

typedef struct {
    const char *name;
    rt_dtype dtype;
    int ndim;
    int64_t shape[RT_ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* points into the mapping; valid until rt_st_close */
    size_t nbytes;
    const char *file; /* the file this tensor lives in (for error messages) */
} rt_st_tensor;

typedef struct rt_st_file rt_st_file;

/* Opens a .safetensors file, a model.safetensors.index.json, or a folder holding either
 * (model.safetensors preferred, else the index). */
rt_status rt_st_open(const char *path, rt_st_file **out);
void rt_st_close(rt_st_file *f);
int rt_st_count(const rt_st_file *f);
const rt_st_tensor *rt_st_at(const rt_st_file *f, int i);
/* NULL when absent (no error set). */
const rt_st_tensor *rt_st_find(const rt_st_file *f, const char *name);
/* The __metadata__ value for key, or NULL (of the first shard for sharded checkpoints). */
const char *rt_st_metadata(const rt_st_file *f, const char *key);

/* Copies a tensor into `dst` as float32, converting F16/BF16/F64/integer types. Fails (naming the file
 * and tensor) when the tensor is missing or its shape differs from the `ndim`/`shape` expected. */
rt_status rt_st_read_f32(const rt_st_file *f, const char *name, float *dst, int ndim, const int64_t *shape);
/* The same for integer tensors (I64/I32/I16/I8/U8/BOOL) into int32. */
rt_status rt_st_read_i32(const rt_st_file *f, const char *name, int32_t *dst, int ndim, const int64_t *shape);

/* Element conversions, exposed for kernels and tests. */
float rt_bf16_to_f32(uint16_t h);
uint16_t rt_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
float rt_f16_to_f32(uint16_t h);
uint16_t rt_f32_to_f16(float f);  /* round to nearest even */

/* Writer: collect tensors (data is copied or converted at add time), then save atomically with the
 * header keys in sorted order, as the Python library does. */
typedef struct rt_st_writer rt_st_writer;

rt_st_writer *rt_st_writer_new(void);
void rt_st_writer_free(rt_st_writer *w);
/* Adds float32 data, stored as `dtype` (F32, F16 or BF16). */
rt_status rt_st_writer_add_f32(rt_st_writer *w, const char *name, rt_dtype dtype, int ndim, const int64_t *shape,
                               const float *data);
/* Adds raw bytes already in `dtype`. */
rt_status rt_st_writer_add_raw(rt_st_writer *w, const char *name, rt_dtype dtype, int ndim, const int64_t *shape,
                               const void *data);
rt_status rt_st_writer_set_metadata(rt_st_writer *w, const char *key, const char *value);
rt_status rt_st_writer_save(rt_st_writer *w, const char *path);

/* ---- additions ---- */

/* Parses a safetensors image already in memory, exactly as rt_st_open parses a mapped file. The bytes
 * are not copied: `data` must outlive the handle. `name` stands for the file in error messages. */
rt_status rt_st_open_buffer(const void *data, size_t len, const char *name, rt_st_file **out);

#ifdef __cplusplus
}
#endif
#endif
