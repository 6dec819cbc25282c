/* cmd_eval.c: `retrace eval` runs the agent (a model, an optional adapter and an optional memory) on
 * episodes of an environment split and reports success with a 95% Wilson interval, mean steps and the
 * invalid-action rate. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_eval_summary[] = "run the agent on an environment split and report success rates";

typedef struct {
    const char *model, *adapter, *tokenizer, *memory, *env, *split, *held_out, *out, *json_out;
    long long episodes, seed, max_steps;
    rt_agent_params ap;
    int no_retrieval;
} options;

static void usage(void) {
    printf("usage: retrace eval -m DIR --env household|toolapi|PACK.json|exec:CMD [options]\n\n"
           "Runs the agent on --episodes episodes of the split and prints the success rate with its 95%%\n"
           "Wilson interval, mean steps and the invalid-action rate.\n\n"
           "  --adapter DIR         PEFT adapter on the model\n"
           "  --tokenizer DIR       default: the model folder\n"
           "  --memory DIR          retrieve experience from this memory (else no retrieval)\n"
           "  --split NAME          train, unseen_task, unseen_scene, unseen_api, unseen (train)\n"
           "  --held-out TYPES      household task types held out (default: the world's pair)\n"
           "  --episodes N (20)  -s, --seed N (%d)  --max-steps N (the world's budget)\n"
           "  --static | --dynamic  retrieve once per episode or before every step (dynamic)\n"
           "  -k, --retrieve N (2)  --negatives N (1)  --reward-weight X (0.5)  --no-docs  --no-retrieval\n"
           "  --budget N            prompt tokens (1024)   -n, --max-new-tokens N  tokens per step (96)\n"
           "  --temp, --temperature X (0)  --chat (wrap prompts in the chat template)\n"
           "  --any-version         also retrieve episodes that used another version of a tool in force,\n"
           "                        and the newest docs (default: only the versions in force)\n"
           "  --no-resample         keep an action that repeats one of the last two (default: decode that\n"
           "                        step again with sampling, up to 3 times; see docs/agent.md)\n"
           "  -o FILE               write the episodes (JSON lines, the episode format)\n"
           "  --json FILE           write the summary as JSON\n",
           (int)rt_eval_params_default().seed);
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.episodes = rt_eval_params_default().episodes, .seed = (long long)rt_eval_params_default().seed,
                   .ap = rt_agent_params_default()};
    rt_retrieval_params *r = &o->ap.retrieval;
    const rt_arg args[] = {
        RT_ARG_S("-m|--model", &o->model), RT_ARG_S("--adapter|--lora", &o->adapter), RT_ARG_S("--tokenizer", &o->tokenizer),
        RT_ARG_S("--memory", &o->memory), RT_ARG_S("--env", &o->env), RT_ARG_S("--split", &o->split),
        RT_ARG_S("--held-out", &o->held_out), RT_ARG_S("-o|--output", &o->out), RT_ARG_S("--json", &o->json_out),
        RT_ARG_I("--episodes", &o->episodes, 1, 1e18), RT_ARG_I("-s|--seed", &o->seed, 0, 1e18),
        RT_ARG_I("--max-steps", &o->max_steps, 0, 1000000),
        RT_ARG_B("--static", &r->dynamic, 0), RT_ARG_B("--dynamic", &r->dynamic, 1), RT_ARG_B("--no-docs", &r->docs, 0),
        RT_ARG_B("--no-retrieval", &o->no_retrieval, 1), RT_ARG_B("--chat", &o->ap.decoding.chat, 1),
        RT_ARG_B("--no-resample", &o->ap.loop_breaking.resample, 0), RT_ARG_B("--any-version", &r->any_version, 1),
        RT_ARG_I32("-k|--retrieve", &r->k, 0, 1000000), RT_ARG_I32("--negatives", &r->negatives, 0, 1000000),
        RT_ARG_I32("--budget", &o->ap.budget_tokens, 16, 1000000),
        RT_ARG_I32("-n|--max-new-tokens|--max-new", &o->ap.decoding.max_new_tokens, 1, 1000000),
        RT_ARG_F("--reward-weight", &r->reward_weight, 0, 1),
        RT_ARG_F32("--temp|--temperature", &o->ap.decoding.temperature, 0, 1e9), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"eval", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (!o->model || !o->env) return rt_cli_usage_error("eval", "--model and --env are required");
    o->ap.decoding.seed = (uint64_t)o->seed;
    return 0;
}

static json_t *summary_json(const options *o, const rt_eval_summary *s) {
    json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "env", o->env,
                     "split", o->split ? o->split : "train", "adapter", o->adapter, "memory", o->no_retrieval ? NULL : o->memory,
                     "retrieval", (o->memory && !o->no_retrieval) ? (o->ap.retrieval.dynamic ? "dynamic" : "static") : "none",
                     "episodes", s->episodes, "successes", s->successes, "success_rate", s->success_rate, "ci_low",
                     s->ci_low, "ci_high", s->ci_high, "mean_steps", s->mean_steps, "invalid_rate", s->invalid_rate,
                     "mean_reward", s->mean_reward, "retrieval_s", s->retrieval_s, "decode_s", s->decode_s);
    /* null without retrieval: "never the same type" and "no retrieval" must not read alike */
    json_object_set_new(j, "retrieval_same_type", s->same_type_rate < 0 ? json_null() : json_real(s->same_type_rate));
    return j;
}

