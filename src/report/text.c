/* text.c: how wide a label will be drawn and how to wrap it, so chart labels are never cut by the SVG's
 * edge or run into their neighbours. The page uses the reader's sans-serif font, whose metrics are
 * unknown here, so widths are over-estimated: each character counts as wide as its class is in the
 * widest common sans-serif fonts (DejaVu Sans, Verdana), and anything outside ASCII as a full em. */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* Width of one character in ems, rounded up from DejaVu Sans, the widest of the usual fallbacks. */
static double char_em(unsigned char c) {
    if (c >= 0x80) return 1.0; /* a lead byte: the whole code point (continuation bytes count 0) */
    if (strchr("iljI.,:;'|!`", c)) return 0.34;
    if (c == ' ' || strchr("ftr()[]{}-/\\", c)) return 0.42;
    if (strchr("mwMW@%", c)) return 1.0;
    if (c >= 'A' && c <= 'Z') return 0.78;
    return 0.64; /* lower case, digits and the rest */
}

double rt_report_text_width(const char *text, double font_px) {
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
        if ((*p & 0xC0) != 0x80) em += char_em(*p);
    return em * font_px;
}

/* The longest prefix of text (at most len bytes, whole code points) no wider than max_px. */
static size_t fit(const char *text, size_t len, double max_px, double font_px) {
    double em = 0;
    size_t i = 0, last = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) == 0x80) continue;
        last = i;
        em += char_em(c);
        if (em * font_px > max_px) return last;
    }
    return len;
}

static void add_line(report_lines *l, const char *text, size_t n, int cut) {
    l->line[l->n] = rt_malloc(n + 4);
    memcpy(l->line[l->n], text, n);
    l->line[l->n][n] = '\0';
    if (cut) strcat(l->line[l->n], "\xe2\x80\xa6"); /* U+2026, escaped on output */
    l->n++;
}

void rt_report_wrap(const char *text, double max_px, double font_px, int max_lines, report_lines *l) {
    memset(l, 0, sizeof *l);
    if (!text) text = "";
    double ell = rt_report_text_width("\xe2\x80\xa6", font_px);
    size_t len = strlen(text), at = 0;
    if (max_lines < 1 || max_lines > REPORT_MAX_LINES) max_lines = REPORT_MAX_LINES;
    while (at < len && l->n < max_lines) {
        while (text[at] == ' ') at++;
        size_t rest = len - at, n = fit(text + at, rest, max_px, font_px);
        int last = l->n == max_lines - 1;
        if (n == rest) {
            add_line(l, text + at, n, 0);
            break;
        }
        /* Break at the last space that fits; a word wider than a line is broken where it reaches the
         * edge; the last line allowed ends with an ellipsis when text is left. */
        size_t brk = n;
        while (brk > 0 && text[at + brk] != ' ') brk--;
        if (last) {
            size_t m = fit(text + at, rest, max_px - ell, font_px);
            while (m > 0 && text[at + m - 1] == ' ') m--;
            l->cut = 1;
            add_line(l, text + at, m, 1);
            break;
        }
        if (brk == 0) {
            brk = n;
            while (brk < rest && ((unsigned char)text[at + brk] & 0xC0) == 0x80) brk++;
            if (brk == 0) brk = 1; /* not even one character fits: one per line rather than none */
            while (brk < rest && ((unsigned char)text[at + brk] & 0xC0) == 0x80) brk++;
        }
        add_line(l, text + at, brk, 0);
        at += brk;
    }
    if (l->n == 0) add_line(l, "", 0, 0);
}

void rt_report_lines_free(report_lines *l) {
    for (int i = 0; i < l->n; i++) free(l->line[i]);
    memset(l, 0, sizeof *l);
}

void rt_svg_wrapped_text(rt_strbuf *s, double x, double y, const char *anchor, const char *text, const report_lines *l,
                      double line_px) {
    rt_strbuf_addf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"><title>", x, y, anchor);
    rt_html_escape(s, text);
    rt_strbuf_add(s, "</title>");
    for (int i = 0; i < l->n; i++) {
        rt_strbuf_addf(s, "<tspan x=\"%.1f\" dy=\"%.1f\">", x, i ? line_px : 0.0);
        rt_html_escape(s, l->line[i]);
        rt_strbuf_add(s, "</tspan>");
    }
    rt_strbuf_add(s, "</text>\n");
}
