/* rt_hh_step.c: the household's text commands (ALFWorld's set) and their observations. Anything that does
 * not parse or cannot be done here gives "Nothing happens.", as in ALFWorld. */
#include <ctype.h>
#include <string.h>

#include "env/hh_internal.h"

#define MAX_WORDS 8
static const char NOTHING[] = "Nothing happens.";

typedef struct {
    const char *s[MAX_WORDS];
    size_t n[MAX_WORDS];
    int count;
} words;

static void split_words(const char *a, words *w) {
    w->count = 0;
    while (*a) {
        while (*a && isspace((unsigned char)*a)) a++;
        if (!*a) break;
        if (w->count == MAX_WORDS) { w->count = MAX_WORDS + 1; return; }
        w->s[w->count] = a;
        while (*a && !isspace((unsigned char)*a)) a++;
        w->n[w->count] = (size_t)(a - w->s[w->count]);
        w->count++;
    }
}

static int word_is(const words *w, int i, const char *lit) {
    return i < w->count && w->n[i] == strlen(lit) && strncmp(w->s[i], lit, w->n[i]) == 0;
}

static int parse_num(const words *w, int i) {
    if (i >= w->count || w->n[i] > 3) return -1;
    int v = 0;
    for (size_t k = 0; k < w->n[i]; k++) {
        if (!isdigit((unsigned char)w->s[i][k])) return -1;
        v = v * 10 + (w->s[i][k] - '0');
    }
    return v;
}

/* "cabinet 3" at words i, i+1 -> receptacle index or -1. */
static int find_recep(const hh_world *h, const words *w, int i) {
    if (i + 1 >= w->count) return -1;
    int t = rt_hh_recep_type_find(w->s[i], w->n[i]), num = parse_num(w, i + 1);
    for (int r = 0; r < h->n_recep; r++)
        if (h->recep[r].type == t && h->recep[r].num == num) return r;
    return -1;
}

static int find_obj(const hh_world *h, const words *w, int i) {
    if (i + 1 >= w->count) return -1;
    int t = rt_hh_obj_type_find(w->s[i], w->n[i]), num = parse_num(w, i + 1);
    for (int o = 0; o < h->n_obj; o++)
        if (h->obj[o].type == t && h->obj[o].num == num) return o;
    return -1;
}

static int accessible(const hh_world *h, int r) {
    return r >= 0 && (!RT_HH_RECEP_TYPES[h->recep[r].type].openable || h->recep[r].open);
}

static void arrive(hh_world *h, int r, size_t *len) {
    char name[64];
    h->at = r;
    rt_env_appendf(h->obs, sizeof h->obs, len, "You arrive at %s. ", rt_hh_recep_name(h, r, name, sizeof name));
    rt_hh_describe_recep(h, r, h->obs, sizeof h->obs, len);
}

static int do_open_close(hh_world *h, int r, int open, size_t *len) {
    char name[64];
    if (r < 0 || r != h->at || !RT_HH_RECEP_TYPES[h->recep[r].type].openable || h->recep[r].open == open) return 0;
    h->recep[r].open = open;
    rt_hh_recep_name(h, r, name, sizeof name);
    if (!open) {
        rt_env_appendf(h->obs, sizeof h->obs, len, "You close the %s.", name);
        return 1;
    }
    /* ALFWorld shows the contents right away when a container is opened. */
    rt_env_appendf(h->obs, sizeof h->obs, len, "You open the %s. ", name);
    rt_hh_describe_recep(h, r, h->obs, sizeof h->obs, len);
    return 1;
}

static int do_take(hh_world *h, int o, int r, size_t *len) {
    char on[64], rn[64];
    if (o < 0 || r < 0 || r != h->at || !accessible(h, r) || h->obj[o].loc != r || h->holding >= 0) return 0;
    if (!(RT_HH_OBJ_TYPES[h->obj[o].type].flags & HH_PICK)) return 0;
    h->obj[o].loc = HH_HELD;
    h->holding = o;
    if (h->obj[o].type == h->obj_type) h->ever_picked = 1;
    rt_env_appendf(h->obs, sizeof h->obs, len, "You pick up the %s from the %s.", rt_hh_obj_name(h, o, on, sizeof on),
                   rt_hh_recep_name(h, r, rn, sizeof rn));
    return 1;
}

static int do_put(hh_world *h, int o, int r, size_t *len) {
    char on[64], rn[64];
    if (o < 0 || o != h->holding || r < 0 || r != h->at || !accessible(h, r)) return 0;
    h->obj[o].loc = r;
    h->holding = -1;
    rt_env_appendf(h->obs, sizeof h->obs, len, "You put the %s in/on the %s.", rt_hh_obj_name(h, o, on, sizeof on),
                   rt_hh_recep_name(h, r, rn, sizeof rn));
    return 1;
}

