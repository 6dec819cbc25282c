/* retrace/env.h: agent environments: the built-in `household` (ALFWorld-style) and `toolapi` (scenario
 * packs with API drift) worlds, external environments over JSON lines (`exec:CMD`), the expert, noisy
 * and random policies, and the episode runner that writes episodes in the format of docs/.
 *
 * An environment is opened from a spec string ("household", "toolapi", "path/to/pack.json",
 * "exec:python3 env.py"), reset with a seed (the same seed gives the same episode on every machine) and
 * stepped with text actions. Unknown or malformed actions are observations ("Nothing happens.", an API
 * error), never errors; an rt_status other than RT_OK means the environment itself broke (an external
 * child died, hung or wrote bad JSON). */
#ifndef RETRACE_ENV_H
#define RETRACE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Splits. `unseen_task` holds the held-out task types (household) or task templates (toolapi);
 * `unseen_scene` the held-out layouts and objects (household); `unseen_api` the drifted API version
 * (toolapi); `unseen` all that is held out at once. */
#define RT_ENV_SPLIT_TRAIN "train"

typedef struct {
    const char *split;     /* one of the splits above; NULL means "train" */
    const char *held_out;  /* household: comma-separated task types held out; NULL = the paper's three
                            * (pick_cool_then_place_in_recep, pick_heat_then_place_in_recep,
                            * pick_two_obj_and_place) */
    int max_steps;         /* step budget; 0 = the world's own (household: 50 or more, see docs) */
    int api_version;       /* toolapi: 0 = by split (train, unseen_task: one of the older versions drawn
                            * per episode; unseen_api, unseen: the newest), N = always version N */
    int step_timeout_ms;   /* exec: how long one reply may take */
    const char *packs_dir; /* toolapi: where the packs are; NULL = $RETRACE_PACKS or <binary>/../packs */
} rt_env_config;

rt_env_config rt_env_config_default(void);

typedef struct rt_env rt_env;

/* What reset returns. Strings belong to the environment and stay valid until its next reset/step. */
typedef struct {
    const char *task;        /* goal text, e.g. "put a clean apple in fridge." */
    const char *task_type;   /* e.g. "pick_clean_then_place_in_recep", a toolapi template id */
    const char *observation; /* the first observation (includes the task for household) */
} rt_env_start;

typedef struct {
    const char *observation;
    double reward;           /* the environment's reward for this step */
    int done;                /* the episode is over (success, budget, or the world says so) */
    int success;
} rt_env_result;

/* One policy decision: an action and the thought behind it. */
#define RT_ENV_TEXT_MAX 1024
typedef struct {
    char thought[RT_ENV_TEXT_MAX];
    char action[RT_ENV_TEXT_MAX];
    int slip; /* the action is a known mistake (a slip, or a flawed expert's stale call): never a target */
} rt_env_advice;

/* Mistakes a noisy expert makes on purpose (committed for the episode; see docs/environments.md). */
typedef enum {
    RT_FLAW_NONE = 0,
    RT_FLAW_WRONG_OBJECT = 1, /* picks or names the wrong object / row */
    RT_FLAW_SKIP_STEP = 2,    /* leaves out one needed step */
    RT_FLAW_STALE_CALL = 3,   /* toolapi: calls the API as an older version documented it */
    RT_FLAW_WANDER = 4,       /* loops without progress until the step budget runs out */
} rt_env_flaw;

rt_status rt_env_open(const char *spec, const rt_env_config *cfg, rt_env **out);
void rt_env_close(rt_env *env);

rt_status rt_env_reset(rt_env *env, uint64_t seed, rt_env_start *out);
rt_status rt_env_step(rt_env *env, const char *action, rt_env_result *out);
/* The admissible actions of the current state (toolapi: one plausible call per tool and "finish"). */
size_t rt_env_admissible(rt_env *env, const char *const **out);
/* Progress toward the goal in [0,1] with partial credit by sub-goal; 1 exactly on success. */
double rt_env_score(rt_env *env);
/* The expert's next decision. Returns 1 with an action, 0 when the expert believes the task is done
 * (or, with a flaw, wrongly believes so), -1 when this environment has no expert. */
