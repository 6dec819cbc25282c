/* hnsw_tree.c: a spanning tree of layer 0 that keeps every node reachable from the entry point.
 *
 * The neighbour heuristic drops a link to a far node whenever a kept neighbour is nearer to it, so a
 * point unlike the rest of the data (a new, rare task) can lose every incoming link; two such points
 * keep links to each other and form an island no greedy walk enters, and exact search finds what the
 * index never returns. Counting in-links would not stop that (the island's members link each other),
 * so the index keeps a tree: each node has a parent that holds it in its layer-0 list and never prunes
 * it, and the root is the entry point. Following the tree from the entry point reaches every node.
 *
 * The tree claims at most CHILD_CAP of a node's 2*M layer-0 slots; the rest stay the heuristic's, and
 * a child is only forced back into a list when the heuristic drops it, so ordinary graphs change
 * little. Nothing is saved: loading rebuilds the tree by a breadth-first walk of the saved links. */
#include "memory/hnsw_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int child_cap(const rt_hnsw *h) { return h->M0 / 2; }

static int has_link(const uint32_t *ln, uint32_t x) {
    for (uint32_t i = 1; i <= ln[0]; i++)
        if (ln[i] == x) return 1;
    return 0;
}

static void set_parent(rt_hnsw *h, uint32_t x, uint32_t p) {
    if (h->parent[x] != RT_HNSW_NO_PARENT) h->n_children[h->parent[x]]--;
    h->parent[x] = p;
    if (p != RT_HNSW_NO_PARENT) h->n_children[p]++;
}

void rt_hnsw_set_links0(rt_hnsw *h, uint32_t node, const uint32_t *ids, int k) {
    uint32_t *ln = rt_hnsw_links(h, node, 0);
    for (uint32_t i = 1; i <= ln[0]; i++) h->in_degree[ln[i]]--;
    for (int i = 0; i < k; i++) h->in_degree[ids[i]]++;
    if (k > 0) memmove(ln + 1, ids, (size_t)k * sizeof *ids);
    ln[0] = (uint32_t)k;
}

void rt_hnsw_keep_children(rt_hnsw *h, uint32_t node, const uint32_t *old, int n_old, uint32_t *kept, int *k) {
    for (int i = 0; i < n_old; i++) {
        uint32_t c = old[i];
        if (c == h->deleting || !rt_hnsw_link_protected(h, node, c)) continue;
        int present = 0;
        for (int j = 0; j < *k && !present; j++) present = kept[j] == c;
        if (present) continue;
        if (*k < h->M0) {
            kept[(*k)++] = c;
            continue;
        }
        /* kept is nearest first: give up the farthest link that is not itself protected (a node kept
         * now, not yet linked, has one in-link fewer than it will have: count it as linked). */
        int j = *k - 1;
        while (j >= 0 && (h->parent[kept[j]] == node || h->in_degree[kept[j]] <= h->min_in_links + 1)) j--;
        /* A child outranks a node short of in-links: the tree is what keeps everything reachable. */
        if (j < 0 && h->parent[c] == node)
            for (j = *k - 1; j >= 0 && h->parent[kept[j]] == node;) j--;
        if (j >= 0) kept[j] = c;
    }
}

/* Puts x into p's layer-0 links (if not there), evicting p's farthest unprotected link when full;
 * returns 0 when every link of p is protected. */
static int force_link(rt_hnsw *h, uint32_t p, uint32_t x) {
    uint32_t *ln = rt_hnsw_links(h, p, 0);
    if (has_link(ln, x)) return 1;
    if ((int)ln[0] < h->M0) {
        ln[1 + ln[0]++] = x;
        h->in_degree[x]++;
        return 1;
    }
    const float *base = rt_hnsw_vec(h, p);
    uint32_t worst = 0;
    float worst_d = -1.0f;
    for (uint32_t i = 1; i <= ln[0]; i++) {
        if (rt_hnsw_link_protected(h, p, ln[i])) continue;
        float d = rt_hnsw_dist(h, base, rt_hnsw_vec(h, ln[i]));
        if (d > worst_d) worst_d = d, worst = i;
    }
    if (!worst) return 0;
    h->in_degree[ln[worst]]--;
    ln[worst] = x;
    h->in_degree[x]++;
    return 1;
}

/* Links x from the nodes of near[0..n) in turn until it has min_in_links incoming links. */
static void top_up_in_links(rt_hnsw *h, uint32_t x, const uint32_t *near, int n) {
    for (int i = 0; i < n && h->in_degree[x] < h->min_in_links; i++)
        if (near[i] != x && h->level[near[i]] != RT_HNSW_FREE_SLOT) force_link(h, near[i], x);
}