static int do_transform(hh_world *h, int aff, int o, int r, size_t *len) {
    static const char *const VERB[] = {"", "clean", "heat", "cool"};
    static const unsigned NEED[] = {0, HH_CLEAN, HH_HEAT, HH_COOL};
    char on[64], rn[64];
    if (o < 0 || o != h->holding || r < 0 || r != h->at || RT_HH_RECEP_TYPES[h->recep[r].type].affordance != aff) return 0;
    if (!(RT_HH_OBJ_TYPES[h->obj[o].type].flags & NEED[aff])) return 0;
    hh_obj *ob = &h->obj[o];
    if (aff == HH_AFF_CLEAN) ob->clean = 1;
    if (aff == HH_AFF_HEAT) ob->hot = 1, ob->cool = 0;
    if (aff == HH_AFF_COOL) ob->cool = 1, ob->hot = 0;
    if (ob->type == h->obj_type && aff == rt_hh_task_affordance(h->task)) h->ever_transformed = 1;
    rt_env_appendf(h->obs, sizeof h->obs, len, "You %s the %s using the %s.", VERB[aff], rt_hh_obj_name(h, o, on, sizeof on),
                   rt_hh_recep_name(h, r, rn, sizeof rn));
    return 1;
}

static int do_use(hh_world *h, int o, size_t *len) {
    char on[64];
    if (o < 0 || !(RT_HH_OBJ_TYPES[h->obj[o].type].flags & HH_LAMP) || h->obj[o].loc != h->at || h->at < 0) return 0;
    h->obj[o].on = !h->obj[o].on;
    if (h->obj[o].on) h->ever_lamp_on = 1;
    rt_env_appendf(h->obs, sizeof h->obs, len, "You turn %s the %s.", h->obj[o].on ? "on" : "off",
                   rt_hh_obj_name(h, o, on, sizeof on));
    return 1;
}

static int do_examine(hh_world *h, const words *w, size_t *len) {
    char on[64];
    int r = find_recep(h, w, 1);
    if (r >= 0) {
        if (r != h->at) return 0;
        rt_hh_describe_recep(h, r, h->obs, sizeof h->obs, len);
        return 1;
    }
    int o = find_obj(h, w, 1);
    if (o < 0 || (o != h->holding && (h->obj[o].loc != h->at || !accessible(h, h->at)))) return 0;
    const hh_obj *ob = &h->obj[o];
    rt_hh_obj_name(h, o, on, sizeof on);
    if (RT_HH_OBJ_TYPES[ob->type].flags & HH_LAMP) {
        rt_env_appendf(h->obs, sizeof h->obs, len, "This is a %s. It is turned %s.", on, ob->on ? "on" : "off");
        return 1;
    }
    rt_env_appendf(h->obs, sizeof h->obs, len, "This is a normal %s.", on);
    if (ob->clean) rt_env_appendf(h->obs, sizeof h->obs, len, " It is clean.");
    if (ob->hot) rt_env_appendf(h->obs, sizeof h->obs, len, " It is hot.");
    if (ob->cool) rt_env_appendf(h->obs, sizeof h->obs, len, " It is cool.");
    return 1;
}

static void do_look(hh_world *h, size_t *len) {
    char name[64];
    if (h->at >= 0) {
        rt_env_appendf(h->obs, sizeof h->obs, len, "You are facing the %s. Next to it, you see nothing.",
                       rt_hh_recep_name(h, h->at, name, sizeof name));
        return;
    }
    rt_env_appendf(h->obs, sizeof h->obs, len, "You are in the middle of a room. Looking quickly around you, you see ");
    for (int r = 0; r < h->n_recep; r++)
        rt_env_appendf(h->obs, sizeof h->obs, len, "%sa %s", r == 0 ? "" : (r == h->n_recep - 1 ? ", and " : ", "),
                       rt_hh_recep_name(h, r, name, sizeof name));
    rt_env_appendf(h->obs, sizeof h->obs, len, ".");
}

