/* hnsw_delete.c: real deletion with neighbour repair, and the structural validator.
 *
 * Links are directed and no reverse index is kept (it would double the link memory), so deletion scans
 * the layers the node lived on for nodes that point to it: O(N * M) per delete, about a millisecond per
 * 100k vectors. Each such node drops the link and re-selects, with the insertion heuristic, among its
 * remaining links plus the deleted node's links, so paths that ran through the deleted node survive.
 * The slot then goes on a free list for the next insert. */
#include "memory/hnsw_internal.h"

#include <stdlib.h>
#include <string.h>

static void repair(rt_hnsw *h, rt_hnsw_scratch *s, uint32_t node, uint32_t gone, const uint32_t *gone_links, int level) {
    uint32_t *ln = rt_hnsw_links(h, node, level);
    rt_hnsw_cand cands[4 * RT_HNSW_MAX_M];
    const float *base = rt_hnsw_vec(h, node);
    int n = 0;
    rt_hnsw_scratch_begin(s);
    s->visited[node] = s->epoch;
    s->visited[gone] = s->epoch;
    for (int pass = 0; pass < 2; pass++) {
        const uint32_t *src = pass == 0 ? ln : gone_links;
        for (uint32_t i = 1; i <= src[0]; i++) {
            uint32_t c = src[i];
            if (s->visited[c] == s->epoch) continue;
            s->visited[c] = s->epoch;
            cands[n++] = (rt_hnsw_cand){rt_hnsw_dist(h, base, rt_hnsw_vec(h, c)), c};
        }
    }
    rt_hnsw_cand_sort(cands, n);
    uint32_t kept[2 * RT_HNSW_MAX_M];
    int k = rt_hnsw_select(h, cands, n, rt_hnsw_max_links(h, level), kept);
    if (level == 0) {
        rt_hnsw_keep_children(h, node, ln + 1, (int)ln[0], kept, &k);
        rt_hnsw_set_links0(h, node, kept, k);
        return;
    }
    memcpy(ln + 1, kept, (size_t)k * sizeof *kept);
    ln[0] = (uint32_t)k;
}

static int links_contain(const uint32_t *ln, uint32_t id) {
    for (uint32_t i = 1; i <= ln[0]; i++)
        if (ln[i] == id) return 1;
    return 0;
}

static void pick_new_entry(rt_hnsw *h) {
    h->max_level = -1;
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (h->level[i] != RT_HNSW_FREE_SLOT && (int)h->level[i] > h->max_level) {
            h->max_level = h->level[i];
            h->entry = i;
        }
}

static rt_status delete_locked(rt_hnsw *h, int64_t label) {
    uint32_t id;
    if (!rt_hnsw_map_get(h, label, &id)) return rt_fail(RT_ERR_NOT_FOUND, "hnsw: no label %lld", (long long)label);
    int top = h->level[id];
    rt_hnsw_scratch *s = rt_hnsw_scratch_get(h);
    uint32_t gone_links[1 + 2 * RT_HNSW_MAX_M], gone_links0[1 + 2 * RT_HNSW_MAX_M];
    memcpy(gone_links0, rt_hnsw_links(h, id, 0), (size_t)(1 + rt_hnsw_links(h, id, 0)[0]) * sizeof(uint32_t));
    h->deleting = id;
    for (int l = 0; l <= top; l++) {
        const uint32_t *own = rt_hnsw_links(h, id, l);
        memcpy(gone_links, own, (size_t)(1 + own[0]) * sizeof(uint32_t));
        for (uint32_t n = 0; n < h->n_slots; n++) {
            if (n == id || h->level[n] == RT_HNSW_FREE_SLOT || (int)h->level[n] < l) continue;
            if (links_contain(rt_hnsw_links(h, n, l), id)) repair(h, s, n, id, gone_links, l);
        }
    }
    rt_hnsw_scratch_put(h, s);
    h->deleting = RT_HNSW_NO_PARENT;
    h->level[id] = RT_HNSW_FREE_SLOT;
    rt_hnsw_set_links0(h, id, NULL, 0);
    rt_hnsw_alloc_upper(h, id, 0);
    memset(rt_hnsw_vec(h, id), 0, h->stride * sizeof(float));
    rt_hnsw_map_remove(h, label);
    h->free_ids[h->n_free++] = id;
    h->count--;
    rt_hnsw_seed_remove(h, id);
    if (h->entry == id) pick_new_entry(h);
    rt_hnsw_tree_delete(h, id, gone_links0);
    return RT_OK;
}

