/* test_tok_util.h: what the tokenizer tests share: finding a test tokenizer by name. */
#ifndef RT_TEST_TOK_UTIL_H
#define RT_TEST_TOK_UTIL_H

#include <stdio.h>

#include "retrace.h"

/* Loads tokenizer `name`: a committed one under fixtures/tok/models, else the real one in
 * ../shared/models/tokenizers. Returns NULL after printing why the test is skipped when neither
 * exists; fails the test when it does not load. */
static inline rt_tokenizer *tok_test_load(const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tok/models/%s", RT_FIXTURES_DIR, name);
    if (!rt_path_exists(dir)) snprintf(dir, sizeof dir, "%s/models/tokenizers/%s", RT_SHARED_DIR, name);
    if (!rt_path_exists(dir)) {
        print_message("SKIP: %s not found (the real tokenizers live in ../shared)\n", dir);
        return NULL;
    }
    rt_tokenizer *t = NULL;
    if (rt_tokenizer_load(dir, &t) != RT_OK) fail_msg("loading %s: %s", dir, rt_errmsg());
    return t;
}

#endif
