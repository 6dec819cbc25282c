/* retrace/episode.h: the episode and doc formats (docs/environments.md): the one reader, writer and
 * renderer of the JSON lines that environments and the agent write and the memory, the dataset builder
 * and pretraining read.
 *
 * A line is a doc when it names a "tool" and none of an episode's keys ("steps", "task", "id");
 * everything else with one of those keys is an episode. Fields this version does not know are kept: a
 * parsed episode holds its whole JSON object, and writers add fields to the object they build. */
#ifndef RETRACE_EPISODE_H
#define RETRACE_EPISODE_H

#include <stddef.h>

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

typedef enum {
    RT_LINE_OTHER = 0,   /* neither: a reader names it as an error */
    RT_LINE_EPISODE = 1, /* has "steps", "task" or "id" */
    RT_LINE_DOC = 2,     /* has "tool" and none of the episode keys */
} rt_line_kind;

/* What a JSON value is, by the rule above (a value that is not an object is RT_LINE_OTHER). */
rt_line_kind rt_line_kind_of(const struct json_t *o);

/* A tool version from JSON as the memory stores it: a string as it is, an integer in decimal, a real
 * with %g (so 1 and "1" are the same version). Returns 0, leaving buf untouched, for any other value. */
int rt_version_text(const struct json_t *v, char *buf, size_t cap);

typedef struct {
    const char *thought, *action, *observation; /* NULL where absent */
    int slip; /* "slip": true: a deliberate mistake of a noisy policy, never a training target */
} rt_episode_step;

/* One episode, validated. The strings point into `json`, which the episode owns. */
typedef struct {
    struct json_t *json;
    const char *id, *env, *task, *task_type, *split, *outcome; /* task_type, split: NULL where absent */
    double reward;
    const char *first_observation;     /* meta.first_observation, or NULL */
    const struct json_t *api_versions; /* {"tool": version}, or NULL */
    rt_episode_step *steps;
    int n_steps;
} rt_episode;

/* Validates an episode object (required: non-empty strings id, env, task, outcome "success" or
 * "failure", a number reward in 0..1, an array of step objects whose thought/action/observation are
 * strings where present; api_versions an object of string or number versions) and takes a reference to
 * it. Errors are RT_ERR_FORMAT naming `where` and the key. */
rt_status rt_episode_from_json(struct json_t *o, const char *where, rt_episode *e);
/* The lenient reader of what steps-readers (the dataset builder) need: string id and task, the steps as
 * above; the other fields where present (unchecked). */
rt_status rt_episode_steps_from_json(struct json_t *o, const char *where, rt_episode *e);
void rt_episode_free(rt_episode *e);

/* 1 when the object's "outcome" is "success" (no other check: readers that skip failures ask this
 * before validating, so a broken failed episode is skipped as before). */
int rt_episode_succeeded(const struct json_t *o);

/* One doc, validated: a non-empty string tool, a version (string or number, as rt_version_text), a
 * string text. The strings point into `json`, except version, owned. */
typedef struct {
    struct json_t *json;
    const char *tool, *text;
    char *version;
} rt_doc;

rt_status rt_doc_from_json(struct json_t *o, const char *where, rt_doc *d);
void rt_doc_free(rt_doc *d);

/* ---- writing ---- */

/* The reward written for an episode: 1.0 on success, else the partial-credit score rounded to 4
 * decimals and never full credit (a failed episode's score of 1 or more is written as 0). */
double rt_episode_reward(int success, double score);

/* A step object {"thought", "action", "observation"} (NULL written as ""). */
struct json_t *rt_episode_step_new(const char *thought, const char *action, const char *observation);

/* What an episode's header says; the writer adds "outcome" and "reward" from success and score. */
typedef struct {
    const char *id, *env, *task, *task_type, *split; /* NULL written as "" */
    int success;
    double score;
} rt_episode_head;

/* The episode object in the format's key order: id, env, task, task_type, split, api_versions, steps,
 * outcome, reward, meta. Takes ownership of api_versions, steps and meta. */
struct json_t *rt_episode_new(const rt_episode_head *h, struct json_t *api_versions, struct json_t *steps,
                              struct json_t *meta);

/* An episode or doc as one JSON line (no newline), with reals at fixed precision so the same run gives
 * byte-identical files everywhere. Free with free(). */
char *rt_episode_line(const struct json_t *obj);

/* ---- rendering: what a model reads ---- */

/* An episode (JSON text in the episode format) as the prompt shows it: "task: ...\n", then
 * "obs: <meta.first_observation>\n" when the episode has one, then "think: ...\nact: ...\nobs: ...\n"
 * per step and "outcome: success (reward 1.00)\n". With thoughts = 0 the steps show no thought. */
rt_status rt_episode_render_text(const char *episode_json, int thoughts, char **out);
rt_status rt_episode_render(const char *episode_json, char **out); /* with thoughts */

/* Appends "label text\n" (newlines in text folded to spaces so a field stays one line); nothing for an
 * empty or NULL text. */
void rt_episode_add_field(rt_strbuf *s, const char *label, const char *text);
/* Appends a step's think/act/obs lines (a NULL or empty field is left out). */
void rt_episode_add_step(rt_strbuf *s, const char *thought, const char *action, const char *observation);

/* The step a model is trained to write: "think: <thought>\nact: <action>\n" (no think line when the
 * thought is empty). */
char *rt_step_target(const char *thought, const char *action);

#ifdef __cplusplus
}
#endif
#endif
