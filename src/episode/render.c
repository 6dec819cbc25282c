/* render.c: an episode as a model reads it: the text the agent's prompt shows for a retrieved episode
 * (and pretraining trains on), and the step text a model is trained to write. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/episode.h"

/* One line per field; newlines inside a field are folded to spaces so a step stays one line each. */
void rt_episode_add_field(rt_strbuf *s, const char *label, const char *text) {
    if (!text || !*text) return;
    rt_strbuf_add(s, label);
    size_t start = s->len;
    rt_strbuf_add(s, text);
    for (size_t i = start; i < s->len; i++)
        if (s->buf[i] == '\n' || s->buf[i] == '\r') s->buf[i] = ' ';
    rt_strbuf_add(s, "\n");
}

void rt_episode_add_step(rt_strbuf *s, const char *thought, const char *action, const char *observation) {
    rt_episode_add_field(s, "think: ", thought);
    rt_episode_add_field(s, "act: ", action);
    rt_episode_add_field(s, "obs: ", observation);
}

/* Without thoughts, each step shows only its action and observation. */
rt_status rt_episode_render_text(const char *episode_json, int thoughts, char **out) {
    *out = NULL;
    json_error_t err;
    json_t *e = json_loads(episode_json, 0, &err);
    if (!e || !json_is_object(e)) {
        json_decref(e);
        return rt_fail(RT_ERR_FORMAT, "episode: invalid JSON: %s", e ? "not an object" : err.text);
    }
    const char *task = json_string_value(json_object_get(e, "task"));
    json_t *steps = json_object_get(e, "steps");
    if (!task || !json_is_array(steps)) {
        json_decref(e);
        return rt_fail(RT_ERR_FORMAT, "episode: needs a string 'task' and an array 'steps'");
    }
    rt_strbuf s = {0};
    rt_strbuf_add(&s, "");
    rt_episode_add_field(&s, "task: ", task);
    /* The room as the agent first saw it: a retrieved episode is only useful next to what it was about. */
    rt_episode_add_field(&s, "obs: ", json_string_value(json_object_get(json_object_get(e, "meta"), "first_observation")));
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *st = json_array_get(steps, i);
        rt_episode_add_step(&s, thoughts ? json_string_value(json_object_get(st, "thought")) : NULL,
                            json_string_value(json_object_get(st, "action")),
                            json_string_value(json_object_get(st, "observation")));
    }
    const char *outcome = json_string_value(json_object_get(e, "outcome"));
    json_t *reward = json_object_get(e, "reward");
    if (outcome) rt_strbuf_addf(&s, "outcome: %s (reward %.2f)\n", outcome, json_is_number(reward) ? json_number_value(reward) : 0.0);
    json_decref(e);
    *out = s.buf;
    return RT_OK;
}

rt_status rt_episode_render(const char *episode_json, char **out) { return rt_episode_render_text(episode_json, 1, out); }

char *rt_step_target(const char *thought, const char *action) {
    rt_strbuf s = {0};
    rt_strbuf_add(&s, "");
    rt_episode_add_field(&s, "think: ", thought);
    rt_episode_add_field(&s, "act: ", action ? action : "");
    if (!action || !*action) rt_strbuf_add(&s, "act:\n");
    return s.buf;
}
