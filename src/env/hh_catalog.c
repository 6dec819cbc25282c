/* hh_catalog.c: the household's data: receptacle and object types (after ALFWorld's), rooms, task names.
 * Changing this table changes every generated episode, so it only grows at the end of each list. */
#include <string.h>

#include "env/hh_internal.h"

enum {
    R_CABINET, R_DRAWER, R_COUNTERTOP, R_FRIDGE, R_MICROWAVE, R_SINKBASIN, R_STOVEBURNER, R_GARBAGECAN,
    R_COFFEEMACHINE, R_TOASTER, R_DININGTABLE, R_SHELF, R_SOFA, R_ARMCHAIR, R_COFFEETABLE, R_SIDETABLE,
    R_TVSTAND, R_DRESSER, R_DESK, R_BED, R_SAFE, R_LAUNDRYHAMPER, R_BATHTUBBASIN, R_TOILET, R_TOWELHOLDER,
    R_HANDTOWELHOLDER, R_COUNT
};

const hh_recep_type RT_HH_RECEP_TYPES[] = {
    [R_CABINET] = {"cabinet", 1, HH_AFF_NONE, 1},
    [R_DRAWER] = {"drawer", 1, HH_AFF_NONE, 1},
    [R_COUNTERTOP] = {"countertop", 0, HH_AFF_NONE, 1},
    [R_FRIDGE] = {"fridge", 1, HH_AFF_COOL, 1},
    [R_MICROWAVE] = {"microwave", 1, HH_AFF_HEAT, 1},
    [R_SINKBASIN] = {"sinkbasin", 0, HH_AFF_CLEAN, 1},
    [R_STOVEBURNER] = {"stoveburner", 0, HH_AFF_NONE, 0},
    [R_GARBAGECAN] = {"garbagecan", 0, HH_AFF_NONE, 1},
    [R_COFFEEMACHINE] = {"coffeemachine", 0, HH_AFF_NONE, 0},
    [R_TOASTER] = {"toaster", 0, HH_AFF_NONE, 0},
    [R_DININGTABLE] = {"diningtable", 0, HH_AFF_NONE, 1},
    [R_SHELF] = {"shelf", 0, HH_AFF_NONE, 1},
    [R_SOFA] = {"sofa", 0, HH_AFF_NONE, 1},
    [R_ARMCHAIR] = {"armchair", 0, HH_AFF_NONE, 1},
    [R_COFFEETABLE] = {"coffeetable", 0, HH_AFF_NONE, 1},
    [R_SIDETABLE] = {"sidetable", 0, HH_AFF_NONE, 1},
    [R_TVSTAND] = {"tvstand", 0, HH_AFF_NONE, 1},
    [R_DRESSER] = {"dresser", 0, HH_AFF_NONE, 1},
    [R_DESK] = {"desk", 0, HH_AFF_NONE, 1},
    [R_BED] = {"bed", 0, HH_AFF_NONE, 1},
    [R_SAFE] = {"safe", 1, HH_AFF_NONE, 1},
    [R_LAUNDRYHAMPER] = {"laundryhamper", 0, HH_AFF_NONE, 0},
    [R_BATHTUBBASIN] = {"bathtubbasin", 0, HH_AFF_CLEAN, 1},
    [R_TOILET] = {"toilet", 0, HH_AFF_NONE, 1},
    [R_TOWELHOLDER] = {"towelholder", 0, HH_AFF_NONE, 0},
    [R_HANDTOWELHOLDER] = {"handtowelholder", 0, HH_AFF_NONE, 0},
};
const int RT_HH_N_RECEP_TYPES = R_COUNT;

#define B(r) (1ull << (r))
#define RK (1u << HH_ROOM_KITCHEN)
#define RL (1u << HH_ROOM_LIVINGROOM)
#define RB (1u << HH_ROOM_BEDROOM)
#define RT (1u << HH_ROOM_BATHROOM)
#define FOOD (HH_PICK | HH_CLEAN | HH_HEAT | HH_COOL)
#define KITCHEN_FOOD (B(R_COUNTERTOP) | B(R_DININGTABLE) | B(R_FRIDGE) | B(R_SINKBASIN) | B(R_GARBAGECAN) | B(R_MICROWAVE))
#define DISHES (B(R_CABINET) | B(R_COUNTERTOP) | B(R_DININGTABLE) | B(R_SHELF) | B(R_SINKBASIN))
#define CUTLERY (B(R_DRAWER) | B(R_COUNTERTOP) | B(R_DININGTABLE))
#define DESKTOP (B(R_DESK) | B(R_SIDETABLE) | B(R_DRESSER) | B(R_SHELF) | B(R_COFFEETABLE))

