/* prompt.c: the agent's prompt: sections in a fixed order, fitted to a token budget by a fixed policy. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "retrace/agent.h"
#include "retrace/episode.h"

/* Which parts are in: counts of the leading (most relevant) items kept, and the first history step kept. */
typedef struct {
    int brief;  /* retrieved episodes shown without their thoughts */
    int successes, failures, docs, history_from, thoughts_from; /* steps before thoughts_from show no thought */
} selection;

/* rendered_s/rendered_f hold each retrieved episode twice: [2i] with thoughts, [2i+1] without. */
static char *assemble(const rt_prompt_parts *p, char *const *rendered_s, char *const *rendered_f, const selection *k) {
    rt_strbuf s = {0};
    rt_strbuf_add(&s, "");
    if (k->successes > 0) {
        rt_strbuf_add(&s, "## successful episodes of similar tasks\n");
        for (int i = 0; i < k->successes; i++) rt_strbuf_add(&s, rendered_s[2 * i + k->brief]), rt_strbuf_add(&s, "\n");
    }
    if (k->failures > 0) {
        rt_strbuf_add(&s, "## failed episodes: avoid their mistakes\n");
        for (int i = 0; i < k->failures; i++) rt_strbuf_add(&s, rendered_f[2 * i + k->brief]), rt_strbuf_add(&s, "\n");
    }
    if (k->docs > 0) {
        rt_strbuf_add(&s, "## documentation\n");
        for (int i = 0; i < k->docs; i++) rt_strbuf_add(&s, p->docs[i]), rt_strbuf_add(&s, "\n");
        rt_strbuf_add(&s, "\n");
    }
    rt_strbuf_add(&s, "## your task\n");
    rt_episode_add_field(&s, "task: ", p->task);
    rt_episode_add_field(&s, "obs: ", p->first_observation);
    if (k->history_from > 0) rt_strbuf_addf(&s, "(%d earlier steps not shown)\n", k->history_from);
    for (int i = k->history_from; i < p->n_history; i++)
        rt_episode_add_step(&s, i < k->thoughts_from ? NULL : p->history[i].thought, p->history[i].action, p->history[i].observation);
    return s.buf;
}

static int count_tokens(const rt_tokenizer *tok, const char *text) {
    rt_tok_ids ids = {0};
    rt_tokenizer_encode(tok, text, strlen(text), 0, &ids);
    int n = (int)ids.n;
    rt_tok_ids_free(&ids);
    return n;
}

/* Applies the next cut of the documented policy; returns 0 when nothing is left to cut. */
static int cut_one(selection *k, int n_history, rt_prompt_stats *st) {
    if (!k->brief && k->successes + k->failures > 0) return k->brief = 1, st->brief_episodes = 1, 1;
    if (k->failures > 0) return k->failures--, st->dropped_failures++, 1;
    if (k->successes > 1) return k->successes--, st->dropped_successes++, 1;
    if (k->docs > 0) return k->docs--, st->dropped_docs++, 1;
    if (k->thoughts_from < n_history - 1) return k->thoughts_from++, st->dropped_thoughts++, 1;
    if (k->history_from < n_history - 1) return k->history_from++, st->dropped_history++, 1;
    if (k->successes > 0) return k->successes--, st->dropped_successes++, 1;
    return 0;
}

rt_status rt_prompt_build(const rt_tokenizer *tok, const rt_prompt_parts *p, int budget_tokens, char **out,
                          rt_prompt_stats *st) {
    *out = NULL;
    memset(st, 0, sizeof *st);
    if (!p->task) return rt_fail(RT_ERR_ARG, "prompt: no task");
    int ns = 2 * p->n_successes, nf = 2 * p->n_failures;
    char **rs = rt_calloc((size_t)ns + 1, sizeof *rs), **rf = rt_calloc((size_t)nf + 1, sizeof *rf);
    rt_status s = RT_OK;
    for (int i = 0; i < ns && s == RT_OK; i++) s = rt_episode_render_text(p->successes[i / 2], !(i & 1), &rs[i]);
    for (int i = 0; i < nf && s == RT_OK; i++) s = rt_episode_render_text(p->failures[i / 2], !(i & 1), &rf[i]);
    selection k = {0, p->n_successes, p->n_failures, p->n_docs, 0, 0};
    char *text = NULL;
    while (s == RT_OK) {
        text = assemble(p, rs, rf, &k);
        st->tokens = count_tokens(tok, text);
        if (st->tokens <= budget_tokens) break;
        if (!cut_one(&k, p->n_history, st)) {
            s = rt_fail(RT_ERR_ARG, "prompt: the task and the last step alone take %d tokens, over the budget of %d",
                        st->tokens, budget_tokens);
            break;
        }
        free(text);
        text = NULL;
    }
    for (int i = 0; i < ns; i++) free(rs[i]);
    for (int i = 0; i < nf; i++) free(rf[i]);
    free(rs);
    free(rf);
    if (s != RT_OK) {
        free(text);
        return s;
    }
    *out = text;
    return RT_OK;
}

static char *trimmed_copy(const char *start, size_t n) {
    while (n && (*start == ' ' || *start == '\t')) start++, n--;
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t' || start[n - 1] == '\r')) n--;
    char *c = rt_malloc(n + 1);
    memcpy(c, start, n);
    c[n] = '\0';
    return c;
}

rt_status rt_action_parse(const char *generated, char **action, char **thought) {
    *action = NULL;
    if (thought) *thought = NULL;
    const char *line = generated;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *l = line;
        while (n && (*l == ' ' || *l == '\t')) l++, n--;
        if (thought && !*thought && n >= 6 && strncmp(l, "think:", 6) == 0) *thought = trimmed_copy(l + 6, n - 6);
        if (n >= 4 && strncmp(l, "act:", 4) == 0) {
            char *a = trimmed_copy(l + 4, n - 4);
            if (!*a) {
                free(a);
                break;
            }
            *action = a;
            return RT_OK;
        }
        line = end ? end + 1 : NULL;
    }
    if (thought) {
        free(*thought);
        *thought = NULL;
    }
    return rt_fail(RT_ERR_FORMAT, "no action: the output has no non-empty 'act:' line");
}

int rt_tokenizer_gen_decode(void *tokenizer, const int32_t *ids, int n, char *buf, int cap) {
    char *text;
    size_t len;
    if (rt_tokenizer_decode(tokenizer, ids, (size_t)n, 1, &text, &len) != RT_OK) return -1;
    int k = (int)(len < (size_t)cap ? len : (size_t)cap);
    memcpy(buf, text, (size_t)k);
    free(text);
    return k;
}
