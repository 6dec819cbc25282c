/* rt_hh_expert.c: the household expert. It knows the rules but not where things are: like ALFWorld's
 * expert it searches receptacles it has not looked into, in the order where the object is most likely
 * to be, and uses only what its observations have shown. It replans from the state at every step, so a
 * random slip costs steps, not the task. Flaws (the noisy expert's committed mistakes) are applied here
 * so that they look like the failures a real agent has. */
#include <string.h>

#include "env/hh_internal.h"

static const char *const VERB[] = {"", "clean", "heat", "cool"};

static int accessible(const hh_world *h, int r) {
    return !RT_HH_RECEP_TYPES[h->recep[r].type].openable || h->recep[r].open;
}

static int advise(rt_env_advice *out, const char *action, const char *thought) {
    snprintf(out->action, sizeof out->action, "%s", action);
    snprintf(out->thought, sizeof out->thought, "%s", thought);
    return 1;
}

static int go_to(const hh_world *h, int r, rt_env_advice *out, const char *why) {
    char rn[64], act[96];
    snprintf(act, sizeof act, "go to %s", rt_hh_recep_name(h, r, rn, sizeof rn));
    return advise(out, act, why);
}

/* Goes to receptacle r, opening it if closed, then does `act`. */
static int reach(const hh_world *h, int r, rt_env_advice *out, const char *why_go, const char *act, const char *why_act) {
    char rn[64], buf[96], th[RT_ENV_TEXT_MAX];
    rt_hh_recep_name(h, r, rn, sizeof rn);
    if (h->at != r) return go_to(h, r, out, why_go);
    if (!accessible(h, r)) {
        snprintf(buf, sizeof buf, "open %s", rn);
        snprintf(th, sizeof th, "The %s is closed; I open it first.", rn);
        return advise(out, buf, th);
    }
    return advise(out, act, why_act);
}

/* The next receptacle to look into for an object of type t: first the places where such objects are
 * usually kept, then the rest. Returns -1 when every receptacle has been seen. */
static int next_unseen(const hh_world *h, int t, int *likely) {
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < h->n_recep; r++) {
            int usual = (RT_HH_OBJ_TYPES[t].spawn >> h->recep[r].type) & 1;
            if (!h->recep[r].seen && usual == (pass == 0)) {
                *likely = usual;
                return r;
            }
        }
    return -1;
}

static int search(const hh_world *h, int t, rt_env_advice *out) {
    char rn[64], th[RT_ENV_TEXT_MAX], act[96];
    int likely = 0;
    int r = next_unseen(h, t, &likely);
    const char *tn = RT_HH_OBJ_TYPES[t].name;
    if (r < 0) return advise(out, "look", "I have looked everywhere; let me look around again.");
    rt_hh_recep_name(h, r, rn, sizeof rn);
    if (h->at == r && !accessible(h, r)) {
        snprintf(act, sizeof act, "open %s", rn);
        snprintf(th, sizeof th, "The %s is closed; I open it to see whether there is a %s inside.", rn, tn);
        return advise(out, act, th);
    }
    if (likely)
        snprintf(th, sizeof th, "I need a %s and have not found one yet. A %s is often kept at a %s, and I have not checked the %s, so I go there.",
                 tn, tn, RT_HH_RECEP_TYPES[h->recep[r].type].name, rn);
    else
        snprintf(th, sizeof th, "No %s in the usual places so far; the %s is one place I have not checked yet.", tn, rn);
    return go_to(h, r, out, th);
}

static int first_lamp(const hh_world *h) {
    for (int o = 0; o < h->n_obj; o++)
        if (RT_HH_OBJ_TYPES[h->obj[o].type].flags & HH_LAMP) return o;
    return -1;
}

static int first_recep_with(const hh_world *h, int type, int aff) {
    for (int r = 0; r < h->n_recep; r++)
        if ((type >= 0 && h->recep[r].type == type) || (aff && RT_HH_RECEP_TYPES[h->recep[r].type].affordance == aff)) return r;
    return -1;
}

