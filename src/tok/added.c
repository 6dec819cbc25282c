/* added.c: finding added and special tokens in text before the model runs, leftmost-longest as the
 * reference's Aho-Corasick matcher does, with the lstrip / rstrip / single_word options. */
#include <string.h>
#include <utf8proc.h>

#include "tok/tok_internal.h"

static void seg_add(rt_tok_segments *s, size_t off, size_t len, int32_t id) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = rt_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (rt_tok_segment){off, len, id};
}

/* Word chars for single_word: alphanumeric or underscore (Rust's regex \w, roughly). */
static int is_word_cp(int32_t c) {
    if (c == '_') return 1;
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO ||
           (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME);
}

static int32_t cp_before(const char *s, size_t i) {
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    int32_t cp;
    rt_tok_utf8_decode((const unsigned char *)s + k, &cp);
    return cp;
}

/* The longest added token starting at s[i], or -1. Tokens are grouped by first byte, longest first. */
static int longest_at(const rt_tokenizer *t, const char *s, size_t n, size_t i, int normalized) {
    unsigned char c = (unsigned char)s[i];
    int32_t first = t->added_first[c], end = first + t->added_count[c];
    for (int32_t k = first; k < end; k++) {
        const rt_tok_added *a = &t->added[k];
        if (a->normalized != normalized || a->len > n - i) continue;
        if (memcmp(s + i, a->content, a->len) == 0) return k;
    }
    return -1;
}

void rt_tok_split_added(const rt_tokenizer *t, const char *s, size_t n, int normalized, rt_tok_segments *out) {
    out->n = 0;
    size_t start_offset = 0, i = 0;
    while (i < n) {
        int k = t->added_count[(unsigned char)s[i]] ? longest_at(t, s, n, i, normalized) : -1;
        if (k < 0) {
            i++;
            continue;
        }
        const rt_tok_added *a = &t->added[k];
        size_t start = i, stop = i + a->len;
        if (a->single_word) {
            int before_ok = start == 0 || !is_word_cp(cp_before(s, start));
            int32_t next = 0;
            if (stop < n) rt_tok_utf8_decode((const unsigned char *)s + stop, &next);
            int after_ok = stop == n || !is_word_cp(next);
            if (!before_ok || !after_ok) {
                /* The reference finds matches first (without overlap) and drops this one after. */
                i = stop;
                continue;
            }
        }
        if (a->lstrip) {
            while (start > start_offset && rt_tok_is_space(cp_before(s, start))) {
                start--;
                while (start > start_offset && ((unsigned char)s[start] & 0xC0) == 0x80) start--;
            }
        }
        if (a->rstrip) {
            while (stop < n) {
                int32_t cp;
                size_t l = rt_tok_utf8_decode((const unsigned char *)s + stop, &cp);
                if (!rt_tok_is_space(cp)) break;
                stop += l;
            }
        }
        if (start > start_offset) seg_add(out, start_offset, start - start_offset, -1);
        seg_add(out, start, stop - start, a->id);
        start_offset = stop;
        i = stop;
    }
    if (start_offset < n) seg_add(out, start_offset, n - start_offset, -1);
}
