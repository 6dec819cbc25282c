/* episode.c: the policies (expert, noisy expert, random) and the loop that runs one episode and writes
 * it in the episode format (docs/environments.md). */
#include <stdlib.h>
#include <string.h>

#include "env/env_internal.h"
#include "retrace/episode.h"

static const uint64_t POLICY_SALT = 0x706f6c6963790000ull; /* "policy" */
#define WANDER_START_MAX_STEPS 2
#define SLIP_SHARE 0.25 /* slips per step, as a share of the noise rate */

rt_policy rt_policy_default(void) {
    rt_policy p = {RT_POLICY_EXPERT, 0.3};
    return p;
}

static const char *const POLICY_NAMES[] = {"expert", "noisy", "random"};

const char *rt_policy_name(rt_policy_kind kind) {
    return (unsigned)kind < 3 ? POLICY_NAMES[kind] : "unknown";
}

rt_status rt_policy_parse(const char *name, rt_policy_kind *out) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, POLICY_NAMES[i]) == 0) {
            *out = (rt_policy_kind)i;
            return RT_OK;
        }
    return rt_fail(RT_ERR_ARG, "unknown policy '%s' (expert, noisy or random)", name);
}

/* 53 bits, so the seed survives a trip through any JSON reader as an exact number. */
uint64_t rt_env_episode_seed(uint64_t run_seed, uint64_t index) {
    return rt_mix64((rt_mix64(run_seed + RT_GOLDEN_GAMMA) ^ index) + RT_GOLDEN_GAMMA) >> 11;
}

char *rt_env_dump_line(const json_t *obj) { return rt_episode_line(obj); }

static const char *const FLAW_NAMES[] = {"none", "wrong_object", "skip_step", "stale_call", "wander"};

/* The noisy expert's committed mistake: tried in a random order until the world can make one. */
static rt_env_flaw choose_flaw(rt_env *env, rt_rng *rng) {
    rt_env_flaw order[] = {RT_FLAW_WRONG_OBJECT, RT_FLAW_SKIP_STEP, RT_FLAW_STALE_CALL, RT_FLAW_WANDER};
    for (int i = 3; i > 0; i--) {
        int j = (int)rt_rng_below(rng, (uint64_t)i + 1);
        rt_env_flaw t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < 4; i++) {
        if (order[i] == RT_FLAW_WANDER) return RT_FLAW_WANDER; /* set later, after some progress */
        if (rt_env_set_flaw(env, order[i])) return order[i];
    }
    return RT_FLAW_NONE;
}

static int random_action(rt_env *env, rt_rng *rng, rt_env_advice *adv, const char *thought) {
    const char *const *acts;
    size_t n = rt_env_admissible(env, &acts);
    if (n == 0) return 0;
    snprintf(adv->action, sizeof adv->action, "%s", acts[rt_rng_below(rng, n)]);
    snprintf(adv->thought, sizeof adv->thought, "%s", thought);
    adv->slip = 0;
    return 1;
}

/* A noisy slip: the world's plausible mistake (rejected with its real error, changing nothing, so the
 * expert's next action recovers), or a random action in a world without one. */
static int slip_action(rt_env *env, rt_rng *rng, rt_env_advice *adv) {
    int r = rt_env_slip(env, rt_rng_u64(rng), adv);
    if (r < 0 && random_action(env, rng, adv, "Let me try this.")) return adv->slip = 1;
    return r == 1;
}

static json_t *step_json(const rt_env_advice *adv, const char *obs) {
    return rt_episode_step_new(adv->thought, adv->action, obs);
}

typedef struct {
    const char *end_reason;
    char *error;
    rt_env_flaw flaw;
    int slips;
} run_state;