const hh_obj_type RT_HH_OBJ_TYPES[] = {
    {"apple", FOOD, KITCHEN_FOOD, 0, RK},
    {"tomato", FOOD, KITCHEN_FOOD, 0, RK},
    {"potato", FOOD, KITCHEN_FOOD | B(R_CABINET), 1, RK},
    {"lettuce", HH_PICK | HH_CLEAN | HH_COOL, B(R_COUNTERTOP) | B(R_DININGTABLE) | B(R_FRIDGE), 0, RK},
    {"egg", HH_PICK | HH_HEAT | HH_COOL, KITCHEN_FOOD, 0, RK},
    {"bread", HH_PICK | HH_HEAT | HH_COOL, B(R_COUNTERTOP) | B(R_DININGTABLE) | B(R_FRIDGE) | B(R_CABINET), 0, RK},
    {"mug", FOOD, DISHES | B(R_COFFEEMACHINE) | B(R_DESK) | B(R_COFFEETABLE), 0, RK | RL | RB},
    {"cup", FOOD, DISHES | B(R_FRIDGE), 1, RK},
    {"plate", FOOD, DISHES | B(R_FRIDGE), 0, RK},
    {"bowl", HH_PICK | HH_CLEAN | HH_COOL, DISHES | B(R_FRIDGE) | B(R_DESK) | B(R_COFFEETABLE), 0, RK | RL | RB},
    {"pan", HH_PICK | HH_CLEAN | HH_COOL, B(R_STOVEBURNER) | B(R_COUNTERTOP) | B(R_CABINET), 0, RK},
    {"pot", HH_PICK | HH_CLEAN | HH_COOL, B(R_STOVEBURNER) | B(R_COUNTERTOP) | B(R_CABINET), 0, RK},
    {"knife", HH_PICK | HH_CLEAN, CUTLERY, 0, RK},
    {"fork", HH_PICK | HH_CLEAN, CUTLERY, 0, RK},
    {"spoon", HH_PICK | HH_CLEAN, CUTLERY, 0, RK},
    {"spatula", HH_PICK | HH_CLEAN, B(R_DRAWER) | B(R_COUNTERTOP), 0, RK},
    {"ladle", HH_PICK | HH_CLEAN, B(R_DRAWER) | B(R_COUNTERTOP), 1, RK},
    {"winebottle", HH_PICK | HH_COOL, B(R_COUNTERTOP) | B(R_FRIDGE) | B(R_CABINET) | B(R_DININGTABLE) | B(R_SHELF), 0, RK},
    {"saltshaker", HH_PICK, B(R_COUNTERTOP) | B(R_CABINET) | B(R_SHELF) | B(R_DININGTABLE), 0, RK},
    {"peppershaker", HH_PICK, B(R_COUNTERTOP) | B(R_CABINET) | B(R_SHELF) | B(R_DININGTABLE), 0, RK},
    {"dishsponge", HH_PICK | HH_CLEAN, B(R_SINKBASIN) | B(R_COUNTERTOP) | B(R_CABINET) | B(R_DRAWER), 0, RK | RT},
    {"book", HH_PICK, DESKTOP | B(R_BED) | B(R_SOFA) | B(R_DRAWER), 0, RL | RB},
    {"cellphone", HH_PICK, DESKTOP | B(R_BED) | B(R_SOFA) | B(R_DRAWER), 0, RL | RB},
    {"creditcard", HH_PICK, DESKTOP | B(R_DRAWER) | B(R_ARMCHAIR), 0, RL | RB},
    {"keychain", HH_PICK, DESKTOP | B(R_DRAWER) | B(R_SAFE), 0, RL | RB},
    {"remotecontrol", HH_PICK, B(R_SOFA) | B(R_COFFEETABLE) | B(R_ARMCHAIR) | B(R_SIDETABLE) | B(R_TVSTAND), 0, RL | RB},
    {"pen", HH_PICK, B(R_DESK) | B(R_DRAWER) | B(R_SIDETABLE) | B(R_SHELF), 0, RL | RB},
    {"pencil", HH_PICK, B(R_DESK) | B(R_DRAWER) | B(R_SIDETABLE) | B(R_SHELF), 0, RL | RB},
    {"cd", HH_PICK, B(R_DESK) | B(R_DRAWER) | B(R_SHELF) | B(R_SAFE) | B(R_SIDETABLE), 1, RL | RB},
    {"alarmclock", HH_PICK, DESKTOP, 0, RL | RB},
    {"watch", HH_PICK, DESKTOP | B(R_DRAWER) | B(R_SAFE), 1, RL | RB},
    {"pillow", HH_PICK, B(R_BED) | B(R_SOFA) | B(R_ARMCHAIR), 0, RL | RB},
    {"vase", HH_PICK, B(R_SHELF) | B(R_COFFEETABLE) | B(R_SIDETABLE) | B(R_TVSTAND) | B(R_DRESSER), 0, RL | RB},
    {"statue", HH_PICK, B(R_SHELF) | B(R_COFFEETABLE) | B(R_SIDETABLE) | B(R_TVSTAND) | B(R_DRESSER), 0, RL | RB},
    {"laptop", HH_PICK, B(R_DESK) | B(R_BED) | B(R_SOFA) | B(R_COFFEETABLE), 0, RL | RB},
    {"newspaper", HH_PICK, B(R_SOFA) | B(R_COFFEETABLE) | B(R_SIDETABLE) | B(R_ARMCHAIR), 0, RL | RB},
    {"box", HH_PICK, B(R_SHELF) | B(R_COFFEETABLE) | B(R_SIDETABLE) | B(R_DRESSER), 0, RL | RB},
    {"soapbar", HH_PICK | HH_CLEAN, B(R_COUNTERTOP) | B(R_BATHTUBBASIN) | B(R_SINKBASIN) | B(R_TOILET) | B(R_CABINET), 0, RT},
    {"cloth", HH_PICK | HH_CLEAN, B(R_COUNTERTOP) | B(R_CABINET) | B(R_DRAWER) | B(R_BATHTUBBASIN), 0, RT},
    {"spraybottle", HH_PICK, B(R_CABINET) | B(R_COUNTERTOP) | B(R_TOILET) | B(R_GARBAGECAN), 0, RT},
    {"toiletpaper", HH_PICK, B(R_CABINET) | B(R_TOILET) | B(R_COUNTERTOP), 0, RT},
    {"candle", HH_PICK, B(R_COUNTERTOP) | B(R_CABINET) | B(R_SHELF) | B(R_TOILET), 1, RT | RL},
    {"soapbottle", HH_PICK, B(R_COUNTERTOP) | B(R_CABINET) | B(R_SHELF) | B(R_TOILET), 0, RT},
    {"towel", HH_PICK, B(R_TOWELHOLDER), 0, RT},
    {"handtowel", HH_PICK, B(R_HANDTOWELHOLDER), 0, RT},
    {"desklamp", HH_LAMP, B(R_DESK) | B(R_SIDETABLE) | B(R_DRESSER) | B(R_COFFEETABLE), 0, RL | RB},
};
const int RT_HH_N_OBJ_TYPES = (int)(sizeof RT_HH_OBJ_TYPES / sizeof RT_HH_OBJ_TYPES[0]);

