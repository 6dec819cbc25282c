/* hnsw_io.c: the index file. Layout (little-endian; see docs/memory.md):
 *   header (HEADER_BYTES): magic "RTHNSW\0\0", format version, dim, metric, M, ef_construction,
 *     ef_search, seed, slots, count, entry, top level, RNG state, the caller's 64-byte tag
 *   per slot: label (i64), level (u8, 0xFF = free)
 *   vectors: slots * dim float32
 *   layer-0 links: slots * (1 + 2M) u32
 *   upper links: for each live slot with level > 0, level * (1 + M) u32
 *   checksum: u64 over everything before it
 * Load checks the size and checksum first and then every field against the others, so a truncated or
 * flipped file is an RT_ERR_FORMAT error, never a crash or a wrong graph. */
#include "memory/hnsw_internal.h"

#include <stdlib.h>
#include <string.h>

#include "memory/hash.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file format is written in host order, which must be little-endian"
#endif

static const char MAGIC[8] = {'R', 'T', 'H', 'N', 'S', 'W', 0, 0};
#define FORMAT_VERSION 2u /* 2: the seed list after the upper links */
#define HEADER_BYTES 192
#define CHECKSUM_BYTES 8

typedef struct {
    rt_atomic_file f;
    rt_checksum ck;
    rt_status st;
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->st != RT_OK || n == 0) return; /* an empty list (no seeds) may have no array at all */
    rt_checksum_update(&w->ck, p, n);
    w->st = rt_atomic_write(&w->f, p, n);
}

static void header_put(uint8_t *buf, size_t *off, const void *p, size_t n) {
    memcpy(buf + *off, p, n);
    *off += n;
}

static void build_header(const rt_hnsw *h, const uint8_t *tag, uint8_t *buf) {
    memset(buf, 0, HEADER_BYTES);
    size_t off = 0;
    uint32_t u32[7] = {FORMAT_VERSION, (uint32_t)h->p.dim, (uint32_t)h->p.metric, (uint32_t)h->p.M,
                       (uint32_t)h->p.ef_construction, (uint32_t)h->p.ef_search, h->n_slots};
    header_put(buf, &off, MAGIC, sizeof MAGIC);
    header_put(buf, &off, u32, sizeof u32);
    uint64_t seed = h->p.seed, count = (uint64_t)h->count;
    int32_t top = h->max_level;
    header_put(buf, &off, &seed, 8);
    header_put(buf, &off, &count, 8);
    header_put(buf, &off, &h->entry, 4);
    header_put(buf, &off, &top, 4);
    header_put(buf, &off, h->rng.s, sizeof h->rng.s);
    header_put(buf, &off, tag, RT_HNSW_TAG_BYTES);
}

static rt_status save_locked(rt_hnsw *h, const char *path, const uint8_t *tag) {
    writer w = {.st = RT_OK};
    rt_checksum_init(&w.ck);
    RT_TRY(rt_atomic_open(&w.f, path));
    uint8_t header[HEADER_BYTES];
    build_header(h, tag, header);
    put(&w, header, sizeof header);
    for (uint32_t i = 0; i < h->n_slots; i++) {
        put(&w, &h->labels[i], sizeof h->labels[i]);
        put(&w, &h->level[i], 1);
    }
    for (uint32_t i = 0; i < h->n_slots; i++) put(&w, rt_hnsw_vec(h, i), (size_t)h->p.dim * sizeof(float));
    for (uint32_t i = 0; i < h->n_slots; i++) put(&w, rt_hnsw_links(h, i, 0), (size_t)(1 + h->M0) * sizeof(uint32_t));
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (h->level[i] != RT_HNSW_FREE_SLOT && h->level[i] > 0)
            put(&w, h->upper[i], (size_t)h->level[i] * (size_t)(1 + h->p.M) * sizeof(uint32_t));
    put(&w, &h->n_seeds, sizeof h->n_seeds);
    put(&w, h->seeds, (size_t)h->n_seeds * sizeof *h->seeds);
    put(&w, h->seed_d, (size_t)h->n_seeds * sizeof *h->seed_d);
    uint64_t sum = rt_checksum_final(&w.ck);
    if (w.st == RT_OK) w.st = rt_atomic_write(&w.f, &sum, sizeof sum);
    if (w.st != RT_OK) {
        rt_atomic_abort(&w.f);
        return w.st;
    }
    return rt_atomic_commit(&w.f);
}

rt_status rt_hnsw_save(rt_hnsw *h, const char *path, const uint8_t tag[RT_HNSW_TAG_BYTES]) {
    pthread_rwlock_rdlock(&h->lock);
    rt_status s = save_locked(h, path, tag);
    pthread_rwlock_unlock(&h->lock);
    return s;
}

