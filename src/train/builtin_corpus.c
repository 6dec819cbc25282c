/* builtin_corpus.c: a small generated text of agent episodes, so the demo and tests need no data files.
 * The structure (task, thoughts, actions, observations) is what retrace trains on; the worlds
 * themselves live in src/env. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "retrace/train.h"

static const char *const OBJECTS[] = {"apple", "mug", "knife", "plate", "tomato", "egg", "bowl", "spoon", "potato", "cup", "lettuce", "pan"};
static const char *const PLACES[] = {"countertop", "cabinet", "drawer", "shelf", "diningtable", "sinkbasin", "stoveburner", "fridge", "microwave", "garbagecan"};
static const char *const GOALS[] = {"fridge", "diningtable", "shelf", "countertop", "cabinet", "drawer"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick(rt_rng *r, const char *const *list, size_t n) { return list[rt_rng_below(r, n)]; }

/* One episode: find the object by searching places, optionally treat it, then place it. */
static void episode(rt_strbuf *s, rt_rng *r) {
    const char *obj = pick(r, OBJECTS, N_OF(OBJECTS));
    const char *goal = pick(r, GOALS, N_OF(GOALS));
    int kind = (int)rt_rng_below(r, 3); /* 0 plain, 1 clean, 2 heat */
    static const char *const adj[] = {"", "clean ", "hot "};
    rt_strbuf_addf(s, "task: put a %s%s in the %s.\n", adj[kind], obj, goal);
    int tries = 1 + (int)rt_rng_below(r, 3);
    for (int t = 0; t < tries; t++) {
        const char *place = pick(r, PLACES, N_OF(PLACES));
        int num = 1 + (int)rt_rng_below(r, 3);
        int found = t == tries - 1;
        rt_strbuf_addf(s, "think: the %s may be on the %s %d.\nact: go to %s %d\n", obj, place, num, place, num);
        if (found) {
            rt_strbuf_addf(s, "obs: on the %s %d, you see a %s 1.\nact: take %s 1 from %s %d\nobs: you pick up the %s 1.\n",
                place, num, obj, obj, place, num, obj);
        } else {
            const char *other = pick(r, OBJECTS, N_OF(OBJECTS));
            rt_strbuf_addf(s, "obs: on the %s %d, you see a %s 2.\n", place, num, strcmp(other, obj) ? other : "book");
        }
    }
    if (kind == 1)
        rt_strbuf_addf(s, "think: now i clean the %s.\nact: go to sinkbasin 1\nact: clean %s 1 with sinkbasin 1\nobs: you clean the %s 1.\n", obj, obj, obj);
    if (kind == 2)
        rt_strbuf_addf(s, "think: now i heat the %s.\nact: go to microwave 1\nact: heat %s 1 with microwave 1\nobs: you heat the %s 1.\n", obj, obj, obj);
    rt_strbuf_addf(s, "think: now i put it in the %s.\nact: go to %s 1\nact: put %s 1 in/on %s 1\nobs: you put the %s 1 in/on the %s 1.\ndone: success\n\n",
        goal, goal, obj, goal, obj, goal);
}

char *rt_builtin_corpus(uint64_t seed, size_t bytes) {
    rt_strbuf s = {0};
    rt_strbuf_add(&s, "");
    rt_rng r;
    rt_rng_seed(&r, seed);
    while (s.len < bytes) episode(&s, &r);
    return s.buf;
}
