/* rng.c: xoshiro256** (Blackman and Vigna) seeded with splitmix64; portable and reproducible. */
#include "retrace/base.h"

#include <math.h>

/* splitmix64: the state steps by the golden gamma, each output is the mix of the new state. */
static uint64_t splitmix64(uint64_t *x) { return rt_mix64(*x += RT_GOLDEN_GAMMA); }

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rt_rng_seed(rt_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t rt_rng_u64(rt_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rt_rng_float(rt_rng *r) { return (float)(rt_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

double rt_rng_double(rt_rng *r) { return (double)(rt_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t rt_rng_below(rt_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* Rejection sampling removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rt_rng_u64(r);
    while (x >= limit);
    return x % n;
}

float rt_rng_normal(rt_rng *r) {
    double u1 = rt_rng_double(r);
    double u2 = rt_rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
