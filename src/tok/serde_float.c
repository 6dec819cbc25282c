/* serde_float.c: the float the reference library holds for a number of tokenizer.json.
 *
 * The reference reads tokenizer.json with serde_json's default number parser, which is not correctly
 * rounded: it turns the decimal digits into a u64 significand, converts that to f64 (rounding once)
 * and multiplies or divides by a power of ten (rounding again). Unigram scores written with 17
 * significant digits then come out 1 ULP away from the correctly rounded value, which is enough to
 * flip ties between equally scored segmentations. jansson parses correctly rounded, and the file's
 * digits are the shortest that round-trip (how serde_json writes floats), so the digits are recovered
 * from jansson's double and parsed again the reference's way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"

#define MAX_F64_DIGITS 17
#define MAX_POW10 308

/* 10^k for k = 0..308, each correctly rounded (strtod is). */
static double pow10_table(int k) {
    static double table[MAX_POW10 + 1];
    static int ready;
    if (!ready) {
        for (int i = 0; i <= MAX_POW10; i++) {
            char s[16];
            snprintf(s, sizeof s, "1e%d", i);
            table[i] = strtod(s, NULL);
        }
        ready = 1;
    }
    return table[k];
}

/* Prints v with `digits` significant digits into buf and says whether that reads back as v. */
static int round_trips(double v, int digits, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*e", digits - 1, v);
    return strtod(buf, NULL) == v;
}

double rt_tok_serde_f64(double v) {
    if (!isfinite(v) || v == 0 || v == floor(v)) return v; /* integers parse exactly either way */
    char buf[64];
    /* Round-tripping is monotonic in the digit count, so the shortest count is found by bisection. */
    int lo = 1, hi = MAX_F64_DIGITS;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (round_trips(v, mid, buf, sizeof buf)) hi = mid;
        else lo = mid + 1;
    }
    round_trips(v, lo, buf, sizeof buf);
    /* buf is "-d.ddde-XX": the digits form the significand, the exponent shifts by the digits after
     * the point. */
    uint64_t significand = 0;
    int frac_digits = 0, seen_point = 0;
    const char *p = buf;
    int negative = *p == '-';
    if (negative) p++;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        significand = significand * 10 + (uint64_t)(*p - '0');
        if (seen_point) frac_digits++;
    }
    int exponent = (*p == 'e' ? atoi(p + 1) : 0) - frac_digits;
    double f = (double)significand;
    for (;;) {
        int k = exponent < 0 ? -exponent : exponent;
        if (k <= MAX_POW10) {
            if (exponent >= 0) f *= pow10_table(k);
            else f /= pow10_table(k);
            break;
        }
        if (f == 0 || exponent >= 0) break; /* the reference rejects such numbers; keep ours */
        f /= 1e308;
        exponent += 308;
    }
    return negative ? -f : f;
}
