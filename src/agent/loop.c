/* loop.c: the agent's episode loop: retrieve (once or every step), build the prompt, decode one step,
 * parse the action, act, and log the episode in the episode format so it can go back into memory. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

/* Stop decoding at the end of the step the model writes. */
static const char *const STEP_STOPS[] = {"\nobs:", "\n\n", "\ntask:", "\noutcome:", NULL};

rt_agent_params rt_agent_params_default(void) {
    rt_agent_params p = {.budget_tokens = 1024, .max_new_tokens = 96, .temperature = 0.0f, .top_p = 1.0f,
                         .k = 2, .negatives = 1, .reward_weight = RT_MEMORY_REWARD_WEIGHT, .dynamic = 1, .key_steps = 3, .docs = 1,
                         .resample = 3, .resample_temperature = 0.8f};
    return p;
}

/* Decodes one step for the prompt at the given temperature and seed; *out is the generated text. */
static rt_status decode_step(const rt_agent *a, const char *prompt, float temperature, uint64_t seed, char **out) {
    char *chat = NULL;
    if (a->params.chat) {
        rt_chat_message msg = {"user", prompt, NULL};
        RT_TRY(rt_chat_render(a->tok, &msg, 1, 1, &chat));
    }
    const char *text = chat ? chat : prompt;
    rt_tok_ids ids = {0};
    rt_status s = rt_tokenizer_encode(a->tok, text, strlen(text), chat ? 0 : RT_TOK_ADD_SPECIAL, &ids);
    int32_t *gen = rt_malloc(sizeof(int32_t) * (size_t)a->params.max_new_tokens);
    int n = 0;
    if (s == RT_OK) {
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = a->params.max_new_tokens, gp.temperature = temperature;
        gp.top_p = a->params.top_p, gp.seed = seed, gp.eos_token_id = rt_tokenizer_eos_id(a->tok);
        gp.vocab_limit = rt_tokenizer_vocab_size(a->tok);
        gp.stop_strings = STEP_STOPS, gp.decode = rt_tokenizer_gen_decode, gp.decode_ctx = (void *)a->tok;
        s = rt_generate(a->model, ids.ids, (int)ids.n, &gp, gen, &n);
    }
    size_t len;
    if (s == RT_OK) s = rt_tokenizer_decode(a->tok, gen, (size_t)n, 1, out, &len);
    free(gen);
    free(chat);
    rt_tok_ids_free(&ids);
    return s;
}

/* Whether the action in gen equals one of the last two actions of the history. */
static int repeats_recent(const char *gen, const rt_memory_step *hist, int n) {
    char *action = NULL;
    if (rt_action_parse(gen, &action, NULL) != RT_OK) return 0;
    int rep = 0;
    for (int i = n - 1; i >= 0 && i >= n - 2 && !rep; i--) rep = hist[i].action && !strcmp(hist[i].action, action);
    free(action);
    return rep;
}

/* Loop breaking: small greedy models repeat an action that changed nothing forever. When the decoded
 * action equals one of the last two, the step is decoded again with sampling (seeded by the episode,
 * the step and the attempt, so runs stay reproducible) until it differs, up to params.resample times;
 * if every attempt repeats, the first output stands. */
static rt_status break_loop(const rt_agent *a, const char *prompt, const rt_memory_step *hist, int n, uint64_t seed,
                            char **gen, rt_agent_stats *st) {
    if (a->params.resample <= 0 || !repeats_recent(*gen, hist, n)) return RT_OK;
    st->resampled++;
    for (int i = 0; i < a->params.resample; i++) {
        char *alt = NULL;
        uint64_t sd = seed * 0x9E3779B97F4A7C15ull + (uint64_t)n * 1000003u + (uint64_t)i + 1;
        RT_TRY(decode_step(a, prompt, a->params.resample_temperature, sd, &alt));
        if (!repeats_recent(alt, hist, n)) {
            free(*gen);
            *gen = alt;
            return RT_OK;
        }
        free(alt);
    }
    return RT_OK;
}

static json_t *step_json(const char *thought, const char *action, const char *obs) {
    return json_pack("{s:s, s:s, s:s}", "thought", thought ? thought : "", "action", action ? action : "",
                     "observation", obs ? obs : "");
}

static json_t *hits_json(const rt_memory_hit *const *hits, int n) {
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:f}", "id", hits[i]->id ? hits[i]->id : "", "task_type",
                                             hits[i]->task_type ? hits[i]->task_type : "", "score", hits[i]->score));
    return arr;
}

/* What this step's prompt was given from the memory, so retrieval quality can be read off an episode. */
static json_t *retrieved_json(const rt_retrieved *r) {
    return json_pack("{s:o, s:o}", "successes", hits_json(r->succ_hit, r->n_succ), "failures",
                     hits_json(r->fail_hit, r->n_fail));
}

