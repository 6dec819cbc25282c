/* hh_internal.h: the state of the household world shared by its files (catalog, generation, commands,
 * admissible actions, expert). Everything is fixed-size so a step never allocates. */
#ifndef RT_HH_INTERNAL_H
#define RT_HH_INTERNAL_H

#include <stdint.h>

#include "env/env_internal.h"

enum { HH_AFF_NONE = 0, HH_AFF_CLEAN = 1, HH_AFF_HEAT = 2, HH_AFF_COOL = 3 };
enum { HH_PICK = 1u, HH_CLEAN = 2u, HH_HEAT = 4u, HH_COOL = 8u, HH_LAMP = 16u };
enum { HH_ROOM_KITCHEN = 0, HH_ROOM_LIVINGROOM = 1, HH_ROOM_BEDROOM = 2, HH_ROOM_BATHROOM = 3, HH_N_ROOMS = 4 };

/* The six ALFWorld task types, in ALFWorld's names. */
enum {
    HH_TASK_PICK_PLACE = 0,
    HH_TASK_LOOK_LIGHT = 1,
    HH_TASK_CLEAN = 2,
    HH_TASK_HEAT = 3,
    HH_TASK_COOL = 4,
    HH_TASK_TWO = 5,
    HH_N_TASKS = 6
};

typedef struct {
    const char *name;
    int openable;
    int affordance; /* HH_AFF_* */
    int target_ok;  /* may be the receptacle a task asks to put things in */
} hh_recep_type;

typedef struct {
    const char *name;
    unsigned flags;   /* HH_PICK ... */
    uint64_t spawn;   /* bit per receptacle type where it is found */
    int held_out;     /* appears only in the unseen_scene split */
    unsigned rooms;   /* bit per room type where it belongs */
} hh_obj_type;

typedef struct {
    int type;
    int min_count, max_count;
} hh_room_slot;

typedef struct {
    const char *name;
    const hh_room_slot *slots;
    int n_slots;
} hh_room_type;

extern const hh_recep_type RT_HH_RECEP_TYPES[];
extern const int RT_HH_N_RECEP_TYPES;
extern const hh_obj_type RT_HH_OBJ_TYPES[];
extern const int RT_HH_N_OBJ_TYPES;
extern const hh_room_type RT_HH_ROOMS[HH_N_ROOMS];
extern const char *const RT_HH_TASK_NAMES[HH_N_TASKS];
int rt_hh_obj_type_find(const char *name, size_t len);
int rt_hh_recep_type_find(const char *name, size_t len);

#define HH_MAX_RECEP 40
#define HH_MAX_OBJ 48
#define HH_HELD (-1)
#define HH_LAYOUT_VARIANTS 64 /* per room type; every fourth one is held out */
#define HH_OBS_MAX 4096
#define HH_MAX_ADMISSIBLE 256
#define HH_BASE_BUDGET 50

typedef struct {
    int type, num;
    int open;  /* openable ones: 1 when open */
    int seen;  /* its contents have been shown to the agent */
} hh_recep;

typedef struct {
    int type, num;
    int loc;   /* receptacle index, or HH_HELD */
    int clean, hot, cool, on;
    int seen;
} hh_obj;

typedef struct {
    rt_env_config cfg;
    unsigned types_allowed; /* bit per task type for this split */
    int scene_held_out;     /* held-out layouts and objects */
    /* episode */
    uint64_t seed;
    int room, layout, task, obj_type, recep_type, phrasing;
    int n_recep, n_obj;
    hh_recep recep[HH_MAX_RECEP];
    hh_obj obj[HH_MAX_OBJ];
    int at;      /* receptacle index, -1 in the middle of the room */
    int holding; /* object index or -1 */
    int ever_picked, ever_transformed, ever_lamp_on;
    /* noisy expert */
    rt_env_flaw flaw;
    int wrong_obj; /* object the flawed expert took for the target, -1 none */
    rt_rng flaw_rng; /* where a wandering expert goes */
    /* slips: the last one offered, and what went wrong in it for the recovery's thought */
    char slip_action[160];
    char slip_note[200];
    int note_ready; /* the slip was just taken: the expert's next thought opens with the note */
    char task_text[256];
    char obs[HH_OBS_MAX];
    /* admissible actions, rebuilt lazily after a step */
    int adm_valid;
    size_t n_adm;
    char adm_buf[HH_MAX_ADMISSIBLE * 48];
    const char *adm[HH_MAX_ADMISSIBLE];
} hh_world;

/* Names, "apple 1". */
const char *rt_hh_recep_name(const hh_world *w, int r, char *buf, size_t cap);
const char *rt_hh_obj_name(const hh_world *w, int o, char *buf, size_t cap);
/* Writes what is on/in receptacle r ("On the countertop 1, you see ..."), marking the objects seen. */
void rt_hh_describe_recep(hh_world *w, int r, char *buf, size_t cap, size_t *len);
int rt_hh_goal_met(const hh_world *w);
int rt_hh_obj_done(const hh_world *w, int o); /* placed in a target receptacle in the needed state */
int rt_hh_transform_ok(const hh_world *w, int o);
int rt_hh_task_affordance(int task);

rt_status rt_hh_generate(hh_world *w, uint64_t seed);
rt_status rt_hh_step(void *world, const char *action, rt_env_result *out);
size_t rt_hh_admissible(void *world, const char *const **out);
int rt_hh_expert(void *world, rt_env_advice *out);
int rt_hh_expert_plan(hh_world *h, rt_env_advice *out); /* the expert's next action, without the note */
int rt_hh_slip(void *world, uint64_t draw, rt_env_advice *out);
int rt_hh_set_flaw(void *world, rt_env_flaw flaw);

#endif
