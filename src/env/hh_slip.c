/* rt_hh_slip.c: the household's plausible slips, the mistakes a noisy agent makes: the expert's next action
 * with one number wrong (a receptacle the room lacks, "go to countertop 2" in a room with one; an object
 * that is not where it is taken from), or an object of the task's type taken from where none is in
 * view. Each is tried on a copy of the world and kept only if it gives "Nothing happens.", so nothing
 * changes and the expert's next action is the recovery; its thought opens with what went wrong. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "env/hh_internal.h"

#define MAX_CANDIDATES 8
#define MAX_WORDS 8

typedef struct {
    char action[160];
    char from[64], to[64]; /* the name the slip got wrong, and the wrong one, for its thought */
    char note[200];
} hh_cand;

/* Does the action do nothing here? Tried on a copy, so the world itself is untouched. */
static int rejected(const hh_world *h, const char *action) {
    hh_world *c = rt_malloc(sizeof *c);
    memcpy(c, h, sizeof *c);
    rt_env_result r;
    rt_hh_step(c, action, &r);
    int nothing = strcmp(c->obs, "Nothing happens.") == 0;
    free(c);
    return nothing;
}

static int count_recep(const hh_world *h, int type) {
    int n = 0;
    for (int r = 0; r < h->n_recep; r++) n += h->recep[r].type == type;
    return n;
}

/* Replaces whole-name occurrences of `from` ("cabinet 1", not "cabinet 10") by `to`. */
static void subst(const char *s, const char *from, const char *to, char *out, size_t cap) {
    size_t len = 0, fl = strlen(from);
    out[0] = '\0';
    while (*s) {
        if (fl && strncmp(s, from, fl) == 0 && !isdigit((unsigned char)s[fl])) {
            rt_env_appendf(out, cap, &len, "%s", to);
            s += fl;
        } else {
            rt_env_appendf(out, cap, &len, "%c", *s++);
        }
    }
}

/* Word i+1 of the action is the number of the name at word i; the slip names number `wrong` instead. */
static void renumber(const char w[][32], int n, int i, int wrong, hh_cand *c) {
    size_t len = 0;
    c->action[0] = '\0';
    for (int k = 0; k < n; k++) {
        if (k == i + 1) rt_env_appendf(c->action, sizeof c->action, &len, "%s%d", k ? " " : "", wrong);
        else rt_env_appendf(c->action, sizeof c->action, &len, "%s%s", k ? " " : "", w[k]);
    }
    snprintf(c->from, sizeof c->from, "%s %s", w[i], w[i + 1]);
    snprintf(c->to, sizeof c->to, "%s %d", w[i], wrong);
}

static int split_words(const char *a, char w[][32]) {
    int n = 0;
    while (*a && n < MAX_WORDS) {
        while (*a == ' ') a++;
        size_t k = 0;
        while (a[k] && a[k] != ' ') k++;
        if (k == 0 || k >= 32) break;
        memcpy(w[n], a, k);
        w[n++][k] = '\0';
        a += k;
    }
    return n;
}

/* Variants of the expert's action with one receptacle or object number wrong. */
static int wrong_numbers(const hh_world *h, const char *action, hh_cand *c, int max) {
    char w[MAX_WORDS][32], rn[64];
    int n = split_words(action, w), k = 0;
    for (int i = 0; i + 1 < n && k < max; i++) {
        if (!isdigit((unsigned char)w[i + 1][0])) continue;
        int rt = rt_hh_recep_type_find(w[i], strlen(w[i])), ot = rt_hh_obj_type_find(w[i], strlen(w[i]));
        if (rt >= 0) {
            renumber(w, n, i, count_recep(h, rt) + 1, &c[k]);
            snprintf(c[k].note, sizeof c[k].note, "Nothing happened: this room has no %s.", c[k].to);
        } else if (ot >= 0) {
            renumber(w, n, i, atoi(w[i + 1]) + 1, &c[k]);
            if (!strcmp(w[0], "take") && h->at >= 0)
                snprintf(c[k].note, sizeof c[k].note, "Nothing happened: there is no %s at the %s.", c[k].to,
                         rt_hh_recep_name(h, h->at, rn, sizeof rn));
            else
                snprintf(c[k].note, sizeof c[k].note, "Nothing happened: there is no %s here.", c[k].to);
        } else {
            continue;
        }
        k += rejected(h, c[k].action);
    }
    return k;
}

/* Reaching for the task's object where none is in view, as an agent that assumes instead of looking. */
static int take_unseen(const hh_world *h, hh_cand *c) {
    char rn[64];
    if (h->at < 0 || h->holding >= 0) return 0;
    const char *tn = RT_HH_OBJ_TYPES[h->obj_type].name;
    rt_hh_recep_name(h, h->at, rn, sizeof rn);
    snprintf(c->action, sizeof c->action, "take %s 1 from %s", tn, rn);
    snprintf(c->from, sizeof c->from, "%s", "");
    snprintf(c->to, sizeof c->to, "%s", "");
    snprintf(c->note, sizeof c->note, "Nothing happened: there is no %s 1 at the %s.", tn, rn);
    return rejected(h, c->action);
}

int rt_hh_slip(void *world, uint64_t draw, rt_env_advice *out) {
    hh_world *h = world;
    rt_env_advice next;
    /* Only where the expert's next action works, so that the step after the slip is a recovery. */
    if (h->flaw == RT_FLAW_WANDER || rt_hh_expert_plan(h, &next) != 1 || rejected(h, next.action)) return 0;
    hh_cand c[MAX_CANDIDATES];
    int n = wrong_numbers(h, next.action, c, MAX_CANDIDATES - 1);
    n += take_unseen(h, &c[n]);
    if (n == 0) return 0;
    const hh_cand *pick = &c[draw % (uint64_t)n];
    snprintf(out->action, sizeof out->action, "%s", pick->action);
    if (pick->from[0]) subst(next.thought, pick->from, pick->to, out->thought, sizeof out->thought);
    else snprintf(out->thought, sizeof out->thought, "There may be a %s here; I take one.", RT_HH_OBJ_TYPES[h->obj_type].name);
    snprintf(h->slip_action, sizeof h->slip_action, "%s", pick->action);
    snprintf(h->slip_note, sizeof h->slip_note, "%s", pick->note);
    return 1;
}
