/* state_text.c: the retrieval key. An agent's state is its task plus what it has done and seen; the
 * key text puts them in a fixed form so a stored episode and a running agent embed comparably. Thoughts
 * are left out: they are the model's own words and would make keys depend on the model. */
#include "memory/memory_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

char *rt_memory_state_text(const char *task, const rt_memory_step *steps, int n_steps, int last_steps) {
    rt_strbuf b = {0};
    rt_strbuf_add(&b, "task: ");
    rt_strbuf_add(&b, task ? task : "");
    int take = last_steps < 0 ? RT_MEMORY_KEY_MAX_STEPS : last_steps;
    if (take > n_steps) take = n_steps;
    /* The stored key keeps the first steps (how the episode went); a dynamic query the last ones. */
    int first = last_steps < 0 ? 0 : n_steps - take;
    for (int i = first; i < first + take; i++) {
        rt_strbuf_add(&b, "\naction: ");
        rt_strbuf_add(&b, steps[i].action ? steps[i].action : "");
        rt_strbuf_add(&b, " | observation: ");
        rt_strbuf_add(&b, steps[i].observation ? steps[i].observation : "");
    }
    return b.buf;
}

rt_status rt_memory_state_from_json(const char *episode_json, int last_steps, char **out) {
    rt_record r;
    *out = NULL;
    json_error_t err;
    json_t *o = json_loads(episode_json, 0, &err);
    if (!o) return rt_fail(RT_ERR_FORMAT, "episode: invalid JSON at column %d: %s", err.column, err.text);
    /* A running episode has no outcome yet, so only task and steps are required here. */
    json_t *task = json_object_get(o, "task"), *steps = json_object_get(o, "steps");
    rt_status s = RT_OK;
    if (!json_is_string(task)) s = rt_fail(RT_ERR_FORMAT, "episode: key 'task' must be a string");
    else if (steps && !json_is_array(steps)) s = rt_fail(RT_ERR_FORMAT, "episode: key 'steps' must be an array");
    if (s == RT_OK) {
        memset(&r, 0, sizeof r);
        int n = steps ? (int)json_array_size(steps) : 0;
        rt_memory_step *st = rt_calloc((size_t)n + 1, sizeof *st);
        for (int i = 0; i < n; i++) {
            json_t *e = json_array_get(steps, (size_t)i);
            st[i].action = json_string_value(json_object_get(e, "action"));
            st[i].observation = json_string_value(json_object_get(e, "observation"));
        }
        *out = rt_memory_state_text(json_string_value(task), st, n, last_steps);
        free(st);
    }
    json_decref(o);
    return s;
}
