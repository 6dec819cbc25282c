#!/usr/bin/env python3
"""Reference values for tests/test_stats.c: the exact McNemar test (two-sided binomial test of the
discordant pairs, p = 1/2) and Wilson 95% intervals.

The p-values are exact rationals (fractions), the same numbers scipy.stats.binomtest(b, b + c, 0.5)
gives; where scipy is installed the script checks that too. Run: python3 tools/stats_reference.py
"""
from fractions import Fraction
from math import comb, sqrt

CASES = [(0, 0), (1, 0), (0, 5), (3, 3), (2, 8), (8, 2), (10, 1), (0, 12), (7, 13), (25, 10), (40, 60), (300, 250)]


def mcnemar_exact(b, c):
    n, k = b + c, min(b, c)
    if n == 0 or b == c:
        return Fraction(1)
    tail = sum(Fraction(comb(n, i), 2 ** n) for i in range(k + 1))
    return min(Fraction(1), 2 * tail)


def wilson(k, n, z=1.96):
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def main():
    try:
        from scipy.stats import binomtest
    except ImportError:
        binomtest = None
        print("# scipy not installed: exact fractions only")
    for b, c in CASES:
        p = mcnemar_exact(b, c)
        if binomtest and b + c > 0:
            assert abs(binomtest(b, b + c, 0.5).pvalue - float(p)) < 1e-12, (b, c)
        print(f"    {{{b}, {c}, {float(p):.17g}}},")
    for k, n in [(8, 10), (0, 20), (50, 100), (30, 60), (59, 60)]:
        lo, hi = wilson(k, n)
        print(f"    {{{k}, {n}, {lo:.17g}, {hi:.17g}}},")


if __name__ == "__main__":
    main()
