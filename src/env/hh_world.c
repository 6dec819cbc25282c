/* hh_world.c: the household world: opening (splits), procedural generation of a room, its layout and
 * objects from a seed, goal checks and the partial-credit score. Commands live in rt_hh_step.c. */
#include <stdlib.h>
#include <string.h>

#include "env/hh_internal.h"

/* Rooms where each task type can happen: heating needs a microwave, cooling a fridge, cleaning a sink,
 * looking in light a desk lamp. */
static const unsigned TASK_ROOMS[HH_N_TASKS] = {
    [HH_TASK_PICK_PLACE] = 0xF, [HH_TASK_LOOK_LIGHT] = (1u << HH_ROOM_LIVINGROOM) | (1u << HH_ROOM_BEDROOM),
    [HH_TASK_CLEAN] = (1u << HH_ROOM_KITCHEN) | (1u << HH_ROOM_BATHROOM), [HH_TASK_HEAT] = 1u << HH_ROOM_KITCHEN,
    [HH_TASK_COOL] = 1u << HH_ROOM_KITCHEN,  [HH_TASK_TWO] = 0xF,
};
static const unsigned TASK_FLAGS[HH_N_TASKS] = {
    [HH_TASK_PICK_PLACE] = HH_PICK, [HH_TASK_LOOK_LIGHT] = HH_PICK, [HH_TASK_CLEAN] = HH_PICK | HH_CLEAN,
    [HH_TASK_HEAT] = HH_PICK | HH_HEAT, [HH_TASK_COOL] = HH_PICK | HH_COOL, [HH_TASK_TWO] = HH_PICK,
};
/* ALFWorld's goal phrasings, two per type; %1$s the object, %2$s the receptacle or lamp. */
static const char *const GOALS[HH_N_TASKS][2] = {
    {"put a %s in %s.", "put some %s on %s."},
    {"look at %s under the %s.", "examine the %s with the %s."},
    {"put a clean %s in %s.", "clean some %s and put it in %s."},
    {"put a hot %s in %s.", "heat some %s and put it in %s."},
    {"put a cool %s in %s.", "cool some %s and put it in %s."},
    {"put two %s in %s.", "find two %s and put them in %s."},
};
/* The paper's split (ExpRAG, arXiv 2603.18272, after ALFWorld): train on pick-and-place, look-in-light
 * and clean; hold out cool, heat and pick-two, which reuse the trained skills in new combinations. */
#define DEFAULT_HELD_OUT ((1u << HH_TASK_COOL) | (1u << HH_TASK_HEAT) | (1u << HH_TASK_TWO))
#define MIN_DISTRACTORS 6
#define EXTRA_DISTRACTORS 9
#define GEN_TRIES 1000
static const uint64_t LAYOUT_SALT = 0x686f757365686f6cull; /* "househol" */

int rt_hh_task_affordance(int task) {
    return task == HH_TASK_CLEAN ? HH_AFF_CLEAN : task == HH_TASK_HEAT ? HH_AFF_HEAT : task == HH_TASK_COOL ? HH_AFF_COOL : HH_AFF_NONE;
}

const char *rt_hh_recep_name(const hh_world *w, int r, char *buf, size_t cap) {
    snprintf(buf, cap, "%s %d", RT_HH_RECEP_TYPES[w->recep[r].type].name, w->recep[r].num);
    return buf;
}

const char *rt_hh_obj_name(const hh_world *w, int o, char *buf, size_t cap) {
    snprintf(buf, cap, "%s %d", RT_HH_OBJ_TYPES[w->obj[o].type].name, w->obj[o].num);
    return buf;
}

int rt_hh_transform_ok(const hh_world *w, int o) {
    switch (w->task) {
    case HH_TASK_CLEAN: return w->obj[o].clean;
    case HH_TASK_HEAT: return w->obj[o].hot;
    case HH_TASK_COOL: return w->obj[o].cool;
    default: return 1;
    }
}

int rt_hh_obj_done(const hh_world *w, int o) {
    const hh_obj *ob = &w->obj[o];
    return ob->type == w->obj_type && ob->loc >= 0 && w->recep[ob->loc].type == w->recep_type && rt_hh_transform_ok(w, o);
}

static int count_done(const hh_world *w) {
    int n = 0;
    for (int o = 0; o < w->n_obj; o++) n += rt_hh_obj_done(w, o);
    return n;
}

int rt_hh_goal_met(const hh_world *w) {
    if (w->task == HH_TASK_LOOK_LIGHT) {
        if (w->holding < 0 || w->obj[w->holding].type != w->obj_type || w->at < 0) return 0;
        for (int o = 0; o < w->n_obj; o++)
            if ((RT_HH_OBJ_TYPES[w->obj[o].type].flags & HH_LAMP) && w->obj[o].loc == w->at && w->obj[o].on) return 1;
        return 0;
    }
    return count_done(w) >= (w->task == HH_TASK_TWO ? 2 : 1);
}