static int run_command(hh_world *h, const words *w, size_t *len) {
    char on[64];
    if (w->count == 1 && word_is(w, 0, "look")) return do_look(h, len), 1;
    if (w->count == 1 && word_is(w, 0, "inventory")) {
        if (h->holding < 0) rt_env_appendf(h->obs, sizeof h->obs, len, "You are not carrying anything.");
        else rt_env_appendf(h->obs, sizeof h->obs, len, "You are carrying: a %s.", rt_hh_obj_name(h, h->holding, on, sizeof on));
        return 1;
    }
    if (w->count == 4 && word_is(w, 0, "go") && word_is(w, 1, "to")) {
        int r = find_recep(h, w, 2);
        if (r < 0) return 0;
        arrive(h, r, len);
        return 1;
    }
    if (w->count == 3 && word_is(w, 0, "open")) return do_open_close(h, find_recep(h, w, 1), 1, len);
    if (w->count == 3 && word_is(w, 0, "close")) return do_open_close(h, find_recep(h, w, 1), 0, len);
    if (w->count == 3 && word_is(w, 0, "use")) return do_use(h, find_obj(h, w, 1), len);
    if (w->count == 3 && word_is(w, 0, "examine")) return do_examine(h, w, len);
    if (w->count == 6 && word_is(w, 0, "take") && word_is(w, 3, "from"))
        return do_take(h, find_obj(h, w, 1), find_recep(h, w, 4), len);
    if (w->count == 6 && word_is(w, 0, "put") && (word_is(w, 3, "in/on") || word_is(w, 3, "in") || word_is(w, 3, "on")))
        return do_put(h, find_obj(h, w, 1), find_recep(h, w, 4), len);
    if (w->count == 6 && word_is(w, 3, "with")) {
        int aff = word_is(w, 0, "clean") ? HH_AFF_CLEAN : word_is(w, 0, "heat") ? HH_AFF_HEAT : word_is(w, 0, "cool") ? HH_AFF_COOL : 0;
        if (aff) return do_transform(h, aff, find_obj(h, w, 1), find_recep(h, w, 4), len);
    }
    return 0;
}

rt_status rt_hh_step(void *world, const char *action, rt_env_result *out) {
    hh_world *h = world;
    words w;
    split_words(action, &w);
    h->note_ready = h->slip_action[0] && strcmp(action, h->slip_action) == 0;
    h->slip_action[0] = '\0';
    size_t len = 0;
    h->obs[0] = '\0';
    if (!run_command(h, &w, &len)) snprintf(h->obs, sizeof h->obs, "%s", NOTHING);
    h->adm_valid = 0;
    out->observation = h->obs;
    out->success = rt_hh_goal_met(h);
    out->done = out->success;
    out->reward = out->success ? 1.0 : 0.0;
    return RT_OK;
}

/* ---- admissible actions, in ALFWorld's manner: what can be done from here ---- */

static void adm_add(hh_world *h, size_t *used, const char *fmt, const char *a, const char *b) {
    if (h->n_adm >= HH_MAX_ADMISSIBLE) return;
    size_t cap = sizeof h->adm_buf - *used;
    int n = snprintf(h->adm_buf + *used, cap, fmt, a, b);
    if (n < 0 || (size_t)n >= cap) return;
    h->adm[h->n_adm++] = h->adm_buf + *used;
    *used += (size_t)n + 1;
}

size_t rt_hh_admissible(void *world, const char *const **out) {
    hh_world *h = world;
    if (!h->adm_valid) {
        char a[64], b[64];
        size_t used = 0;
        h->n_adm = 0;
        for (int r = 0; r < h->n_recep; r++)
            if (r != h->at) adm_add(h, &used, "go to %s%s", rt_hh_recep_name(h, r, a, sizeof a), "");
        int r = h->at;
        if (r >= 0) {
            rt_hh_recep_name(h, r, b, sizeof b);
            if (RT_HH_RECEP_TYPES[h->recep[r].type].openable) adm_add(h, &used, h->recep[r].open ? "close %s%s" : "open %s%s", b, "");
            if (accessible(h, r)) {
                for (int o = 0; o < h->n_obj; o++) {
                    if (h->obj[o].loc != r) continue;
                    rt_hh_obj_name(h, o, a, sizeof a);
                    if (RT_HH_OBJ_TYPES[h->obj[o].type].flags & HH_LAMP) adm_add(h, &used, "use %s%s", a, "");
                    else if (h->holding < 0) adm_add(h, &used, "take %s from %s", a, b);
                }
                if (h->holding >= 0) adm_add(h, &used, "put %s in/on %s", rt_hh_obj_name(h, h->holding, a, sizeof a), b);
            }
            static const char *const FMT[] = {NULL, "clean %s with %s", "heat %s with %s", "cool %s with %s"};
            int aff = RT_HH_RECEP_TYPES[h->recep[r].type].affordance;
            static const unsigned NEED[] = {0, HH_CLEAN, HH_HEAT, HH_COOL};
            if (aff && h->holding >= 0 && (RT_HH_OBJ_TYPES[h->obj[h->holding].type].flags & NEED[aff])) adm_add(h, &used, FMT[aff], rt_hh_obj_name(h, h->holding, a, sizeof a), b);
            adm_add(h, &used, "examine %s%s", b, "");
        }
        if (h->holding >= 0) adm_add(h, &used, "examine %s%s", rt_hh_obj_name(h, h->holding, a, sizeof a), "");
        adm_add(h, &used, "inventory%s%s", "", "");
        adm_add(h, &used, "look%s%s", "", "");
        h->adm_valid = 1;
    }
    *out = h->adm;
    return h->n_adm;
}