/* Each episode as it ends: its line in -o FILE, and the progress line. */
typedef struct {
    FILE *out;
    rt_progress prog;
} episode_sink;

static rt_status write_episode(void *ctx, const json_t *ep, const rt_eval_summary *so_far) {
    episode_sink *k = ctx;
    if (k->out) {
        char *line = rt_episode_line(ep);
        fprintf(k->out, "%s\n", line);
        free(line);
    }
    char extra[64];
    snprintf(extra, sizeof extra, "success %d/%d", so_far->successes, so_far->episodes);
    rt_progress_update(&k->prog, so_far->episodes, extra);
    return RT_OK;
}

int rt_cmd_eval(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_tokenizer *tok = NULL;
    rt_model *m = NULL;
    rt_memory *mem = NULL;
    rt_env *env = NULL;
    FILE *out = NULL;
    rt_env_config ec = rt_env_config_default();
    ec.split = o.split, ec.held_out = o.held_out, ec.max_steps = (int)o.max_steps;
    rt_status s = rt_tokenizer_load(o.tokenizer ? o.tokenizer : o.model, &tok);
    if (s == RT_OK) s = rt_model_load(o.model, &m);
    if (s == RT_OK && o.adapter) s = rt_cli_load_adapter("eval", m, o.model, o.adapter);
    if (s == RT_OK && rt_tokenizer_vocab_size(tok) > m->cfg.vocab_size)
        s = rt_fail(RT_ERR_ARG, "the tokenizer has %d ids but the model's vocabulary is %d", rt_tokenizer_vocab_size(tok),
                    m->cfg.vocab_size);
    if (s == RT_OK && o.memory && !o.no_retrieval) s = rt_memory_open(o.memory, RT_MEMORY_READ, &mem);
    if (s == RT_OK) s = rt_env_open(o.env, &ec, &env);
    if (s == RT_OK && o.out && !(out = fopen(o.out, "w"))) s = rt_fail(RT_ERR_IO, "%s: cannot write", o.out);
    rt_eval_summary sum = {0};
    rt_agent agent = {m, tok, mem, o.ap};
    rt_eval_params ep = {.episodes = (int)o.episodes, .seed = (uint64_t)o.seed, .split = o.split ? o.split : "train"};
    episode_sink sink = {.out = out};
    rt_progress_begin(&sink.prog, "eval", o.episodes);
    if (s == RT_OK) s = rt_eval_run(&agent, env, &ep, write_episode, &sink, &sum);
    rt_progress_end(&sink.prog);
    if (out && fclose(out) != 0 && s == RT_OK) s = rt_fail(RT_ERR_IO, "%s: write failed", o.out);
    if (s == RT_OK) {
        printf("env %s, split %s, retrieval %s: success %d/%d = %.1f%% [95%% CI %.1f-%.1f], mean steps %.1f, invalid "
               "actions %.1f%%, mean reward %.3f\n",
               o.env, o.split ? o.split : "train", mem ? (o.ap.retrieval.dynamic ? "dynamic" : "static") : "none", sum.successes,
               sum.episodes, 100 * sum.success_rate, 100 * sum.ci_low, 100 * sum.ci_high, sum.mean_steps,
               100 * sum.invalid_rate, sum.mean_reward);
        if (sum.same_type_rate >= 0)
            printf("retrieval: the most relevant successful episode had the task's own type in %.1f%% of %.0f steps\n",
                   100 * sum.same_type_rate, sum.retrieved_steps);
        printf("time: retrieval %.2f s, decoding %.2f s (retrieval %.1f%% of the two)\n", sum.retrieval_s, sum.decode_s,
               100 * sum.retrieval_s / (sum.retrieval_s + sum.decode_s + 1e-12));
        if (o.json_out) {
            json_t *j = summary_json(&o, &sum);
            s = rt_json_save(o.json_out, j);
            json_decref(j);
        }
    }
    rt_env_close(env);
    if (mem) rt_memory_close(mem);
    rt_model_free(m);
    rt_tokenizer_free(tok);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("eval");
}
