/* env_internal.h: the table of functions each world implements, and the rt_env that wraps a world with
 * the step budget and the bookkeeping shared by all worlds. */
#ifndef RT_ENV_INTERNAL_H
#define RT_ENV_INTERNAL_H

#include <jansson.h>

#include "retrace/env.h"

typedef struct {
    const char *name;
    rt_status (*reset)(void *w, uint64_t seed, rt_env_start *out);
    rt_status (*step)(void *w, const char *action, rt_env_result *out);
    size_t (*admissible)(void *w, const char *const **out);
    double (*score)(void *w);
    int (*expert)(void *w, rt_env_advice *out);     /* NULL: no expert */
    int (*set_flaw)(void *w, rt_env_flaw flaw);     /* NULL: no flaws */
    int (*slip)(void *w, uint64_t draw, rt_env_advice *out); /* NULL: no plausible slips */
    int (*default_max_steps)(void *w);              /* for the episode just reset */
    void (*describe)(void *w, json_t *meta, json_t *api_versions);
    rt_status (*docs)(void *w, json_t *docs);       /* NULL: no docs */
    void (*destroy)(void *w);
} rt_env_vtable;

struct rt_env {
    const rt_env_vtable *vt;
    void *world;
    rt_env_config cfg;
    char *split;
    int max_steps;   /* this episode's budget */
    int steps;
    int done;
    char *budget_obs; /* the last observation with the budget note, owned here */
};

/* Constructors of the worlds (each in its own file). */
rt_status rt_household_open(const rt_env_config *cfg, void **world, const rt_env_vtable **vt);
rt_status rt_toolapi_open(const char *spec, const rt_env_config *cfg, void **world, const rt_env_vtable **vt);
rt_status rt_exec_open(const char *cmd, const rt_env_config *cfg, void **world, const rt_env_vtable **vt);

/* Puts `prefix` and a space before the text in buf (truncating at cap): a recovery's thought opens with
 * what went wrong in the slip before it. */
void rt_env_prefix(char *buf, size_t cap, const char *prefix);

/* Formats into a fixed buffer, appending; keeps *len updated and never overflows (truncates). */
void rt_env_appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