rt_status rt_hnsw_delete(rt_hnsw *h, int64_t label) {
    pthread_rwlock_wrlock(&h->lock);
    rt_status s = delete_locked(h, label);
    pthread_rwlock_unlock(&h->lock);
    return s;
}

static rt_status structure_locked(rt_hnsw *h) {
    int64_t live = 0;
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (h->level[id] == RT_HNSW_FREE_SLOT) continue;
        live++;
        uint32_t mapped;
        if (!rt_hnsw_map_get(h, h->labels[id], &mapped) || mapped != id)
            return rt_fail(RT_ERR_STATE, "hnsw: node %u (label %lld) missing from the label map", id, (long long)h->labels[id]);
        if ((int)h->level[id] > h->max_level) return rt_fail(RT_ERR_STATE, "hnsw: node %u above the top level", id);
        for (int l = 0; l <= h->level[id]; l++) {
            const uint32_t *ln = rt_hnsw_links(h, id, l);
            if ((int)ln[0] > rt_hnsw_max_links(h, l))
                return rt_fail(RT_ERR_STATE, "hnsw: node %u has %u links on level %d", id, ln[0], l);
            for (uint32_t i = 1; i <= ln[0]; i++) {
                uint32_t nb = ln[i];
                if (nb == id) return rt_fail(RT_ERR_STATE, "hnsw: node %u links to itself", id);
                if (nb >= h->n_slots || h->level[nb] == RT_HNSW_FREE_SLOT || (int)h->level[nb] < l)
                    return rt_fail(RT_ERR_STATE, "hnsw: node %u has a dangling link to %u on level %d", id, nb, l);
                for (uint32_t j = 1; j < i; j++)
                    if (ln[j] == nb) return rt_fail(RT_ERR_STATE, "hnsw: node %u links twice to %u", id, nb);
            }
        }
    }
    if (live != h->count) return rt_fail(RT_ERR_STATE, "hnsw: %lld live nodes, count says %lld", (long long)live, (long long)h->count);
    if (live > 0 && (h->entry >= h->n_slots || h->level[h->entry] == RT_HNSW_FREE_SLOT || h->level[h->entry] != h->max_level))
        return rt_fail(RT_ERR_STATE, "hnsw: entry point %u is not a live node on the top level", h->entry);
    return RT_OK;
}

rt_status rt_hnsw_validate_structure(rt_hnsw *h) { return structure_locked(h); }

/* A node no walk from the entry point reaches is never returned by a search, whatever the ef. */
static rt_status reach_locked(rt_hnsw *h) {
    int64_t unreachable, orphans;
    uint32_t first;
    rt_hnsw_reach(h, &unreachable, &orphans, &first);
    if (unreachable > 0)
        return rt_fail(RT_ERR_STATE, "hnsw: %lld of %lld nodes are unreachable from the entry point on layer 0 (first: label %lld); "
                       "rebuild the index", (long long)unreachable, (long long)h->count, (long long)h->labels[first]);
    return RT_OK;
}

rt_status rt_hnsw_validate(rt_hnsw *h) {
    pthread_rwlock_rdlock(&h->lock);
    rt_status s = structure_locked(h);
    if (s == RT_OK) s = reach_locked(h);
    pthread_rwlock_unlock(&h->lock);
    return s;
}

rt_status rt_hnsw_connectivity(rt_hnsw *h, rt_hnsw_connectivity_stats *out) {
    uint32_t first;
    pthread_rwlock_rdlock(&h->lock);
    rt_hnsw_reach(h, &out->unreachable, &out->no_in_link, &first);
    out->first_unreachable = out->unreachable > 0 ? h->labels[first] : -1;
    pthread_rwlock_unlock(&h->lock);
    return RT_OK;
}