void rt_hnsw_seed_add(rt_hnsw *h, uint32_t id, float nn_d) {
    if (h->is_seed[id]) return;
    if (h->n_seeds == RT_HNSW_MAX_SEEDS) {
        /* Full: the new one replaces the least isolated seed, if it is more isolated. */
        uint32_t lo = 0;
        for (uint32_t i = 1; i < h->n_seeds; i++)
            if (h->seed_d[i] < h->seed_d[lo]) lo = i;
        if (h->seed_d[lo] >= nn_d) return;
        h->is_seed[h->seeds[lo]] = 0;
        h->seeds[lo] = h->seeds[--h->n_seeds];
        h->seed_d[lo] = h->seed_d[h->n_seeds];
    }
    if (h->n_seeds == h->seeds_cap) {
        h->seeds_cap = h->seeds_cap ? 2 * h->seeds_cap : 16;
        h->seeds = rt_realloc(h->seeds, (size_t)h->seeds_cap * sizeof *h->seeds);
        h->seed_d = rt_realloc(h->seed_d, (size_t)h->seeds_cap * sizeof *h->seed_d);
    }
    h->is_seed[id] = 1;
    h->seed_d[h->n_seeds] = nn_d;
    h->seeds[h->n_seeds++] = id;
}

void rt_hnsw_seed_consider(rt_hnsw *h, uint32_t id, float nn_d) {
    double sd = h->nn_n > 1 ? sqrt(h->nn_m2 / (h->nn_n - 1)) : 0.0;
    if (h->nn_n >= RT_HNSW_SEED_WARMUP && nn_d > h->nn_mean + RT_HNSW_SEED_SIGMAS * sd) rt_hnsw_seed_add(h, id, nn_d);
    h->nn_n += 1;
    double delta = nn_d - h->nn_mean;
    h->nn_mean += delta / h->nn_n;
    h->nn_m2 += delta * (nn_d - h->nn_mean);
}

void rt_hnsw_seed_remove(rt_hnsw *h, uint32_t id) {
    if (!h->is_seed[id]) return;
    h->is_seed[id] = 0;
    for (uint32_t i = 0; i < h->n_seeds; i++)
        if (h->seeds[i] == id) {
            h->seeds[i] = h->seeds[--h->n_seeds];
            h->seed_d[i] = h->seed_d[h->n_seeds];
            return;
        }
}

void rt_hnsw_tree_insert(rt_hnsw *h, uint32_t id, const uint32_t *kept, int k, uint32_t old_entry) {
    uint32_t p = RT_HNSW_NO_PARENT;
    for (int i = 0; i < k && p == RT_HNSW_NO_PARENT; i++)
        if (h->n_children[kept[i]] < child_cap(h) && has_link(rt_hnsw_links(h, kept[i], 0), id)) p = kept[i];
    /* Pruning dropped the back link everywhere: the new node is unlike its neighbours. Its nearest
     * neighbour with room for a child takes it anyway. */
    for (int i = 0; i < k && p == RT_HNSW_NO_PARENT; i++)
        if (h->n_children[kept[i]] < child_cap(h) && force_link(h, kept[i], id)) p = kept[i];
    /* Every neighbour is full of children (a hub, as under inner product): a neighbour's neighbour. */
    for (int i = 0; i < k && p == RT_HNSW_NO_PARENT; i++) {
        const uint32_t *ln = rt_hnsw_links(h, kept[i], 0);
        for (uint32_t j = 1; j <= ln[0] && p == RT_HNSW_NO_PARENT; j++)
            if (ln[j] != id && h->n_children[ln[j]] < child_cap(h) && force_link(h, ln[j], id)) p = ln[j];
    }
    if (p != RT_HNSW_NO_PARENT) set_parent(h, id, p);
    top_up_in_links(h, id, kept, k);
    if (h->entry == id && old_entry != id && old_entry != RT_HNSW_NO_PARENT) {
        /* The new node is the new entry point: it becomes the root and the old root its child (a new
         * node has at most M of its 2*M links and no children, so there is room). */
        set_parent(h, id, RT_HNSW_NO_PARENT);
        force_link(h, id, old_entry);
        set_parent(h, old_entry, id);
    }
}

/* 1 when y's tree path reaches the root without passing `gone` or x (so x may hang below y). */
static int safe_parent(const rt_hnsw *h, uint32_t y, uint32_t x, uint32_t gone) {
    uint32_t cur = y;
    for (uint32_t steps = 0; steps <= h->n_slots; steps++) {
        if (cur == gone || cur == x || h->level[cur] == RT_HNSW_FREE_SLOT) return 0;
        if (h->parent[cur] == RT_HNSW_NO_PARENT) return cur == h->entry;
        cur = h->parent[cur];
    }
    return 0;
}

static int try_adopt(rt_hnsw *h, uint32_t y, uint32_t x, uint32_t gone) {
    if (y == x || h->n_children[y] >= child_cap(h) || !safe_parent(h, y, x, gone) || !force_link(h, y, x)) return 0;
    set_parent(h, x, y);
    return 1;
}