int rt_env_expert(rt_env *env, rt_env_advice *out);
/* A plausible slip: close to what the expert would do next, but wrong the way agents get it wrong (an
 * older version's tool or argument name, a wrong id or date format, an object not in view, a receptacle
 * the room lacks). The world rejects it with its real error and nothing changes, so the expert's next
 * action is the recovery (and its thought says what went wrong). `draw` picks among the candidates.
 * Returns 1 with an action (out->slip set), 0 when none fits this state, -1 when the world has none. */
int rt_env_slip(rt_env *env, uint64_t draw, rt_env_advice *out);
/* Commits the expert to a flaw for the rest of the episode (a noisy expert's mistake). Returns 0 when
 * the world cannot make that mistake in this episode. */
int rt_env_set_flaw(rt_env *env, rt_env_flaw flaw);

const char *rt_env_name(const rt_env *env); /* "household", "toolapi", "exec" */
const char *rt_env_split(const rt_env *env);
int rt_env_steps_taken(const rt_env *env);
int rt_env_max_steps(const rt_env *env);
/* Adds the world's facts about the current episode to `meta` (room, layout, domain, template...) and
 * the tool versions in use to `api_versions` (may stay empty). */
void rt_env_describe(rt_env *env, struct json_t *meta, struct json_t *api_versions);
/* toolapi: appends {"tool","version","text"} for every tool of every version to `docs` (an array). */
rt_status rt_env_docs(rt_env *env, struct json_t *docs);

/* ---- policies and episodes ---- */

typedef enum { RT_POLICY_EXPERT = 0, RT_POLICY_NOISY = 1, RT_POLICY_RANDOM = 2 } rt_policy_kind;

typedef struct {
    rt_policy_kind kind;
    double noise; /* noisy: probability that an episode gets a committed flaw (slips come at noise/4 per step) */
} rt_policy;

rt_policy rt_policy_default(void);
rt_status rt_policy_parse(const char *name, rt_policy_kind *out);
const char *rt_policy_name(rt_policy_kind kind);

/* Runs one episode and builds its JSON object in the episode format of docs/environments.md.
 * A broken environment (exec child death, hang, bad JSON) does not fail the call: the episode ends
 * as a failure with meta.error saying why. Only misuse returns an error. */
rt_status rt_env_run_episode(rt_env *env, const rt_policy *policy, uint64_t seed, const char *id,
                             struct json_t **episode);

/* Runs episodes 0..n-1 of a run seeded run_seed (episode i from rt_env_episode_seed(run_seed, i), id
 * "<env>-<split>-s<run_seed>-<i, 6 digits>"), calling on_episode after each; a non-OK status from it or
 * from an episode stops the run with that status. */
typedef rt_status (*rt_env_episode_fn)(void *ctx, const struct json_t *episode, long long index);
rt_status rt_env_run_episodes(rt_env *env, const rt_policy *policy, uint64_t run_seed, long long n,
                              rt_env_episode_fn on_episode, void *ctx);

/* The seed of episode `index` of a run seeded with `run_seed` (stable across versions and machines). */
uint64_t rt_env_episode_seed(uint64_t run_seed, uint64_t index);

/* Serialises an episode or doc as one JSON line (no newline), with rewards at fixed precision so the
 * same run gives byte-identical files everywhere. Free with free(). */
char *rt_env_dump_line(const struct json_t *obj);

/* ---- scenario packs ---- */

/* Validates a pack file: every problem is appended to `errors` (an array of strings "PATH: reason",
 * PATH a JSON path such as $.tools[2].args[0].type). Returns RT_OK when there is none. */
rt_status rt_pack_check(const char *path, struct json_t *errors);

#ifdef __cplusplus
}
#endif
#endif
