/* write.c: writing the episode format: one builder for the episode object (environments' policies and
 * the agent write the same keys in the same order), one reward rule, one line serialisation. */
#include <jansson.h>
#include <math.h>

#include "retrace/episode.h"

/* Rewards are written with 4 decimals (docs/environments.md), so the same run gives the same bytes
 * whatever the partial-credit arithmetic's last bits. */
#define REWARD_SCALE 10000.0

double rt_episode_reward(int success, double score) {
    if (success) return 1.0;
    if (score >= 1.0) score = 0.0; /* a world's score is never full credit without success */
    return round(score * REWARD_SCALE) / REWARD_SCALE;
}

json_t *rt_episode_step_new(const char *thought, const char *action, const char *observation) {
    json_t *s = json_object();
    json_object_set_new(s, "thought", json_string(thought ? thought : ""));
    json_object_set_new(s, "action", json_string(action ? action : ""));
    json_object_set_new(s, "observation", json_string(observation ? observation : ""));
    return s;
}

static json_t *str(const char *s) { return json_string(s ? s : ""); }

json_t *rt_episode_new(const rt_episode_head *h, json_t *api_versions, json_t *steps, json_t *meta) {
    json_t *ep = json_object();
    json_object_set_new(ep, "id", str(h->id));
    json_object_set_new(ep, "env", str(h->env));
    json_object_set_new(ep, "task", str(h->task));
    json_object_set_new(ep, "task_type", str(h->task_type));
    json_object_set_new(ep, "split", str(h->split));
    json_object_set_new(ep, "api_versions", api_versions);
    json_object_set_new(ep, "steps", steps);
    json_object_set_new(ep, "outcome", json_string(h->success ? "success" : "failure"));
    json_object_set_new(ep, "reward", json_real(rt_episode_reward(h->success, h->score)));
    json_object_set_new(ep, "meta", meta);
    return ep;
}

char *rt_episode_line(const json_t *obj) {
    return json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
}