static const hh_room_slot KITCHEN[] = {
    {R_CABINET, 2, 6}, {R_DRAWER, 1, 4}, {R_COUNTERTOP, 1, 2}, {R_FRIDGE, 1, 1}, {R_MICROWAVE, 1, 1},
    {R_SINKBASIN, 1, 1}, {R_STOVEBURNER, 2, 4}, {R_GARBAGECAN, 1, 1}, {R_COFFEEMACHINE, 1, 1},
    {R_TOASTER, 0, 1}, {R_DININGTABLE, 0, 1}, {R_SHELF, 0, 2},
};
static const hh_room_slot LIVINGROOM[] = {
    {R_SOFA, 1, 1}, {R_ARMCHAIR, 0, 2}, {R_COFFEETABLE, 1, 2}, {R_SIDETABLE, 1, 2}, {R_TVSTAND, 1, 1},
    {R_DRAWER, 0, 4}, {R_CABINET, 0, 4}, {R_SHELF, 0, 4}, {R_GARBAGECAN, 1, 1}, {R_DRESSER, 0, 1},
};
static const hh_room_slot BEDROOM[] = {
    {R_BED, 1, 1}, {R_DESK, 1, 2}, {R_DRAWER, 2, 6}, {R_DRESSER, 0, 1}, {R_SHELF, 1, 4},
    {R_SIDETABLE, 1, 2}, {R_GARBAGECAN, 1, 1}, {R_LAUNDRYHAMPER, 0, 1}, {R_SAFE, 0, 1},
};
static const hh_room_slot BATHROOM[] = {
    {R_BATHTUBBASIN, 0, 1}, {R_SINKBASIN, 1, 2}, {R_CABINET, 1, 4}, {R_COUNTERTOP, 1, 1}, {R_DRAWER, 0, 4},
    {R_GARBAGECAN, 1, 1}, {R_HANDTOWELHOLDER, 0, 1}, {R_TOILET, 1, 1}, {R_TOWELHOLDER, 1, 1}, {R_SHELF, 0, 2},
};

#define ROOM(name, slots) {name, slots, (int)(sizeof slots / sizeof slots[0])}
const hh_room_type RT_HH_ROOMS[HH_N_ROOMS] = {
    ROOM("kitchen", KITCHEN), ROOM("livingroom", LIVINGROOM), ROOM("bedroom", BEDROOM), ROOM("bathroom", BATHROOM),
};

const char *const RT_HH_TASK_NAMES[HH_N_TASKS] = {
    "pick_and_place_simple",         "look_at_obj_in_light",          "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place",
};

int rt_hh_obj_type_find(const char *name, size_t len) {
    for (int i = 0; i < RT_HH_N_OBJ_TYPES; i++)
        if (strlen(RT_HH_OBJ_TYPES[i].name) == len && memcmp(RT_HH_OBJ_TYPES[i].name, name, len) == 0) return i;
    return -1;
}

int rt_hh_recep_type_find(const char *name, size_t len) {
    for (int i = 0; i < R_COUNT; i++)
        if (strlen(RT_HH_RECEP_TYPES[i].name) == len && memcmp(RT_HH_RECEP_TYPES[i].name, name, len) == 0) return i;
    return -1;
}