rt_status rt_agent_run_episode(rt_agent *a, rt_env *env, uint64_t seed, const char *id, json_t **episode,
                               rt_agent_stats *st) {
    *episode = NULL;
    memset(st, 0, sizeof *st);
    rt_env_start start;
    RT_TRY(rt_env_reset(env, seed, &start));
    char *task = rt_strdup(start.task ? start.task : ""), *obs0 = rt_strdup(start.observation ? start.observation : "");
    /* the tool versions in force in this episode, for version-aware retrieval */
    json_t *now_meta = json_object(), *now_versions = json_object();
    rt_env_describe(env, now_meta, now_versions);
    json_decref(now_meta);
    json_t *steps = json_array();
    int max_steps = rt_env_max_steps(env);
    rt_memory_step *hist = rt_calloc((size_t)max_steps + 1, sizeof *hist);
    rt_retrieved r = {0};
    rt_status s = RT_OK;
    int success = 0, done = 0, overflow = 0;
    const char *end_reason = "budget_exhausted";
    while (s == RT_OK && !done && st->steps < max_steps) {
        if (a->memory && (st->steps == 0 || a->params.dynamic)) {
            double t0 = rt_now();
            rt_retrieve_spec rs = {rt_env_name(env), task, hist, st->steps, NULL, NULL, NULL,
                                   a->params.any_version ? NULL : now_versions};
            s = rt_retrieve(a->memory, &a->params, &rs, &r);
            st->retrieval_s += rt_now() - t0;
            st->retrievals++;
            if (s != RT_OK) break;
        }
        rt_prompt_parts parts = {task, r.succ, r.n_succ, r.fail, r.n_fail, r.doc_text, r.n_docs, hist, st->steps, obs0};
        char *prompt = NULL, *gen = NULL, *action = NULL, *thought = NULL;
        rt_prompt_stats ps;
        s = rt_prompt_build(a->tok, &parts, a->params.budget_tokens, &prompt, &ps);
        if (s == RT_ERR_ARG) {
            /* The task and the last step alone overflow the budget: the episode ends here, a failure. */
            s = RT_OK;
            overflow = 1;
            break;
        }
        if (s == RT_OK) {
            st->prompt_cuts += ps.dropped_failures + ps.dropped_successes + ps.dropped_docs + ps.dropped_thoughts + ps.dropped_history;
            double t0 = rt_now();
            s = decode_step(a, prompt, a->params.temperature, a->params.seed, &gen);
            if (s == RT_OK) s = break_loop(a, prompt, hist, st->steps, seed, &gen, st);
            st->decode_s += rt_now() - t0;
        }
        const char *obs;
        if (s == RT_OK && rt_action_parse(gen, &action, &thought) != RT_OK) {
            /* An unparseable output is an invalid action: it uses a step and changes nothing. */
            st->invalid_actions++;
            obs = "invalid output: no 'act:' line.";
            /* The raw output is kept in the log, but the working memory shows only that it was invalid:
             * echoing a derailed output back into the prompt derails the next step too. */
            json_t *step = step_json(NULL, NULL, obs);
            json_object_set_new(step, "output", json_string(gen));
            json_array_append_new(steps, step);
        } else if (s == RT_OK) {
            rt_env_result res;
            s = rt_env_step(env, action, &res);
            obs = s == RT_OK ? res.observation : "";
            if (s == RT_OK) {
                done = res.done, success = res.success;
                json_array_append_new(steps, step_json(thought, action, obs));
            }
        }
        if (s == RT_OK) {
            json_t *last = json_array_get(steps, json_array_size(steps) - 1);
            if (a->memory) {
                json_object_set_new(last, "retrieved", retrieved_json(&r));
                if (r.n_succ > 0) {
                    st->retrieved_steps++;
                    const char *tt = r.succ_hit[0]->task_type;
                    st->same_type_steps += start.task_type && tt && !strcmp(tt, start.task_type);
                }
            }
            /* The history points into the episode's JSON strings, which live as long as the episode. */
            hist[st->steps].thought = json_string_value(json_object_get(last, "thought"));
            hist[st->steps].action = json_string_value(json_object_get(last, "action"));
            hist[st->steps].observation = json_string_value(json_object_get(last, "observation"));
            st->steps++;
        }
        free(prompt), free(gen), free(action), free(thought);
    }
    if (done) end_reason = success ? "success" : "env_done";
    if (overflow) end_reason = "context_overflow";
    rt_retrieved_free(&r);
    json_decref(now_versions);
    free(hist);
    if (s != RT_OK) {
        json_decref(steps);
        free(task), free(obs0);
        return s;
    }
    json_t *ep = json_object(), *meta = json_object(), *versions = json_object();
    rt_env_describe(env, meta, versions);
    json_object_set_new(ep, "id", json_string(id));
    json_object_set_new(ep, "env", json_string(rt_env_name(env)));
    json_object_set_new(ep, "task", json_string(task));
    json_object_set_new(ep, "task_type", json_string(start.task_type ? start.task_type : ""));
    json_object_set_new(ep, "split", json_string(rt_env_split(env)));
    json_object_set_new(ep, "api_versions", versions);
    json_object_set_new(ep, "steps", steps);
    json_object_set_new(ep, "outcome", json_string(success ? "success" : "failure"));
    json_object_set_new(ep, "reward", json_real(success ? 1.0 : rt_env_score(env)));
    json_object_set_new(meta, "seed", json_integer((json_int_t)seed));
    json_object_set_new(meta, "policy", json_string("agent"));
    json_object_set_new(meta, "end_reason", json_string(end_reason));
    json_object_set_new(meta, "first_observation", json_string(obs0));
    json_object_set_new(meta, "invalid_actions", json_integer(st->invalid_actions));
    json_object_set_new(meta, "resampled_steps", json_integer(st->resampled));
    json_object_set_new(meta, "retrieval", json_string(a->memory ? (a->params.dynamic ? "dynamic" : "static") : "none"));
    json_object_set_new(ep, "meta", meta);
    free(task), free(obs0);
    *episode = ep;
    return RT_OK;
}
