/* sft_rows.c: the dataset rows of TRL's SFTTrainer beside prompt/completion (sft_data.c), tokenized as
 * TRL tokenizes them:
 *   {"text": ...}      language modelling: the text with the tokenizer's special tokens, EOS appended when
 *                      the text does not already end with it; the loss is on every token.
 *   {"messages": [...]} a conversation rendered by the tokenizer's chat template (no generation prompt, no
 *                      special tokens added beyond the template's); the loss is on the assistant turns only
 *                      (TRL's assistant_only_loss): each assistant message's content and end-of-turn text,
 *                      not its header.
 * A conversation is tokenized turn by turn (template text between turns, then each turn): the template's
 * turn markers are special tokens, so the pieces tokenize as the whole does (tests check this against
 * TRL). Sequences longer than max_len are cut at the end, as TRL cuts them. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "train/sft_internal.h"

static void seq_push(rt_sft_seq *q, const rt_tok_ids *ids, int target) {
    if (q->n + ids->n > q->cap) {
        q->cap = 2 * (q->n + ids->n) + 16;
        q->ids = rt_realloc(q->ids, sizeof(int32_t) * q->cap);
        q->mask = rt_realloc(q->mask, sizeof(int32_t) * q->cap);
    }
    for (size_t i = 0; i < ids->n; i++) q->ids[q->n] = ids->ids[i], q->mask[q->n++] = target;
}

/* Appends the tokens of text[0..len) (no special tokens added) with the given target flag. */
static rt_status push_text(rt_sft_seq *q, const rt_tokenizer *tok, const char *text, size_t len, int target) {
    rt_tok_ids ids = {0};
    rt_status s = rt_tokenizer_encode(tok, text, len, 0, &ids);
    if (s == RT_OK) seq_push(q, &ids, target);
    rt_tok_ids_free(&ids);
    return s;
}

rt_status rt_sft_text_row(const rt_tokenizer *tok, const char *text, rt_sft_seq *q) {
    rt_tok_ids ids = {0};
    RT_TRY(rt_tokenizer_encode(tok, text, strlen(text), RT_TOK_ADD_SPECIAL, &ids));
    int32_t eos = rt_tokenizer_eos_id(tok);
    if (eos >= 0 && (ids.n == 0 || ids.ids[ids.n - 1] != eos)) rt_tok_ids_push(&ids, eos);
    seq_push(q, &ids, 1);
    rt_tok_ids_free(&ids);
    return RT_OK;
}

/* messages as rt_chat_message values (pointing into the JSON), or an error naming what is wrong. */
static rt_status read_messages(const json_t *arr, rt_chat_message **out, size_t *n) {
    *out = NULL, *n = json_array_size(arr);
    if (!json_is_array(arr) || *n == 0) return rt_fail(RT_ERR_FORMAT, "'messages' must be a non-empty list");
    rt_chat_message *m = rt_calloc(*n, sizeof *m);
    for (size_t i = 0; i < *n; i++) {
        const json_t *o = json_array_get(arr, i);
        m[i].role = json_string_value(json_object_get(o, "role"));
        m[i].content = json_string_value(json_object_get(o, "content"));
        if (!m[i].role || !m[i].content) {
            free(m);
            return rt_fail(RT_ERR_FORMAT, "message %zu needs string fields 'role' and 'content'", i);
        }
    }
    *out = m;
    return RT_OK;
}

/* The template's rendering of the first n messages; `from` must be a prefix of it (the text so far). */
static rt_status render_after(const rt_tokenizer *tok, const rt_chat_message *m, size_t n, int gen_prompt,
                              const char *from, char **out) {
    RT_TRY(rt_chat_render(tok, m, n, gen_prompt, out));
    if (strncmp(*out, from, strlen(from)) != 0) {
        free(*out);
        *out = NULL;
        return rt_fail(RT_ERR_UNSUPPORTED, "the chat template does not render the conversation turn by turn (message %zu "
                       "changes the text before it), so the assistant turns cannot be told apart", n - 1);
    }
    return RT_OK;
}

rt_status rt_sft_messages_row(const rt_tokenizer *tok, const json_t *messages, rt_sft_seq *q) {
    rt_chat_message *m;
    size_t n;
    RT_TRY(read_messages(messages, &m, &n));
    char *done = rt_strdup(""); /* the rendering of the messages pushed so far */
    rt_status s = RT_OK;
    for (size_t i = 0; i < n && s == RT_OK; i++) {
        char *head = NULL, *turn = NULL;
        int assistant = strcmp(m[i].role, "assistant") == 0;
        /* An assistant turn: its header (the generation prompt) is context, the rest is the target. */
        if (assistant) s = render_after(tok, m, i, 1, done, &head);
        const char *ctx_end = head ? head : done;
        if (s == RT_OK) s = render_after(tok, m, i + 1, 0, ctx_end, &turn);
        if (s == RT_OK && head) s = push_text(q, tok, head + strlen(done), strlen(head) - strlen(done), 0);
        if (s == RT_OK)
            s = push_text(q, tok, turn + strlen(ctx_end), strlen(turn) - strlen(ctx_end), assistant);
        if (s == RT_OK) free(done), done = turn, turn = NULL;
        free(head), free(turn);
    }
    free(done), free(m);
    return s;
}