/* Sub-goals: the object picked up, the middle step (transform, lamp, first of two) done, the goal. */
static double hh_score(void *world) {
    hh_world *w = world;
    if (rt_hh_goal_met(w)) return 1.0;
    switch (w->task) {
    case HH_TASK_PICK_PLACE: return w->ever_picked ? 0.5 : 0.0;
    case HH_TASK_LOOK_LIGHT: return (w->ever_picked + w->ever_lamp_on) / 3.0;
    case HH_TASK_TWO: return (w->ever_picked + (count_done(w) >= 1)) / 3.0;
    default: return (w->ever_picked + w->ever_transformed) / 3.0;
    }
}

void rt_hh_describe_recep(hh_world *w, int r, char *buf, size_t cap, size_t *len) {
    char name[64], oname[64];
    rt_hh_recep_name(w, r, name, sizeof name);
    const hh_recep_type *rt = &RT_HH_RECEP_TYPES[w->recep[r].type];
    if (rt->openable && !w->recep[r].open) {
        rt_env_appendf(buf, cap, len, "The %s is closed.", name);
        return;
    }
    if (rt->openable) rt_env_appendf(buf, cap, len, "The %s is open. In it, you see ", name);
    else rt_env_appendf(buf, cap, len, "On the %s, you see ", name);
    int n = 0, total = 0;
    for (int o = 0; o < w->n_obj; o++) total += w->obj[o].loc == r;
    for (int o = 0; o < w->n_obj; o++) {
        if (w->obj[o].loc != r) continue;
        w->obj[o].seen = 1;
        rt_env_appendf(buf, cap, len, "%sa %s", n == 0 ? "" : (n == total - 1 ? ", and " : ", "),
                       rt_hh_obj_name(w, o, oname, sizeof oname));
        n++;
    }
    rt_env_appendf(buf, cap, len, "%s.", n == 0 ? "nothing" : "");
    w->recep[r].seen = 1;
}

/* The receptacles (and the desk lamp) of a layout depend only on the room and the variant, so the same
 * layout recurs across episodes and a held-out variant is never seen in training. */
static void build_layout(hh_world *w, int room, int variant) {
    rt_rng lr;
    rt_rng_seed(&lr, LAYOUT_SALT ^ ((uint64_t)room << 32) ^ (uint64_t)variant);
    const hh_room_type *rm = &RT_HH_ROOMS[room];
    w->n_recep = 0;
    w->n_obj = 0;
    for (int s = 0; s < rm->n_slots; s++) {
        const hh_room_slot *sl = &rm->slots[s];
        int n = sl->min_count + (int)rt_rng_below(&lr, (uint64_t)(sl->max_count - sl->min_count + 1));
        for (int k = 0; k < n && w->n_recep < HH_MAX_RECEP; k++) {
            hh_recep *r = &w->recep[w->n_recep++];
            memset(r, 0, sizeof *r);
            r->type = sl->type;
            r->num = k + 1;
        }
    }
    if (room == HH_ROOM_LIVINGROOM || room == HH_ROOM_BEDROOM) {
        int lamp = rt_hh_obj_type_find("desklamp", 8);
        int spots[HH_MAX_RECEP], n = 0;
        for (int r = 0; r < w->n_recep; r++)
            if (RT_HH_OBJ_TYPES[lamp].spawn & (1ull << w->recep[r].type)) spots[n++] = r;
        if (n > 0) {
            hh_obj *o = &w->obj[w->n_obj++];
            memset(o, 0, sizeof *o);
            o->type = lamp;
            o->num = 1;
            o->loc = spots[rt_rng_below(&lr, (uint64_t)n)];
        }
    }
}

static uint64_t room_recep_mask(const hh_world *w) {
    uint64_t m = 0;
    for (int r = 0; r < w->n_recep; r++) m |= 1ull << w->recep[r].type;
    return m;
}

static int type_allowed(const hh_world *w, int t) { return w->scene_held_out || !RT_HH_OBJ_TYPES[t].held_out; }

/* Places one object of type t on a random receptacle where it belongs, avoiding type `avoid`. */
static void place_object(hh_world *w, rt_rng *rng, int t, int avoid) {
    if (w->n_obj >= HH_MAX_OBJ) return;
    int spots[HH_MAX_RECEP], n = 0;
    for (int r = 0; r < w->n_recep; r++)
        if ((RT_HH_OBJ_TYPES[t].spawn & (1ull << w->recep[r].type)) && w->recep[r].type != avoid) spots[n++] = r;
    if (n == 0) return;
    int num = 1;
    for (int o = 0; o < w->n_obj; o++) num += w->obj[o].type == t;
    hh_obj *ob = &w->obj[w->n_obj++];
    memset(ob, 0, sizeof *ob);
    ob->type = t;
    ob->num = num;
    ob->loc = spots[rt_rng_below(rng, (uint64_t)n)];
}

