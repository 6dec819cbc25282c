/* loop.c: the agent's episode loop, one step at a time: the context step (retrieve, build the prompt),
 * decode one step, parse the action, act, and log the episode in the episode format so it can go back
 * into memory. A caller that decodes elsewhere (a batch of episodes) takes the prompt and gives the
 * output back (rt_agent_episode_prompt / _act). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"

/* Room in an episode's KV cache for the chat template's text around the budgeted prompt. */
#define AGENT_TEMPLATE_SLACK_TOKENS 512

/* Stop decoding at the end of the step the model writes. */
static const char *const STEP_STOPS[] = {"\nobs:", "\n\n", "\ntask:", "\noutcome:", NULL};

rt_decoding_params rt_decoding_params_default(void) {
    return (rt_decoding_params){.max_new_tokens = 96, .temperature = 0.0f, .top_p = 1.0f};
}

rt_loop_breaking_params rt_loop_breaking_params_default(void) {
    return (rt_loop_breaking_params){.resample = 3, .resample_temperature = 0.8f};
}

rt_agent_params rt_agent_params_default(void) {
    return (rt_agent_params){.budget_tokens = 1024, .retrieval = rt_retrieval_params_default(),
                             .decoding = rt_decoding_params_default(),
                             .loop_breaking = rt_loop_breaking_params_default()};
}

/* Decodes one step for the prompt at the given temperature and seed; *out is the generated text. With a
 * generation session (one per episode) the cache of the prompt's unchanged prefix is kept between steps
 * and resamples, so a step prefills only what is new; the tokens are those rt_generate gives. */
