/* metrics.c: confidence intervals for success rates. */
#include <math.h>

#include "retrace/agent_loop.h"

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
