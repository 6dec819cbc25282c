/* regex.c: PCRE2 (UTF + UCP, JIT when available) for the Split pre-tokenizer and Replace normalizer.
 *
 * The patterns in tokenizer.json are written for Oniguruma, which the reference library uses. The two
 * engines agree on \p{L}, \p{N}, lookahead and (?i:...), but PCRE2 10.42's \s also matches U+180E,
 * which Oniguruma's does not, so \s and \S are rewritten to Oniguruma's set (White_Space). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

struct rt_tok_regex {
    pcre2_code *code;
    int jit;
};

#define SPACE_SET "\\x{09}-\\x{0D}\\x{85}\\p{Z}"
/* Per-thread match state; a JIT stack larger than the default lets long runs of spaces match. */
#define JIT_STACK_MIN_BYTES (32 * 1024)
#define JIT_STACK_MAX_BYTES (4 * 1024 * 1024)

static _Thread_local pcre2_match_data *tls_md;
static _Thread_local pcre2_match_context *tls_mc;
static _Thread_local pcre2_jit_stack *tls_js;
/* Set when a match failed for a reason other than "no match" (a resource limit); encode reports it. */
static _Thread_local int tls_failed;

/* Rewrites \s and \S (outside and inside classes; \S inside a class is left alone, it has no
 * equivalent as a class member and no known tokenizer uses it). */
static char *rewrite_spaces(const char *p) {
    rt_tok_buf out = {0};
    int in_class = 0;
    for (size_t i = 0; p[i]; i++) {
        char c = p[i];
        if (c == '\\' && p[i + 1]) {
            char d = p[i + 1];
            if (d == 's') {
                if (in_class) rt_tok_buf_put(&out, SPACE_SET, strlen(SPACE_SET));
                else rt_tok_buf_put(&out, "[" SPACE_SET "]", strlen(SPACE_SET) + 2);
            } else if (d == 'S' && !in_class) {
                rt_tok_buf_put(&out, "[^" SPACE_SET "]", strlen(SPACE_SET) + 3);
            } else {
                rt_tok_buf_put(&out, p + i, 2);
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            rt_tok_buf_putc(&out, c);
            /* A ']' right after '[' or '[^' is a literal member. */
            if (p[i + 1] == '^') rt_tok_buf_putc(&out, p[++i]);
            if (p[i + 1] == ']') rt_tok_buf_putc(&out, p[++i]);
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        rt_tok_buf_putc(&out, c);
    }
    if (!out.p) rt_tok_buf_put(&out, "", 0);
    return out.p;
}

rt_status rt_tok_regex_compile(const char *pattern, const char *where, rt_tok_regex **out) {
    char *pat = rewrite_spaces(pattern);
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
    free(pat);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return rt_fail(RT_ERR_FORMAT, "%s: regex '%s' does not compile at offset %zu: %s", where, pattern,
                       (size_t)erroff, (const char *)msg);
    }
    rt_tok_regex *re = rt_calloc(1, sizeof *re);
    re->code = code;
    re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    *out = re;
    return RT_OK;
}

void rt_tok_regex_free(rt_tok_regex *re) {
    if (!re) return;
    pcre2_code_free(re->code);
    free(re);
}

static void thread_init(void) {
    tls_md = pcre2_match_data_create(1, NULL);
    tls_mc = pcre2_match_context_create(NULL);
    tls_js = pcre2_jit_stack_create(JIT_STACK_MIN_BYTES, JIT_STACK_MAX_BYTES, NULL);
    if (!tls_md || !tls_mc || !tls_js) {
        fprintf(stderr, "retrace: out of memory creating regex match data\n");
        abort();
    }
    pcre2_jit_stack_assign(tls_mc, NULL, tls_js);
}

void rt_tok_regex_thread_cleanup(void) {
    if (tls_md) pcre2_match_data_free(tls_md);
    if (tls_mc) pcre2_match_context_free(tls_mc);
    if (tls_js) pcre2_jit_stack_free(tls_js);
    tls_md = NULL;
    tls_mc = NULL;
    tls_js = NULL;
}

/* Steps over one UTF-8 char (input is valid UTF-8 here). */
static size_t next_char(const char *s, size_t n, size_t i) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    return i;
}

int rt_tok_regex_next(const rt_tok_regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    if (!tls_md) thread_init();
    while (from <= n) {
        /* The text was validated when it entered the tokenizer, so PCRE2 need not check it again. */
        int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, tls_md, tls_mc)
                         : pcre2_match(re->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, tls_md, tls_mc);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) tls_failed = rc;
            return 0;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(tls_md);
        if (ov[1] > ov[0]) {
            *ms = ov[0];
            *me = ov[1];
            return 1;
        }
        /* Empty matches split nothing in the reference; step past them. */
        if (ov[0] >= n) return 0;
        from = next_char(s, n, ov[0]);
    }
    return 0;
}

int rt_tok_regex_take_failure(void) {
    int rc = tls_failed;
    tls_failed = 0;
    return rc;
}