/* Runs the steps; returns RT_ERR_UNSUPPORTED only when the policy needs an expert the world lacks. */
static rt_status run_steps(rt_env *env, const rt_policy *pol, rt_rng *rng, json_t *steps, run_state *st) {
    int wander_at = -1, wander_here = 0, after_slip = 0;
    if (pol->kind == RT_POLICY_NOISY && rt_rng_double(rng) < pol->noise) {
        st->flaw = choose_flaw(env, rng);
        if (st->flaw == RT_FLAW_WANDER) wander_at = (int)rt_rng_below(rng, WANDER_START_MAX_STEPS);
    }
    for (;;) {
        rt_env_advice adv;
        int have;
        if (wander_at >= 0 && rt_env_steps_taken(env) >= wander_at && !after_slip) {
            /* A world without its own way to wander gets aimless random actions instead. */
            wander_here = !rt_env_set_flaw(env, RT_FLAW_WANDER);
            wander_at = -1;
        }
        if (pol->kind == RT_POLICY_RANDOM || wander_here) {
            have = random_action(env, rng, &adv, "I try one of the actions that are possible here.");
        } else if (pol->kind == RT_POLICY_NOISY && !after_slip && rt_env_max_steps(env) - rt_env_steps_taken(env) >= 2 &&
                   rt_rng_double(rng) < pol->noise * SLIP_SHARE && slip_action(env, rng, &adv)) {
            /* Never two in a row and never on the last step: the step after a slip is the recovery. */
            have = 1;
            st->slips++;
        } else {
            have = rt_env_expert(env, &adv);
            if (have < 0)
                return rt_fail(RT_ERR_UNSUPPORTED, "%s: this environment offers no expert actions (use --policy random)",
                               rt_env_name(env));
        }
        if (!have) {
            st->end_reason = "policy_stopped";
            return RT_OK;
        }
        rt_env_result res;
        if (rt_env_step(env, adv.action, &res) != RT_OK) {
            st->end_reason = "env_error";
            st->error = rt_strdup(rt_errmsg());
            return RT_OK;
        }
        json_t *step = step_json(&adv, res.observation);
        if (adv.slip) json_object_set_new(step, "slip", json_true()); /* never a training target */
        json_array_append_new(steps, step);
        after_slip = adv.slip;
        if (res.done) {
            st->end_reason = res.success ? "success"
                             : rt_env_steps_taken(env) >= rt_env_max_steps(env) ? "budget_exhausted"
                                                                               : "env_done";
            return RT_OK;
        }
    }
}

rt_status rt_env_run_episode(rt_env *env, const rt_policy *pol, uint64_t seed, const char *id, json_t **episode) {
    *episode = NULL;
    if (pol->noise < 0 || pol->noise > 1) return rt_fail(RT_ERR_ARG, "noise must be in [0, 1], got %g", pol->noise);
    json_t *steps = json_array(), *meta = json_object(), *versions = json_object();
    run_state st = {"success", NULL, RT_FLAW_NONE, 0};
    rt_env_start start = {"", "", ""};
    rt_rng rng;
    rt_rng_seed(&rng, seed ^ POLICY_SALT);
    int ok = 1;
    char *first_obs = NULL;
    if (rt_env_reset(env, seed, &start) != RT_OK) {
        st.end_reason = "env_error";
        st.error = rt_strdup(rt_errmsg());
        ok = 0;
    } else {
        /* The agent's prompt shows what it saw at reset; keep it (the world reuses its buffer). */
        first_obs = rt_strdup(start.observation ? start.observation : "");
    }
    if (ok) {
        rt_status s = run_steps(env, pol, &rng, steps, &st);
        if (s != RT_OK) {
            json_decref(steps), json_decref(meta), json_decref(versions);
            free(first_obs);
            return s;
        }
        rt_env_describe(env, meta, versions);
    }
    int success = ok && strcmp(st.end_reason, "success") == 0;
    rt_episode_head head = {.id = id, .env = rt_env_name(env), .task = start.task, .task_type = start.task_type,
                            .split = rt_env_split(env), .success = success, .score = ok ? rt_env_score(env) : 0.0};
    json_object_set_new(meta, "seed", json_integer((json_int_t)seed));
    json_object_set_new(meta, "policy", json_string(rt_policy_name(pol->kind)));
    json_object_set_new(meta, "end_reason", json_string(st.end_reason));
    json_object_set_new(meta, "max_steps", json_integer(rt_env_max_steps(env)));
    if (first_obs) json_object_set_new(meta, "first_observation", json_string(first_obs));
    free(first_obs);
    if (pol->kind == RT_POLICY_NOISY) {
        json_object_set_new(meta, "flaw", json_string(FLAW_NAMES[st.flaw]));
        json_object_set_new(meta, "slips", json_integer(st.slips));
    }
    if (st.error) {
        json_object_set_new(meta, "error", json_string(st.error));
        free(st.error);
    }
    *episode = rt_episode_new(&head, versions, steps, meta);
    return RT_OK;
}

rt_status rt_env_run_episodes(rt_env *env, const rt_policy *pol, uint64_t run_seed, long long n,
                              rt_env_episode_fn on_episode, void *ctx) {
    rt_status s = RT_OK;
    for (long long i = 0; i < n && s == RT_OK; i++) {
        char id[96];
        snprintf(id, sizeof id, "%s-%s-s%llu-%06lld", rt_env_name(env), rt_env_split(env), (unsigned long long)run_seed, i);
        json_t *ep;
        if ((s = rt_env_run_episode(env, pol, rt_env_episode_seed(run_seed, (uint64_t)i), id, &ep)) != RT_OK) break;
        s = on_episode(ctx, ep, i);
        json_decref(ep);
    }
    return s;
}
