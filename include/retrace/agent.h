/* retrace/agent.h: what the agent shows a model and how it reads the answer.
 *
 * A prompt is made of the task, retrieved successful episodes, failed episodes marked as ones to avoid,
 * the docs of the relevant tool versions, and the working memory (this episode so far), fitted into a
 * token budget. The same builder makes the training examples and the evaluation prompts, so the model
 * is always trained on exactly what it will see. The model answers one step:
 *     think: <thought>
 *     act: <action>
 * and the action is the text after "act:" on the first such line. */
#ifndef RETRACE_AGENT_H
#define RETRACE_AGENT_H

#include "retrace/episode.h" /* rt_episode_render, rt_step_target */
#include "retrace/memory.h"
#include "retrace/tok.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *task;
    const char *const *successes; /* episode JSON texts, most relevant first */
    int n_successes;
    const char *const *failures;  /* episode JSON texts, most relevant first */
    int n_failures;
    const char *const *docs;      /* doc texts, most relevant first */
    int n_docs;
    const rt_memory_step *history; /* this episode so far, oldest first */
    int n_history;
    const char *first_observation; /* what the agent saw at reset (shown after the task), or NULL */
} rt_prompt_parts;

typedef struct {
    int tokens;            /* of the prompt returned */
    int brief_episodes;    /* 1 when the retrieved episodes are shown without their thoughts */
    int dropped_failures;
    int dropped_successes;
    int dropped_docs;
    int dropped_thoughts;  /* older steps of the working memory shown without their thought */
    int dropped_history;   /* oldest steps left out of the working memory */
} rt_prompt_stats;

/* Builds the prompt within budget_tokens (counted with tok). When everything does not fit, parts are
 * cut in this order until it does:
 *   1. the thoughts of every retrieved episode (their actions and observations, the procedure, stay);
 *   2. failed episodes, least relevant first;
 *   3. successful episodes except the most relevant, least relevant first;
 *   4. docs, least relevant first;
 *   5. the thoughts of the working memory's steps, oldest first (their actions and observations stay:
 *      they are the record of what was done and seen; the last step keeps its thought);
 *   6. the oldest steps of the working memory (the last step always stays);
 *   7. the most relevant successful episode.
 * If the task and the last step alone exceed the budget the result is RT_ERR_ARG naming both sizes. */
rt_status rt_prompt_build(const rt_tokenizer *tok, const rt_prompt_parts *p, int budget_tokens, char **out,
                          rt_prompt_stats *stats);

/* Reads the action from a model's output: the text after "act:" on the first line that starts with it,
 * trimmed. RT_ERR_FORMAT when there is none or it is empty (an invalid action for the agent loop). */
rt_status rt_action_parse(const char *generated, char **action, char **thought);

/* rt_gen_params.decode for a tokenizer (ctx is the rt_tokenizer): decodes ids, skipping special tokens,
 * into buf for stop-string matching. Returns the bytes written, or -1 when an id is not in it. */
int rt_tokenizer_gen_decode(void *tokenizer, const int32_t *ids, int n, char *buf, int cap);

#ifdef __cplusplus
}
#endif
#endif
