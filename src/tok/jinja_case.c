/* jinja_case.c: Python's str.upper, lower, title and capitalize over Unicode, which Jinja's filters
 * of those names call. Each code point takes utf8proc's simple case mapping, or its one-to-many
 * mapping from jinja_case_table.c (ß -> SS, ligatures, İ -> i̇), as CPython's full mappings do.
 * Lowering Σ follows Python's final-sigma rule: ς after a cased letter when no cased letter follows
 * (case-ignorable marks skipped both ways). str.title: a letter after a cased one is lowered, any
 * other titlecased; capitalize: the first titlecased, the rest lowered. Jinja's `title` filter is not
 * str.title: it uppercases the first character of each run after whitespace or - ( { [ < and lowers
 * the rest (do_title's regex split). Invalid UTF-8 bytes pass through. */
#include <utf8proc.h>

#include "tok/jinja.h"
#include "tok/tok_internal.h"

static const jx_case_row *special(int32_t cp) {
    size_t lo = 0, hi = jx_n_case_rows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (jx_case_rows[mid].cp == cp) return &jx_case_rows[mid];
        if (jx_case_rows[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Python's "cased": categories Lu, Ll, Lt, plus Other_Lowercase/Other_Uppercase letters, which
 * utf8proc marks by giving them a case mapping or by utf8proc_islower/isupper. */
static int cased(int32_t cp) {
    utf8proc_category_t k = utf8proc_category(cp);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_islower(cp) || utf8proc_isupper(cp);
}

/* Unicode's Case_Ignorable, closely enough for the final-sigma rule: marks, format characters,
 * modifier letters and symbols, and the word-internal punctuation ' . : · ’. */
static int case_ignorable(int32_t cp) {
    utf8proc_category_t k = utf8proc_category(cp);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK || cp == '\'' || cp == '.' || cp == ':' ||
           cp == 0xB7 || cp == 0x2019;
}

/* The code point at s[i] (and its byte length in *len); an invalid byte is -1, one byte long. */
static int32_t cp_at(const char *s, size_t i, size_t n, size_t *len) {
    int32_t cp = -1;
    *len = rt_tok_utf8_valid_len((const unsigned char *)s + i, n - i);
    if (*len) rt_tok_utf8_decode((const unsigned char *)s + i, &cp);
    else *len = 1;
    return cp;
}

/* Is the Σ at s[i, i+l) final: a cased letter in s[lo, i) before it and none after, skipping
 * case-ignorables? (The title filter lowers each word but its first letter as a string of its own.) */
static int final_sigma(const char *s, size_t lo, size_t i, size_t l, size_t n) {
    int before = 0, after = 0;
    for (size_t e = i; e > lo;) {
        size_t b = e - 1, len;
        while (b > lo && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        int32_t cp = cp_at(s, b, n, &len);
        if (!case_ignorable(cp)) {
            before = cp >= 0 && cased(cp);
            break;
        }
        e = b;
    }
    for (size_t k = i + l, len; k < n; k += len) {
        int32_t cp = cp_at(s, k, n, &len);
        if (!case_ignorable(cp)) {
            after = cp >= 0 && cased(cp);
            break;
        }
    }
    return before && !after;
}

static void put_cp(jx_ctx *c, jx_buf *b, int32_t cp) {
    char u[4];
    jx_buf_put(c, b, u, rt_tok_utf8_encode(cp, u));
}

/* Does Jinja's title filter start a word after cp? */
static int word_break(int32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || (cp >= 0 && jx_py_space(cp));
}

/* mode: 'u' upper, 'l' lower, 't' str.title, 'c' capitalize, 'j' Jinja's title filter. */
jv jx_case(jx_ctx *c, jv s, int mode) {
    const char *p = s.u.s.s;
    size_t n = s.u.s.n;
    jx_buf b = {0};
    jx_buf_put(c, &b, "", 0);
    int prev_cased = 0, word_start = 1;
    size_t lo = 0; /* where the final-sigma rule looks back to */
    for (size_t i = 0, len; i < n; i += len) {
        int32_t cp = cp_at(p, i, n, &len);
        if (cp < 0) {
            jx_buf_put(c, &b, p + i, 1);
            prev_cased = 0, word_start = 0;
            continue;
        }
        /* 'u': upper; 'T': titlecase; otherwise lower. */
        int to = mode == 'u' || (mode == 'j' && word_start)                  ? 'u'
                 : (mode == 't' && !prev_cased) || (mode == 'c' && i == 0) ? 'T'
                                                                           : 'l';
        const jx_case_row *r = special(cp);
        if (r) {
            const int32_t *m = to == 'u' ? r->upper : to == 'T' ? r->title : r->lower;
            for (int k = 0; k < 3 && m[k]; k++) put_cp(c, &b, m[k]);
        } else if (to == 'l' && cp == 0x3A3) {
            put_cp(c, &b, final_sigma(p, lo, i, len, n) ? 0x3C2 : 0x3C3);
        } else {
            put_cp(c, &b, to == 'u' ? utf8proc_toupper(cp) : to == 'T' ? utf8proc_totitle(cp) : utf8proc_tolower(cp));
        }
        if (mode == 't') prev_cased = cased(cp);
        if (mode == 'j' && word_start) lo = i + len;
        word_start = word_break(cp);
    }
    return jv_str(b.p, b.n);
}
