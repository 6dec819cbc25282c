/* report_test_util.h: what the report tests share: counting a string in the page and a strict
 * well-formedness check of it (every tag closed in order, quoted attributes, no bare '&'). */
#ifndef RT_REPORT_TEST_UTIL_H
#define RT_REPORT_TEST_UTIL_H

#include <string.h>

#define MAX_DEPTH 64

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Well-formed as XML: every tag closed in order (or self-closed), quoted attributes, and every '&' the
 * start of a character or entity reference. Returns NULL or what is wrong. */
static const char *check_well_formed(const char *html) {
    char stack[MAX_DEPTH][32];
    int depth = 0;
    for (const char *p = html; *p; p++) {
        if (*p == '&') {
            const char *q = p + 1;
            if (*q == '#') q++;
            while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) q++;
            if (*q != ';' || q == p + 1) return "bare '&'";
            continue;
        }
        if (*p != '<') continue;
        const char *end = strchr(p, '>');
        if (!end) return "unclosed '<'";
        if (p[1] == '!') {
            p = end;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />\n");
        if (len == 0 || len >= sizeof stack[0]) return "bad tag name";
        for (const char *a = name; a < end; a++) {
            if (*a == '"') a = strchr(a + 1, '"');
            else if (*a == '=' && a[1] != '"') return "unquoted attribute";
            if (!a || a > end) return "unclosed attribute value";
        }
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, len) || stack[depth - 1][len])
                return "mismatched close tag";
            depth--;
        } else if (end[-1] != '/') {
            if (depth == MAX_DEPTH) return "too deep";
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
        }
        p = end;
    }
    return depth == 0 ? NULL : "unclosed element";
}

#endif