void rt_hnsw_tree_delete(rt_hnsw *h, uint32_t gone, const uint32_t *gone_links0) {
    set_parent(h, gone, RT_HNSW_NO_PARENT);
    /* A new entry point (chosen by the caller when `gone` was the entry) becomes the root. */
    if (h->count > 0) set_parent(h, h->entry, RT_HNSW_NO_PARENT);
    for (uint32_t i = 1; i <= gone_links0[0]; i++) {
        uint32_t x = gone_links0[i];
        if (h->parent[x] != gone) continue;
        h->n_children[gone]--;
        h->parent[x] = RT_HNSW_NO_PARENT;
        /* Candidates: the entry point, then gone's other neighbours, then x's own neighbours. */
        if (x == h->entry || try_adopt(h, h->entry, x, gone)) continue;
        int done = 0;
        for (uint32_t j = 1; j <= gone_links0[0] && !done; j++) done = try_adopt(h, gone_links0[j], x, gone);
        const uint32_t *own = rt_hnsw_links(h, x, 0);
        for (uint32_t j = 1; j <= own[0] && !done; j++) done = try_adopt(h, own[j], x, gone);
        /* Otherwise x stays a root of its own: `check` reports what it cannot reach, `rebuild` fixes. */
    }
    /* The nodes gone linked to lost an in-link; those left short get one from their own neighbours. */
    for (uint32_t i = 1; i <= gone_links0[0]; i++) {
        uint32_t x = gone_links0[i];
        const uint32_t *own = rt_hnsw_links(h, x, 0);
        uint32_t near[2 * RT_HNSW_MAX_M];
        memcpy(near, own + 1, own[0] * sizeof *near);
        top_up_in_links(h, x, near, (int)own[0]);
    }
}

/* Breadth-first walk of layer 0 from the entry point. With `assign`, the first visit sets the tree
 * (respecting the child cap in a first round, then without it). Returns the number of live nodes not
 * reached; seen[] must be zeroed, n_slots long. */
static int64_t walk(rt_hnsw *h, uint8_t *seen, int assign) {
    if (h->count == 0) return 0;
    uint32_t *queue = rt_malloc((size_t)h->n_slots * sizeof *queue);
    size_t head = 0, tail = 0;
    queue[tail++] = h->entry;
    seen[h->entry] = 1;
    for (int round = 0; round < (assign ? 2 : 1); round++) {
        for (head = 0; head < tail; head++) {
            uint32_t u = queue[head];
            const uint32_t *ln = rt_hnsw_links(h, u, 0);
            for (uint32_t i = 1; i <= ln[0]; i++) {
                uint32_t x = ln[i];
                if (seen[x] || (assign && round == 0 && h->n_children[u] >= child_cap(h))) continue;
                seen[x] = 1;
                queue[tail++] = x;
                if (assign) set_parent(h, x, u);
            }
        }
    }
    free(queue);
    return h->count - (int64_t)tail;
}

void rt_hnsw_tree_rebuild(rt_hnsw *h) {
    memset(h->parent, 0xFF, (size_t)h->cap * sizeof *h->parent);
    memset(h->n_children, 0, (size_t)h->cap * sizeof *h->n_children);
    memset(h->in_degree, 0, (size_t)h->cap * sizeof *h->in_degree);
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (h->level[id] == RT_HNSW_FREE_SLOT) continue;
        const uint32_t *ln = rt_hnsw_links(h, id, 0);
        for (uint32_t i = 1; i <= ln[0]; i++) h->in_degree[ln[i]]++;
    }
    uint8_t *seen = rt_calloc((size_t)h->n_slots + 1, 1);
    walk(h, seen, 1);
    free(seen);
}

void rt_hnsw_reach(const rt_hnsw *h, int64_t *unreachable, int64_t *no_in_link, uint32_t *first) {
    uint8_t *seen = rt_calloc((size_t)h->n_slots + 1, 1);
    *unreachable = walk((rt_hnsw *)h, seen, 0); /* does not write without `assign` */
    uint32_t *in = rt_calloc((size_t)h->n_slots + 1, sizeof *in);
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (h->level[id] == RT_HNSW_FREE_SLOT) continue;
        const uint32_t *ln = rt_hnsw_links(h, id, 0);
        for (uint32_t i = 1; i <= ln[0]; i++) in[ln[i]]++;
    }
    *no_in_link = 0;
    *first = RT_HNSW_NO_PARENT;
    for (uint32_t id = 0; id < h->n_slots; id++) {
        if (h->level[id] == RT_HNSW_FREE_SLOT) continue;
        if (!seen[id] && *first == RT_HNSW_NO_PARENT) *first = id;
        if (in[id] == 0 && id != h->entry) (*no_in_link)++;
    }
    free(in);
    free(seen);
}
