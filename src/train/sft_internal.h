/* sft_internal.h: what sft_data.c (prompt/completion, loading, batching) and sft_rows.c (TRL's text and
 * messages rows) share: a token sequence with its target mask. */
#ifndef RT_SFT_INTERNAL_H
#define RT_SFT_INTERNAL_H

#include <jansson.h>

#include "retrace/sft.h"

typedef struct {
    int32_t *ids, *mask; /* mask[i] = 1: token i is a target */
    size_t n, cap;
} rt_sft_seq;

/* {"text"}: the text with the tokenizer's special tokens and EOS, every token a target. */
rt_status rt_sft_text_row(const rt_tokenizer *tok, const char *text, rt_sft_seq *q);
/* {"messages"}: the chat template's rendering, the assistant turns the targets. */
rt_status rt_sft_messages_row(const rt_tokenizer *tok, const json_t *messages, rt_sft_seq *q);

#endif
