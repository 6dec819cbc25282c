/* st_internal.h: what the safetensors reader, converter and writer share inside src/model/.
 *
 * A handle owns one or more shards (one per mapped file). Tensor names point at keys of the shard's
 * parsed header, which therefore lives as long as the handle. */
#ifndef RETRACE_ST_INTERNAL_H
#define RETRACE_ST_INTERNAL_H

#include "retrace/safetensors.h"

#include <jansson.h>

/* The format's own limits: 8 bytes of little-endian header length, and the Python library refuses
 * headers of 100 MB or more, so we do too (it also bounds what a hostile file can make us allocate). */
#define RT_ST_LEN_BYTES 8
#define RT_ST_MAX_HEADER_BYTES 100000000ULL
/* Error messages quote names from the file; longer ones are cut so the message stays one short line. */
#define RT_ST_QUOTE_BYTES 128

typedef struct {
    char *path;        /* the file as named in messages */
    void *map;         /* the mmap, NULL when the bytes belong to the caller */
    size_t map_len;
    json_t *header;    /* parsed header, owned */
    json_t *metadata;  /* "__metadata__" inside header, or NULL */
} rt_st_shard;

struct rt_st_file {
    char *path; /* what the caller opened: a file, an index or a folder */
    rt_st_shard *shards;
    int nshards;
    rt_st_tensor *tensors; /* all shards' tensors, sorted by name once opening is done */
    int count;
    int cap;
};

/* Validates the image `bytes[0..len)` (header and every tensor entry) and appends its tensors to `f`.
 * `shard->path` must be set; on success shard->header/metadata are set. */
rt_status rt_st_parse_shard(rt_st_file *f, rt_st_shard *shard, const uint8_t *bytes, size_t len);

/* Parses a dtype string as the format spells it; returns 0 when unknown. */
int rt_st_dtype_parse(const char *s, rt_dtype *out);
/* The Python library lays tensors out by dtype in this rank order (largest first), then by name, which
 * keeps every tensor aligned to its element size. */
int rt_st_dtype_rank(rt_dtype d);

/* Copies `s` into `buf` with control characters replaced and long names cut, so a name read from a
 * hostile file cannot break the one-line error message. Returns buf. */
const char *rt_st_quote(const char *s, char buf[RT_ST_QUOTE_BYTES]);
/* Writes "[2, 3]" into buf. */
const char *rt_st_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

#endif
