/* stats.c: Wilson intervals for success rates and the exact McNemar test for paired outcomes. */
#include <math.h>

#include "retrace/stats.h"

void rt_wilson_interval(int k, int n, double z, double *low, double *high) {
    if (n <= 0) {
        *low = 0.0, *high = 1.0;
        return;
    }
    /* Wilson (1927): the interval of p for which the observed rate is within z standard errors. */
    double p = (double)k / n, z2 = z * z;
    double denom = 1.0 + z2 / n;
    double center = (p + z2 / (2.0 * n)) / denom;
    double half = z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * (double)n * n)) / denom;
    *low = center - half < 0.0 ? 0.0 : center - half;
    *high = center + half > 1.0 ? 1.0 : center + half;
}

/* P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so that n in the thousands neither
 * overflows the binomial coefficients nor underflows 2^-n. */
static double binom_half_cdf(int k, int n) {
    double log_half_n = n * log(0.5), sum = 0.0, log_nf = lgamma(n + 1.0);
    for (int i = 0; i <= k; i++) sum += exp(log_nf - lgamma(i + 1.0) - lgamma(n - i + 1.0) + log_half_n);
    return sum;
}

double rt_mcnemar_exact(int b, int c) {
    if (b < 0 || c < 0) return -1.0;
    int n = b + c, k = b < c ? b : c;
    if (n == 0 || b == c) return 1.0;
    /* Binomial(n, 1/2) is symmetric, so the outcomes at most as likely as the observed one are the two
     * tails beyond min(b, c) and max(b, c): scipy's two-sided rule gives exactly twice one tail. */
    double p = 2.0 * binom_half_cdf(k, n);
    return p > 1.0 ? 1.0 : p;
}
