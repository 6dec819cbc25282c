/* html.c: escaping text for HTML and SVG, and number formatting with "n/a" for missing values. */
#include <math.h>
#include <string.h>

#include "report/report_internal.h"

/* The ellipsis a cut label ends with, as a character reference (the page stays ASCII-safe XML). */
#define ELLIPSIS "&#8230;"

/* Appends text[0..n) escaped. Control characters other than tab and newline are dropped: they are not
 * allowed in XML and never meant to be shown. */
void rt_html_escape_n(rt_strbuf *s, const char *text, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;"
                        : c == '\'' ? "&#39;" : (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? "" : NULL;
        if (!rep) continue;
        if (i > start) {
            rt_strbuf_addf(s, "%.*s", (int)(i - start), text + start);
        }
        rt_strbuf_add(s, rep);
        start = i + 1;
    }
    if (n > start) rt_strbuf_addf(s, "%.*s", (int)(n - start), text + start);
    if (!s->buf) rt_strbuf_add(s, "");
}

void rt_html_escape(rt_strbuf *s, const char *text) { rt_html_escape_n(s, text ? text : "", text ? strlen(text) : 0); }

void rt_html_escape_cut(rt_strbuf *s, const char *text, int max_chars) {
    if (!text) text = "";
    /* Count code points by their lead bytes, so a cut never splits a UTF-8 sequence. */
    int chars = 0;
    size_t i = 0, cut = 0;
    for (; text[i]; i++) {
        if (((unsigned char)text[i] & 0xC0) == 0x80) continue;
        if (chars == max_chars - 1) cut = i;
        if (chars++ == max_chars) break;
    }
    if (!text[i]) {
        rt_html_escape_n(s, text, i);
        return;
    }
    rt_html_escape_n(s, text, cut);
    rt_strbuf_add(s, ELLIPSIS);
}

void rt_html_num(rt_strbuf *s, int have, double x, int decimals) {
    if (!have || !isfinite(x)) rt_strbuf_add(s, "n/a");
    else rt_strbuf_addf(s, "%.*f", decimals, x);
}

const char *rt_report_color(int i) {
    /* Okabe and Ito's palette, without its yellow (too faint on white). */
    static const char *const PALETTE[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                          "#56B4E9", "#D55E00", "#000000"};
    int n = (int)(sizeof PALETTE / sizeof PALETTE[0]);
    return PALETTE[((i % n) + n) % n];
}