/* Holding the object the expert believes is the right one: transform it, light it, or place it. */
static int with_object(hh_world *h, int o, rt_env_advice *out) {
    char on[64], rn[64], act[160], th[RT_ENV_TEXT_MAX], go[RT_ENV_TEXT_MAX];
    rt_hh_obj_name(h, o, on, sizeof on);
    int skip = h->flaw == RT_FLAW_SKIP_STEP;
    if (h->task == HH_TASK_LOOK_LIGHT) {
        int lamp = first_lamp(h);
        if (lamp < 0) return 0;
        if (!h->obj[lamp].seen) return search(h, h->obj[lamp].type, out);
        int r = h->obj[lamp].loc;
        rt_hh_recep_name(h, r, rn, sizeof rn);
        if (skip && h->at == r) return 0; /* believes standing by the lamp is enough */
        snprintf(go, sizeof go, "I have the %s; now I go to the desklamp 1 on the %s to look at it in the light.", on, rn);
        snprintf(act, sizeof act, "use desklamp %d", h->obj[lamp].num);
        snprintf(th, sizeof th, "I turn on the desklamp %d to look at the %s under it.", h->obj[lamp].num, on);
        if (h->obj[lamp].on && h->at == r) return 0;
        return reach(h, r, out, go, act, th);
    }
    int aff = rt_hh_task_affordance(h->task);
    if (aff && !skip && !rt_hh_transform_ok(h, o)) {
        int a = first_recep_with(h, -1, aff);
        rt_hh_recep_name(h, a, rn, sizeof rn);
        snprintf(go, sizeof go, "Now I need to %s the %s; the %s can do that, so I go there.", VERB[aff], on, rn);
        snprintf(act, sizeof act, "%s %s with %s", VERB[aff], on, rn);
        snprintf(th, sizeof th, "I %s the %s with the %s.", VERB[aff], on, rn);
        if (h->at == a) return advise(out, act, th);
        return go_to(h, a, out, go);
    }
    if (skip && h->task == HH_TASK_PICK_PLACE) return 0; /* forgets to put it down where asked */
    int t = first_recep_with(h, h->recep_type, 0);
    rt_hh_recep_name(h, t, rn, sizeof rn);
    if (h->task == HH_TASK_TWO)
        snprintf(go, sizeof go, "I have a %s; I take it to the %s, then I still need to make sure there are two there.", on, rn);
    else if (aff)
        snprintf(go, sizeof go, "The %s is %s now; I take it to the %s as the task asks.", on, skip ? "ready" : (aff == 1 ? "clean" : aff == 2 ? "hot" : "cool"), rn);
    else
        snprintf(go, sizeof go, "I have the %s; now I take it to the %s.", on, rn);
    snprintf(act, sizeof act, "put %s in/on %s", on, rn);
    snprintf(th, sizeof th, "I put the %s in/on the %s.", on, rn);
    return reach(h, t, out, go, act, th);
}

/* Which seen object to fetch next, or -1 if none is known yet. */
static int pick_candidate(hh_world *h) {
    if (h->wrong_obj >= 0) return h->wrong_obj;
    int best = -1;
    for (int o = 0; o < h->n_obj; o++) {
        const hh_obj *ob = &h->obj[o];
        if (ob->type != h->obj_type || !ob->seen || ob->loc < 0 || rt_hh_obj_done(h, o)) continue;
        if (h->task == HH_TASK_TWO && h->recep[ob->loc].type == h->recep_type) continue;
        if (best < 0 || ob->loc == h->at) best = o;
        if (ob->loc == h->at) break;
    }
    if (best >= 0 && h->flaw == RT_FLAW_WRONG_OBJECT) {
        /* The mistake: a different object that was seen nearby, taken for the one asked for. */
        for (int o = 0; o < h->n_obj; o++) {
            const hh_obj *ob = &h->obj[o];
            if (ob->type == h->obj_type || !ob->seen || ob->loc < 0 || !(RT_HH_OBJ_TYPES[ob->type].flags & HH_PICK)) continue;
            if (h->task != HH_TASK_LOOK_LIGHT && h->recep[ob->loc].type == h->recep_type) continue;
            h->wrong_obj = o;
            return o;
        }
        return -1; /* nothing else seen yet: keeps looking, and will take the first other thing it sees */
    }
    return best;
}

