/* retrace/stats.h: the statistics a benchmark reports: a confidence interval for a success rate and an
 * exact paired test of two configurations run on the same episodes. */
#ifndef RETRACE_STATS_H
#define RETRACE_STATS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The Wilson score interval of k successes in n trials at z (1.96 for 95%). n = 0 gives [0, 1]. */
void rt_wilson_interval(int k, int n, double z, double *low, double *high);

/* The exact McNemar test of two paired success/failure outcomes: b pairs where only the first succeeded,
 * c where only the second did (the discordant pairs; agreeing pairs carry no evidence). The two-sided
 * p-value of b under Binomial(b + c, 1/2), as scipy.stats.binomtest(b, b + c, 0.5) gives it: twice the
 * smaller tail, at most 1. b + c = 0 gives 1. Negative counts give -1. */
double rt_mcnemar_exact(int b, int c);

#ifdef __cplusplus
}
#endif
#endif