/* Picks the room, layout, target object and target receptacle; returns 0 if this draw cannot work. */
static int draw_scene(hh_world *w, rt_rng *rng) {
    int rooms[HH_N_ROOMS], nr = 0;
    for (int r = 0; r < HH_N_ROOMS; r++)
        if (TASK_ROOMS[w->task] & (1u << r)) rooms[nr++] = r;
    w->room = rooms[rt_rng_below(rng, (uint64_t)nr)];
    int k = (int)rt_rng_below(rng, HH_LAYOUT_VARIANTS / 4);
    w->layout = w->scene_held_out ? 4 * k + 3 : 4 * k + (int)rt_rng_below(rng, 3);
    build_layout(w, w->room, w->layout);
    uint64_t present = room_recep_mask(w);
    int aff = rt_hh_task_affordance(w->task);
    int cands[64], nc = 0;
    for (int t = 0; t < RT_HH_N_OBJ_TYPES; t++) {
        const hh_obj_type *ot = &RT_HH_OBJ_TYPES[t];
        if ((ot->flags & TASK_FLAGS[w->task]) != TASK_FLAGS[w->task] || !(ot->spawn & present)) continue;
        if (!(ot->rooms & (1u << w->room))) continue;
        if (w->scene_held_out ? !ot->held_out : ot->held_out) continue;
        cands[nc++] = t;
    }
    if (nc == 0) return 0;
    w->obj_type = cands[rt_rng_below(rng, (uint64_t)nc)];
    w->recep_type = -1;
    if (w->task == HH_TASK_LOOK_LIGHT) return 1;
    int rts[64], nrt = 0;
    for (int t = 0; t < RT_HH_N_RECEP_TYPES; t++) {
        if (!(present & (1ull << t)) || !RT_HH_RECEP_TYPES[t].target_ok) continue;
        if (aff != HH_AFF_NONE && RT_HH_RECEP_TYPES[t].affordance == aff) continue;
        /* The object must start somewhere else, or the task would be done before it starts. */
        if (!(RT_HH_OBJ_TYPES[w->obj_type].spawn & present & ~(1ull << t))) continue;
        rts[nrt++] = t;
    }
    if (nrt == 0) return 0;
    w->recep_type = rts[rt_rng_below(rng, (uint64_t)nrt)];
    return 1;
}

rt_status rt_hh_generate(hh_world *w, uint64_t seed) {
    rt_rng rng;
    rt_rng_seed(&rng, seed);
    int tasks[HH_N_TASKS], nt = 0;
    for (int t = 0; t < HH_N_TASKS; t++)
        if (w->types_allowed & (1u << t)) tasks[nt++] = t;
    w->seed = seed;
    w->task = tasks[rt_rng_below(&rng, (uint64_t)nt)];
    int ok = 0;
    for (int i = 0; i < GEN_TRIES && !ok; i++) ok = draw_scene(w, &rng);
    if (!ok) return rt_fail(RT_ERR_STATE, "household: no scene fits task %s", RT_HH_TASK_NAMES[w->task]);
    int copies = (w->task == HH_TASK_TWO ? 2 : 1) + (int)rt_rng_below(&rng, 2);
    for (int i = 0; i < copies; i++) place_object(w, &rng, w->obj_type, w->recep_type);
    uint64_t present = room_recep_mask(w);
    int dist[64], nd = 0;
    for (int t = 0; t < RT_HH_N_OBJ_TYPES; t++)
        if ((RT_HH_OBJ_TYPES[t].flags & HH_PICK) && (RT_HH_OBJ_TYPES[t].spawn & present) && t != w->obj_type &&
            (RT_HH_OBJ_TYPES[t].rooms & (1u << w->room)) && type_allowed(w, t))
            dist[nd++] = t;
    int n_dist = MIN_DISTRACTORS + (int)rt_rng_below(&rng, EXTRA_DISTRACTORS);
    for (int i = 0; i < n_dist && nd > 0; i++) place_object(w, &rng, dist[rt_rng_below(&rng, (uint64_t)nd)], -1);
    w->phrasing = (int)rt_rng_below(&rng, 2);
    const char *target = w->task == HH_TASK_LOOK_LIGHT ? "desklamp" : RT_HH_RECEP_TYPES[w->recep_type].name;
    snprintf(w->task_text, sizeof w->task_text, GOALS[w->task][w->phrasing], RT_HH_OBJ_TYPES[w->obj_type].name, target);
    w->at = -1;
    w->holding = -1;
    w->ever_picked = w->ever_transformed = w->ever_lamp_on = 0;
    w->flaw = RT_FLAW_NONE;
    w->wrong_obj = -1;
    w->slip_action[0] = '\0';
    w->note_ready = 0;
    w->adm_valid = 0;
    return RT_OK;
}