/* ---- loading ---- */

typedef struct {
    const uint8_t *p;
    size_t len, off;
    const char *path;
} reader;

static rt_status take(reader *r, void *dst, size_t n, const char *what) {
    if (n > r->len - r->off) return rt_fail(RT_ERR_FORMAT, "%s: truncated in %s", r->path, what);
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return RT_OK;
}

typedef struct {
    uint32_t version, dim, metric, M, efc, efs, n_slots, entry;
    uint64_t seed, count;
    int32_t top;
    uint64_t rng[4];
} header_fields;

static rt_status parse_header(reader *r, header_fields *f, uint8_t *tag) {
    char magic[8] = {0};
    RT_TRY(take(r, magic, 8, "header"));
    if (memcmp(magic, MAGIC, 8) != 0) return rt_fail(RT_ERR_FORMAT, "%s: not a retrace HNSW index (bad magic)", r->path);
    uint32_t u32[7];
    RT_TRY(take(r, u32, sizeof u32, "header"));
    f->version = u32[0], f->dim = u32[1], f->metric = u32[2], f->M = u32[3], f->efc = u32[4], f->efs = u32[5];
    f->n_slots = u32[6];
    if (f->version != FORMAT_VERSION)
        return rt_fail(RT_ERR_FORMAT, "%s: index format version %u, this build reads %u", r->path, f->version, FORMAT_VERSION);
    RT_TRY(take(r, &f->seed, 8, "header"));
    RT_TRY(take(r, &f->count, 8, "header"));
    RT_TRY(take(r, &f->entry, 4, "header"));
    RT_TRY(take(r, &f->top, 4, "header"));
    RT_TRY(take(r, f->rng, sizeof f->rng, "header"));
    RT_TRY(take(r, tag, RT_HNSW_TAG_BYTES, "header"));
    r->off = HEADER_BYTES;
    return RT_OK;
}

static rt_status load_links(reader *r, rt_hnsw *h, uint32_t *dst, size_t words, int level) {
    RT_TRY(take(r, dst, words * sizeof(uint32_t), "links"));
    size_t per = (size_t)(1 + rt_hnsw_max_links(h, level));
    for (size_t b = 0; b < words; b += per) {
        if ((int)dst[b] > rt_hnsw_max_links(h, level)) return rt_fail(RT_ERR_FORMAT, "%s: link count out of range", r->path);
        for (uint32_t i = 1; i <= dst[b]; i++)
            if (dst[b + i] >= h->n_slots) return rt_fail(RT_ERR_FORMAT, "%s: link to slot %u beyond %u", r->path, dst[b + i], h->n_slots);
    }
    return RT_OK;
}

