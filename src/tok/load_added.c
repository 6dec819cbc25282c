/* load_added.c: the "added_tokens" section of tokenizer.json: tokens matched in the text before the
 * model runs. They are indexed by first byte, longest first, for leftmost-longest matching. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

static int by_first_byte_then_longest(const void *pa, const void *pb) {
    const rt_tok_added *a = pa, *b = pb;
    unsigned char ca = (unsigned char)a->content[0], cb = (unsigned char)b->content[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int flag(json_t *o, const char *key) { return json_is_true(json_object_get(o, key)); }

rt_status rt_tok_load_added(rt_tokenizer *t, json_t *list, const char *where) {
    rt_tok_strmap_init(&t->added_map, 16);
    for (int c = 0; c < 256; c++) t->added_first[c] = 0;
    if (!list || json_is_null(list)) return RT_OK;
    if (!json_is_array(list)) return rt_fail(RT_ERR_FORMAT, "%s: field 'added_tokens' is not an array", where);
    t->added = rt_calloc(json_array_size(list) + 1, sizeof *t->added);
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        const char *content = json_string_value(json_object_get(o, "content"));
        json_t *id = json_object_get(o, "id");
        if (!content) return rt_fail(RT_ERR_FORMAT, "%s: missing field 'added_tokens[%zu].content'", where, i);
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > RT_TOK_MAX_ID)
            return rt_fail(RT_ERR_FORMAT, "%s: missing or bad field 'added_tokens[%zu].id'", where, i);
        size_t len = strlen(content);
        int32_t tid = (int32_t)json_integer_value(id);
        RT_TRY(rt_tok_set_token(t, tid, content, len, where));
        /* Even special tokens (normalized false by default) keep the flags the file gives. */
        json_t *norm = json_object_get(o, "normalized");
        int special = flag(o, "special");
        t->special[tid] = (uint8_t)special;
        rt_tok_strmap_put(&t->added_map, content, len, tid);
        if (len == 0) continue; /* an empty token can never match */
        rt_tok_added *a = &t->added[t->n_added++];
        a->content = rt_strdup(content);
        a->len = len;
        a->id = tid;
        a->special = special;
        a->lstrip = flag(o, "lstrip");
        a->rstrip = flag(o, "rstrip");
        a->single_word = flag(o, "single_word");
        a->normalized = json_is_boolean(norm) ? json_is_true(norm) : !special;
        if (a->normalized) t->has_normalized_added = 1;
    }
    qsort(t->added, t->n_added, sizeof *t->added, by_first_byte_then_longest);
    for (size_t k = t->n_added; k-- > 0;) {
        unsigned char c = (unsigned char)t->added[k].content[0];
        t->added_first[c] = (int32_t)k;
        t->added_count[c]++;
    }
    return RT_OK;
}