static rt_status decode_step(const rt_agent *a, rt_gen_session *sess, const char *prompt, float temperature,
                             uint64_t seed, char **out) {
    char *chat = NULL;
    if (a->params.decoding.chat) {
        rt_chat_message msg = {"user", prompt, NULL};
        RT_TRY(rt_chat_render(a->tok, &msg, 1, 1, &chat));
    }
    const char *text = chat ? chat : prompt;
    rt_tok_ids ids = {0};
    rt_status s = rt_tokenizer_encode(a->tok, text, strlen(text), chat ? 0 : RT_TOK_ADD_SPECIAL, &ids);
    int32_t *gen = rt_malloc(sizeof(int32_t) * (size_t)a->params.decoding.max_new_tokens);
    int n = 0;
    if (s == RT_OK) {
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = a->params.decoding.max_new_tokens, gp.temperature = temperature;
        gp.top_p = a->params.decoding.top_p, gp.seed = seed, gp.eos_token_id = rt_tokenizer_eos_id(a->tok);
        gp.vocab_limit = rt_tokenizer_vocab_size(a->tok);
        gp.stop_strings = STEP_STOPS, gp.decode = rt_tokenizer_gen_decode, gp.decode_ctx = (void *)a->tok;
        s = sess ? rt_gen_session_generate(sess, ids.ids, (int)ids.n, &gp, gen, &n)
                 : rt_generate(a->model, ids.ids, (int)ids.n, &gp, gen, &n);
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
 * the step and the attempt, so runs stay reproducible) until it differs, up to params.loop_breaking.resample times;
 * if every attempt repeats, the first output stands. */
static rt_status break_loop(const rt_agent *a, rt_gen_session *sess, const char *prompt, const rt_memory_step *hist,
                            int n, uint64_t seed, char **gen, rt_agent_stats *st) {
    if (a->params.loop_breaking.resample <= 0 || !repeats_recent(*gen, hist, n)) return RT_OK;
    st->resampled++;
    for (int i = 0; i < a->params.loop_breaking.resample; i++) {
        char *alt = NULL;
        uint64_t sd = seed * 0x9E3779B97F4A7C15ull + (uint64_t)n * 1000003u + (uint64_t)i + 1;
        RT_TRY(decode_step(a, sess, prompt, a->params.loop_breaking.resample_temperature, sd, &alt));
        if (!repeats_recent(alt, hist, n)) {
            free(*gen);
            *gen = alt;
            return RT_OK;
        }
        free(alt);
    }
    return RT_OK;
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

struct rt_agent_episode {
    rt_agent *a;
    rt_env *env;
    uint64_t seed;
    char *id, *task, *task_type, *obs0;
    json_t *now_versions; /* the tool versions in force in this episode, for version-aware retrieval */
    json_t *steps;
    rt_memory_step *hist; /* points into the steps' JSON strings, which live as long as the episode */
    int max_steps, success, done, overflow;
    rt_agent_context ctx;
    rt_agent_stats st;
    rt_gen_session *gen; /* this episode's KV cache, made at its first decoded step */
};

rt_status rt_agent_episode_begin(rt_agent *a, rt_env *env, uint64_t seed, const char *id, rt_agent_episode **out) {
    *out = NULL;
    rt_env_start start;
    RT_TRY(rt_env_reset(env, seed, &start));
    rt_agent_episode *e = rt_calloc(1, sizeof *e);
    e->a = a, e->env = env, e->seed = seed, e->id = rt_strdup(id);
    e->task = rt_strdup(start.task ? start.task : ""), e->obs0 = rt_strdup(start.observation ? start.observation : "");
    e->task_type = start.task_type ? rt_strdup(start.task_type) : NULL;
    json_t *now_meta = json_object();
    e->now_versions = json_object();
    rt_env_describe(env, now_meta, e->now_versions);
    json_decref(now_meta);
    e->steps = json_array();
    e->max_steps = rt_env_max_steps(env);
    e->hist = rt_calloc((size_t)e->max_steps + 1, sizeof *e->hist);
    *out = e;
    return RT_OK;
}

int rt_agent_episode_done(const rt_agent_episode *e) { return e->done || e->overflow || e->st.steps >= e->max_steps; }

rt_status rt_agent_episode_prompt(rt_agent_episode *e, const char **prompt) {
    *prompt = NULL;
    if (rt_agent_episode_done(e)) return RT_OK;
    const rt_agent *a = e->a;
    rt_context_config cfg = {.memory = a->memory, .tok = a->tok, .retrieval = a->params.retrieval,
                             .budget_tokens = a->params.budget_tokens};
    rt_retrieve_spec spec = {.env = rt_env_name(e->env), .task = e->task, .history = e->hist, .n_history = e->st.steps,
                             .api_versions = a->params.retrieval.any_version ? NULL : e->now_versions};
    rt_status s = rt_agent_context_build(&cfg, &spec, e->obs0, &e->ctx);
    e->st.retrieval_s += e->ctx.retrieval_s;
    e->st.retrievals += e->ctx.retrieved_now;
    if (s == RT_ERR_ARG) { /* the task and the last step alone overflow the budget: the episode ends, a failure */
        e->overflow = 1;
        return RT_OK;
    }
    RT_TRY(s);
    e->st.prompt_cuts += rt_prompt_stats_cuts(&e->ctx.stats);
    *prompt = e->ctx.prompt;
    return RT_OK;
}

/* Records the step in the episode and the working memory. */
static void add_step(rt_agent_episode *e, json_t *step) {
    json_array_append_new(e->steps, step);
    if (e->a->memory) {
        const rt_retrieved *r = &e->ctx.retrieved;
        json_object_set_new(step, "retrieved", retrieved_json(r));
        if (r->n_succ > 0) {
            e->st.retrieved_steps++;
            const char *tt = r->succ_hit[0]->task_type;
            e->st.same_type_steps += e->task_type && tt && !strcmp(tt, e->task_type);
        }
    }
    rt_memory_step *h = &e->hist[e->st.steps++];
    h->thought = json_string_value(json_object_get(step, "thought"));
    h->action = json_string_value(json_object_get(step, "action"));
    h->observation = json_string_value(json_object_get(step, "observation"));
}

rt_status rt_agent_episode_act(rt_agent_episode *e, const char *generated) {
    char *action = NULL, *thought = NULL;
    rt_status s = RT_OK;
    if (rt_action_parse(generated, &action, &thought) != RT_OK) {
        /* An unparseable output is an invalid action: it uses a step and changes nothing. The raw output
         * is kept in the log, but the working memory shows only that it was invalid: echoing a derailed
         * output back into the prompt derails the next step too. */
        e->st.invalid_actions++;
        json_t *step = rt_episode_step_new(NULL, NULL, "invalid output: no 'act:' line.");
        json_object_set_new(step, "output", json_string(generated));
        add_step(e, step);
    } else {
        rt_env_result res;
        if ((s = rt_env_step(e->env, action, &res)) == RT_OK) {
            e->done = res.done, e->success = res.success;
            add_step(e, rt_episode_step_new(thought, action, res.observation));
        }
    }
    free(action), free(thought);
    return s;
}

rt_status rt_agent_episode_step(rt_agent_episode *e) {
    const char *prompt;
    RT_TRY(rt_agent_episode_prompt(e, &prompt));
    if (!prompt) return RT_OK;
    const rt_agent *a = e->a;
    char *gen = NULL;
    double t0 = rt_now();
    /* The cache grows as prompts need; its bound only has to hold the budgeted prompt, the chat template's
     * own text and the step, as rt_generate's per-call cache did. */
    int cap = a->params.budget_tokens + a->params.decoding.max_new_tokens + AGENT_TEMPLATE_SLACK_TOKENS;
    if (cap < a->model->cfg.max_position_embeddings) cap = a->model->cfg.max_position_embeddings;
    rt_status s = e->gen ? RT_OK : rt_gen_session_new(a->model, cap, &e->gen);
    if (s == RT_OK) s = decode_step(a, e->gen, prompt, a->params.decoding.temperature, a->params.decoding.seed, &gen);
    if (s == RT_OK) s = break_loop(a, e->gen, prompt, e->hist, e->st.steps, e->seed, &gen, &e->st);
    e->st.decode_s += rt_now() - t0;
    if (s == RT_OK) s = rt_agent_episode_act(e, gen);
    free(gen);
    return s;
}

void rt_agent_episode_free(rt_agent_episode *e) {
    if (!e) return;
    rt_agent_context_free(&e->ctx);
    rt_gen_session_free(e->gen);
    json_decref(e->now_versions), json_decref(e->steps);
    free(e->hist), free(e->id), free(e->task), free(e->task_type), free(e->obs0);
    free(e);
}

rt_status rt_agent_episode_finish(rt_agent_episode *e, json_t **episode, rt_agent_stats *stats) {
    const rt_agent *a = e->a;
    const char *end_reason = e->overflow ? "context_overflow"
                             : e->done   ? (e->success ? "success" : "env_done")
                                         : "budget_exhausted";
    json_t *meta = json_object(), *versions = json_object();
    rt_env_describe(e->env, meta, versions);
    rt_episode_head head = {.id = e->id, .env = rt_env_name(e->env), .task = e->task, .task_type = e->task_type,
                            .split = rt_env_split(e->env), .success = e->success, .score = rt_env_score(e->env)};
    json_object_set_new(meta, "seed", json_integer((json_int_t)e->seed));
    json_object_set_new(meta, "policy", json_string("agent"));
    json_object_set_new(meta, "end_reason", json_string(end_reason));
    json_object_set_new(meta, "first_observation", json_string(e->obs0));
    json_object_set_new(meta, "invalid_actions", json_integer(e->st.invalid_actions));
    json_object_set_new(meta, "resampled_steps", json_integer(e->st.resampled));
    json_object_set_new(meta, "retrieval",
                        json_string(a->memory ? (a->params.retrieval.dynamic ? "dynamic" : "static") : "none"));
    *episode = rt_episode_new(&head, versions, json_incref(e->steps), meta);
    *stats = e->st;
    rt_agent_episode_free(e);
    return RT_OK;
}

rt_status rt_agent_run_episode(rt_agent *a, rt_env *env, uint64_t seed, const char *id, json_t **episode,
                               rt_agent_stats *st) {
    *episode = NULL;
    memset(st, 0, sizeof *st);
    rt_agent_episode *e;
    RT_TRY(rt_agent_episode_begin(a, env, seed, id, &e));
    rt_status s = RT_OK;
    while (s == RT_OK && !rt_agent_episode_done(e)) s = rt_agent_episode_step(e);
    if (s != RT_OK) {
        rt_agent_episode_free(e);
        return s;
    }
    return rt_agent_episode_finish(e, episode, st);
}