static rt_status load_body(reader *r, const header_fields *f, rt_hnsw *h) {
    RT_TRY(rt_hnsw_grow(h, f->n_slots > 0 ? f->n_slots : 1));
    h->n_slots = f->n_slots;
    int64_t live = 0;
    for (uint32_t i = 0; i < f->n_slots; i++) {
        RT_TRY(take(r, &h->labels[i], 8, "slot table"));
        RT_TRY(take(r, &h->level[i], 1, "slot table"));
        if (h->level[i] == RT_HNSW_FREE_SLOT) {
            h->free_ids[h->n_free++] = i;
            continue;
        }
        if (h->level[i] > RT_HNSW_MAX_LEVEL) return rt_fail(RT_ERR_FORMAT, "%s: slot %u has level %u", r->path, i, h->level[i]);
        uint32_t dup;
        if (rt_hnsw_map_get(h, h->labels[i], &dup)) return rt_fail(RT_ERR_FORMAT, "%s: label %lld twice", r->path, (long long)h->labels[i]);
        rt_hnsw_map_put(h, h->labels[i], i);
        live++;
    }
    /* Free slots are pushed in ascending order; reverse so reuse starts from the lowest, as before. */
    for (uint32_t a = 0, b = h->n_free; a + 1 < b; a++, b--) {
        uint32_t t = h->free_ids[a];
        h->free_ids[a] = h->free_ids[b - 1];
        h->free_ids[b - 1] = t;
    }
    if ((uint64_t)live != f->count) return rt_fail(RT_ERR_FORMAT, "%s: header says %llu vectors, slots hold %lld", r->path, (unsigned long long)f->count, (long long)live);
    h->count = live;
    for (uint32_t i = 0; i < f->n_slots; i++) RT_TRY(take(r, rt_hnsw_vec(h, i), (size_t)f->dim * sizeof(float), "vectors"));
    for (uint32_t i = 0; i < f->n_slots; i++) RT_TRY(load_links(r, h, rt_hnsw_links(h, i, 0), (size_t)(1 + h->M0), 0));
    for (uint32_t i = 0; i < f->n_slots; i++) {
        if (h->level[i] == RT_HNSW_FREE_SLOT || h->level[i] == 0) continue;
        rt_hnsw_alloc_upper(h, i, h->level[i]);
        RT_TRY(load_links(r, h, h->upper[i], (size_t)h->level[i] * (size_t)(1 + h->p.M), 1));
    }
    uint32_t n_seeds = 0;
    RT_TRY(take(r, &n_seeds, sizeof n_seeds, "seeds"));
    if (n_seeds > f->n_slots) return rt_fail(RT_ERR_FORMAT, "%s: %u seeds for %u slots", r->path, n_seeds, f->n_slots);
    if (n_seeds > RT_HNSW_MAX_SEEDS) return rt_fail(RT_ERR_FORMAT, "%s: %u seeds, more than %d", r->path, n_seeds, RT_HNSW_MAX_SEEDS);
    uint32_t ids[RT_HNSW_MAX_SEEDS];
    float ds[RT_HNSW_MAX_SEEDS];
    RT_TRY(take(r, ids, n_seeds * sizeof *ids, "seeds"));
    RT_TRY(take(r, ds, n_seeds * sizeof *ds, "seeds"));
    for (uint32_t i = 0; i < n_seeds; i++) {
        if (ids[i] >= f->n_slots || h->level[ids[i]] == RT_HNSW_FREE_SLOT) return rt_fail(RT_ERR_FORMAT, "%s: seed %u is not a live slot", r->path, ids[i]);
        rt_hnsw_seed_add(h, ids[i], ds[i]);
    }
    if (r->off != r->len - CHECKSUM_BYTES) return rt_fail(RT_ERR_FORMAT, "%s: %zu unexpected trailing bytes", r->path, r->len - CHECKSUM_BYTES - r->off);
    h->entry = f->entry;
    h->max_level = live > 0 ? f->top : -1;
    memcpy(h->rng.s, f->rng, sizeof f->rng);
    /* Links were range-checked above; this checks they point at live nodes of the right level. */
    if (rt_hnsw_validate_structure(h) != RT_OK) return rt_fail_context(RT_ERR_FORMAT, "%s", r->path);
    /* The tree is not saved: any spanning tree of the saved links keeps what is reachable reachable.
     * (A file with unreachable nodes still loads; `check` reports them and `rebuild` fixes them.) */
    rt_hnsw_tree_rebuild(h);
    return RT_OK;
}

rt_status rt_hnsw_load(const char *path, rt_hnsw **out, uint8_t tag[RT_HNSW_TAG_BYTES]) {
    char *data;
    size_t len;
    *out = NULL;
    RT_TRY(rt_file_read(path, &data, &len));
    reader r = {(const uint8_t *)data, len, 0, path};
    rt_status s = RT_OK;
    if (len < HEADER_BYTES + CHECKSUM_BYTES) s = rt_fail(RT_ERR_FORMAT, "%s: truncated (%zu bytes)", path, len);
    if (s == RT_OK) {
        rt_checksum ck;
        rt_checksum_init(&ck);
        rt_checksum_update(&ck, data, len - CHECKSUM_BYTES);
        uint64_t want;
        memcpy(&want, data + len - CHECKSUM_BYTES, CHECKSUM_BYTES);
        if (rt_checksum_final(&ck) != want) s = rt_fail(RT_ERR_FORMAT, "%s: checksum mismatch (truncated or corrupt)", path);
    }
    header_fields f = {0};
    if (s == RT_OK) s = parse_header(&r, &f, tag);
    rt_hnsw *h = NULL;
    if (s == RT_OK) {
        rt_hnsw_params p = {.dim = (int)f.dim, .metric = (rt_metric)f.metric, .M = (int)f.M,
                            .ef_construction = (int)f.efc, .ef_search = (int)f.efs, .seed = f.seed};
        if (f.dim > RT_HNSW_MAX_DIM || f.M > RT_HNSW_MAX_M || f.efc > (1u << 20) || f.metric > RT_METRIC_L2)
            s = rt_fail(RT_ERR_FORMAT, "%s: header parameters out of range", path);
        else if ((uint64_t)f.n_slots * f.dim * sizeof(float) > len)
            s = rt_fail(RT_ERR_FORMAT, "%s: header claims %u slots, more than the file holds", path, f.n_slots);
        else if (rt_hnsw_create(&p, &h) != RT_OK) s = rt_fail_context(RT_ERR_FORMAT, "%s", path);
    }
    if (s == RT_OK) s = load_body(&r, &f, h);
    free(data);
    if (s != RT_OK) {
        rt_hnsw_free(h);
        return s;
    }
    *out = h;
    return RT_OK;
}