static rt_status hh_reset(void *world, uint64_t seed, rt_env_start *out) {
    hh_world *w = world;
    RT_TRY(rt_hh_generate(w, seed));
    size_t len = 0;
    char name[64];
    rt_env_appendf(w->obs, sizeof w->obs, &len, "You are in the middle of a room. Looking quickly around you, you see ");
    for (int r = 0; r < w->n_recep; r++)
        rt_env_appendf(w->obs, sizeof w->obs, &len, "%sa %s", r == 0 ? "" : (r == w->n_recep - 1 ? ", and " : ", "),
                       rt_hh_recep_name(w, r, name, sizeof name));
    rt_env_appendf(w->obs, sizeof w->obs, &len, ".\n\nYour task is to: %s", w->task_text);
    out->task = w->task_text;
    out->task_type = RT_HH_TASK_NAMES[w->task];
    out->observation = w->obs;
    return RT_OK;
}

/* A full search visits every receptacle and opens the closed ones, so the budget grows with the room. */
static int hh_max_steps(void *world) {
    hh_world *w = world;
    int need = 2 * w->n_recep + 20;
    return need > HH_BASE_BUDGET ? need : HH_BASE_BUDGET;
}

static void hh_describe(void *world, json_t *meta, json_t *api_versions) {
    hh_world *w = world;
    (void)api_versions;
    json_object_set_new(meta, "room", json_string(RT_HH_ROOMS[w->room].name));
    json_object_set_new(meta, "layout", json_integer(w->layout));
    json_object_set_new(meta, "object", json_string(RT_HH_OBJ_TYPES[w->obj_type].name));
    json_object_set_new(meta, "receptacle",
                        json_string(w->recep_type >= 0 ? RT_HH_RECEP_TYPES[w->recep_type].name : "desklamp"));
}

static void hh_destroy(void *world) { free(world); }

static const rt_env_vtable HH_VT = {
    .name = "household",
    .reset = hh_reset,
    .step = rt_hh_step,
    .admissible = rt_hh_admissible,
    .score = hh_score,
    .expert = rt_hh_expert,
    .set_flaw = rt_hh_set_flaw,
    .slip = rt_hh_slip,
    .default_max_steps = hh_max_steps,
    .describe = hh_describe,
    .docs = NULL,
    .destroy = hh_destroy,
};

/* Parses "a,b" into a bit set of task types; accepts full ALFWorld names or unique prefixes. */
static rt_status parse_held_out(const char *list, unsigned *mask) {
    *mask = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            int found = -1, hits = 0;
            for (int t = 0; t < HH_N_TASKS; t++)
                if (strncmp(RT_HH_TASK_NAMES[t], p, n) == 0) {
                    if (RT_HH_TASK_NAMES[t][n] == '\0') { found = t; hits = 1; break; }
                    found = t;
                    hits++;
                }
            if (hits != 1)
                return rt_fail(RT_ERR_ARG, "household: '%.*s' is not a task type (%s)", (int)n, p,
                               hits ? "ambiguous" : "see docs/environments.md");
            *mask |= 1u << found;
        }
        p += n;
        if (*p == ',') p++;
    }
    return RT_OK;
}

rt_status rt_household_open(const rt_env_config *cfg, void **world, const rt_env_vtable **vt) {
    unsigned held = DEFAULT_HELD_OUT;
    if (cfg->held_out) RT_TRY(parse_held_out(cfg->held_out, &held));
    const char *sp = cfg->split;
    if (strcmp(sp, "unseen_api") == 0) return rt_fail(RT_ERR_ARG, "household has no split 'unseen_api' (a toolapi split)");
    int unseen_task = strcmp(sp, "unseen_task") == 0 || strcmp(sp, "unseen") == 0;
    unsigned all = (1u << HH_N_TASKS) - 1;
    unsigned allowed = unseen_task ? held : all & ~held;
    if (allowed == 0)
        return rt_fail(RT_ERR_ARG, "household: split '%s' has no task types (held out: %s)", sp,
                       cfg->held_out ? cfg->held_out : "default");
    hh_world *w = rt_calloc(1, sizeof *w);
    w->cfg = *cfg;
    w->types_allowed = allowed;
    w->scene_held_out = strcmp(sp, "unseen_scene") == 0 || strcmp(sp, "unseen") == 0;
    *world = w;
    *vt = &HH_VT;
    return RT_OK;
}