static int wander(hh_world *h, rt_env_advice *out) {
    char rn[64], th[RT_ENV_TEXT_MAX];
    int r = (int)rt_rng_below(&h->flaw_rng, (uint64_t)h->n_recep);
    if (r == h->at) return advise(out, "look", "Let me look around to get my bearings.");
    snprintf(th, sizeof th, "Maybe I missed something at the %s; let me check it again.", rt_hh_recep_name(h, r, rn, sizeof rn));
    return go_to(h, r, out, th);
}

int rt_hh_expert_plan(hh_world *h, rt_env_advice *out) {
    char on[64], rn[64], act[160], th[RT_ENV_TEXT_MAX], go[RT_ENV_TEXT_MAX];
    if (rt_hh_goal_met(h)) return 0;
    if (h->flaw == RT_FLAW_WANDER) return wander(h, out);
    if (h->holding >= 0) {
        int o = h->holding;
        int useful = h->wrong_obj >= 0 ? o == h->wrong_obj : h->obj[o].type == h->obj_type;
        if (useful) return with_object(h, o, out);
        rt_hh_obj_name(h, o, on, sizeof on);
        int r = h->at >= 0 ? h->at : first_recep_with(h, h->recep_type >= 0 ? h->recep_type : h->recep[0].type, 0);
        rt_hh_recep_name(h, r, rn, sizeof rn);
        snprintf(go, sizeof go, "I am holding the %s, which the task does not need; I put it down first.", on);
        snprintf(act, sizeof act, "put %s in/on %s", on, rn);
        return reach(h, r, out, go, act, go);
    }
    if (h->wrong_obj >= 0 && h->obj[h->wrong_obj].loc >= 0 && h->recep[h->obj[h->wrong_obj].loc].type == h->recep_type)
        return 0; /* believes the task is done */
    if (h->flaw == RT_FLAW_SKIP_STEP && h->task != HH_TASK_LOOK_LIGHT) {
        /* Believes the task is done once one object of the type is in place, whatever its state. */
        for (int o = 0; o < h->n_obj; o++)
            if (h->obj[o].type == h->obj_type && h->obj[o].loc >= 0 && h->recep[h->obj[o].loc].type == h->recep_type)
                return 0;
    }
    int c = pick_candidate(h);
    if (c < 0) return search(h, h->obj_type, out);
    int r = h->obj[c].loc;
    rt_hh_obj_name(h, c, on, sizeof on);
    rt_hh_recep_name(h, r, rn, sizeof rn);
    snprintf(go, sizeof go, "I saw a %s at the %s; I go there to take it.", on, rn);
    snprintf(act, sizeof act, "take %s from %s", on, rn);
    snprintf(th, sizeof th, "Here is the %s; I take it.", on);
    return reach(h, r, out, go, act, th);
}

/* After a slip (rt_hh_slip.c) the recovery's thought first says what went wrong. */
int rt_hh_expert(void *world, rt_env_advice *out) {
    hh_world *h = world;
    int r = rt_hh_expert_plan(h, out);
    if (r == 1 && h->note_ready) rt_env_prefix(out->thought, sizeof out->thought, h->slip_note);
    h->note_ready = 0;
    return r;
}

int rt_hh_set_flaw(void *world, rt_env_flaw flaw) {
    hh_world *h = world;
    if (flaw == RT_FLAW_STALE_CALL) return 0;
    h->flaw = flaw;
    rt_rng_seed(&h->flaw_rng, h->seed ^ 0x77616e646572ull);
    return 1;
}
