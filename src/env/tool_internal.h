/* tool_internal.h: the toolapi world: scenario packs (tables, versioned tools, drift rules, task
 * templates), typed values with formats, effects on tables, the expert. Tool definitions stay as JSON
 * objects (the pack's own words) and each API version is derived from the first by its drift rules. */
#ifndef RT_TOOL_INTERNAL_H
#define RT_TOOL_INTERNAL_H

#include <jansson.h>
#include <string.h>

#include "env/env_internal.h"

/* Pack checks look things up in JSON that may be damaged: a missing string is simply not equal. */
static inline int ta_streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

#define TA_MAX_VERSIONS 8
#define TA_MAX_PACKS 64

/* Value types of columns and arguments. Quantities are stored as integers in a base unit. */
typedef enum { TA_STRING, TA_INT, TA_NUMBER, TA_BOOL, TA_DATE, TA_MONEY, TA_DURATION, TA_WEIGHT, TA_ENUM, TA_BAD } ta_type;

ta_type rt_ta_type_parse(const char *s);
const char *rt_ta_type_name(ta_type t);
/* Formats: dates "iso" (YYYY-MM-DD), "dmy" (DD/MM/YYYY), "mdy" (MM/DD/YYYY), "compact" (YYYYMMDD);
 * units: money "cents"/"dollars", duration "minutes"/"hours", weight "grams"/"kilograms". */
int rt_ta_format_valid(ta_type t, const char *fmt);
const char *rt_ta_format_default(ta_type t);
const char *rt_ta_format_describe(ta_type t, const char *fmt); /* for docs: "DD/MM/YYYY", "in dollars" */

/* Converts an API value in format `fmt` into the canonical value of its column (ISO date string, integer
 * base units). Returns 0 and writes the error the API gives (TypeError/ValueError text) on failure. */
int rt_ta_value_in(const json_t *v, ta_type t, const char *fmt, const json_t *enum_values, const char *arg,
                json_t **canon, char *err, size_t errcap);
/* The API's rendering of a canonical value. */
json_t *rt_ta_value_out(const json_t *canon, ta_type t, const char *fmt);
/* Is a canonical value valid for its column type (used to check pack rows)? */
int rt_ta_canon_valid(const json_t *v, ta_type t);

/* Task text: "{p}", "{p.col}", "{p:long}" (dates), "{p:dollars}", "{p:hours}", "{p:kilograms}". */
typedef struct {
    const json_t *bind; /* name -> canonical value or row object */
} ta_scope;
/* Renders a template to text; returns 0 (and names the placeholder in err) when one is unknown. */
int rt_ta_render_text(const char *tmpl, const ta_scope *sc, char *out, size_t cap, char *err, size_t errcap);
/* A template that is exactly one placeholder keeps the value's JSON type; otherwise it is text. */
json_t *rt_ta_render_value(const json_t *tmpl, const ta_scope *sc, char *err, size_t errcap);

typedef struct {
    char *path;
    json_t *root;
    const char *domain;
    int n_versions;
    json_t *tools[TA_MAX_VERSIONS]; /* per version: array of tool objects (with "id", maybe "deprecated") */
    json_t *tables;                 /* borrowed from root */
    json_t *tasks;                  /* borrowed from root */
} ta_pack;

/* Loads and validates a pack; every problem goes to `errors` ("$.path: reason"). On success *out is set. */
rt_status rt_ta_pack_load(const char *path, json_t *errors, ta_pack **out);
void rt_ta_pack_free(ta_pack *p);
json_t *rt_ta_find_tool(const ta_pack *p, int version, const char *name); /* by current name */
json_t *rt_ta_find_tool_id(const ta_pack *p, int version, const char *id); /* by stable id */
json_t *rt_ta_tool_arg(const json_t *tool, const char *name);     /* by current name */
json_t *rt_ta_tool_arg_key(const json_t *tool, const char *key);  /* by stable key */
/* Applies the drift rules of version index vi (>= 1) to a copy of version vi-1; appends errors. */
int rt_ta_drift_apply(ta_pack *p, int vi, const json_t *rules, const char *path, json_t *errors);
json_t *rt_ta_table_columns(const ta_pack *p, const char *table);
ta_type rt_ta_column_type(const ta_pack *p, const char *table, const char *column);

/* ---- the world ---- */

typedef struct {
    int tool_step; /* plan step index */
    int part;      /* which call of a step that a split tool made into several */
} ta_pc;

typedef struct {
    rt_env_config cfg;
    ta_pack *packs[TA_MAX_PACKS];
    int n_packs;
    int version_fixed; /* 0: by split */
    int task_split_test, api_newest;
    /* episode */
    uint64_t seed;
    rt_rng rng;
    ta_pack *pk;
    int version; /* index into pk->tools */
    json_t *task;   /* borrowed */
    json_t *bind;   /* the true parameters */
    json_t *xbind;  /* what the expert believes (differs under the wrong-object flaw), plus saved values */
    json_t *tables; /* the live state */
    json_t *last_result; /* canonical result of the last successful call */
    char task_text[1024];
    char *obs;
    int finished;
    json_t *answer;
    /* expert */
    ta_pc pc;
    char pending[RT_ENV_TEXT_MAX];
    int pending_valid;
    rt_env_flaw flaw;
    int flaw_step; /* plan step the flaw applies to */
    int flaw_spent;
    /* slips: the last one offered, and what went wrong in it for the recovery's thought */
    char slip_action[RT_ENV_TEXT_MAX];
    char slip_note[256];
    int note_ready;
    /* admissible */
    int adm_valid;
    json_t *adm_strings;
    const char **adm;
    size_t n_adm;
} ta_world;

/* Executes one call against the live tables. Returns 1 on success with *result (canonical) set, or 0
 * with the API's error text in err. */
int rt_ta_call(ta_world *w, const char *name, const json_t *args, json_t **result, char *err, size_t errcap);
/* The canonical -> API rendering of a call result for the current version. */
json_t *rt_ta_result_out(ta_world *w, const json_t *tool, const json_t *canon);
/* Goal checks: how many hold, out of how many. */
void rt_ta_goal_count(ta_world *w, int *met, int *total);
/* Instantiates a task template's parameters from the rng; returns 0 with err on failure. */
int rt_ta_bind_params(ta_pack *p, const json_t *task, rt_rng *rng, json_t *tables, json_t **bind, char *err, size_t errcap);

int rt_ta_expert(void *world, rt_env_advice *out);
int rt_ta_set_flaw(void *world, rt_env_flaw flaw);
int rt_ta_slip(void *world, uint64_t draw, rt_env_advice *out);
/* The expert's calls for plan step `si` under version `vi`, as "name {json}" strings in a new array,
 * with the thoughts beside them. Returns 0 with err when a placeholder has no value. */
int rt_ta_render_step(ta_world *w, int vi, int si, const json_t *bind, json_t **calls, char *err, size_t errcap);
/* Called by the world after each step, so the expert can advance past calls that worked. */
void rt_ta_expert_observe(ta_world *w, const char *action, int ok);

rt_status rt_ta_docs(void *world, json_t *docs);
void rt_ta_doc_text(const ta_pack *p, int vi, const json_t *tool, char *out, size_t cap);

#endif
