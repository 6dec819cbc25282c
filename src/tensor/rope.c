/* rope.c: rotary position embedding with the default, linear and llama3 frequency scalings. */
#include <math.h>

#include "retrace/tensor.h"

#define RT_TWO_PI 6.283185307179586

void rt_rope_inv_freq(float *inv_freq, int head_dim, const rt_rope_params *p) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* transformers computes base ** (2i/d) in float32; double then rounding differs by < 1 ulp. */
        double f = 1.0 / pow(p->theta, (double)(2 * i) / (double)head_dim);
        if (p->kind == RT_ROPE_LINEAR) {
            f /= p->factor;
        } else if (p->kind == RT_ROPE_LLAMA3) {
            /* Long wavelengths are slowed by `factor`, short ones kept, and the band between is
             * interpolated, as in Meta's Llama 3.1 reference. */
            double low_wavelen = p->original_max_pos / p->low_freq_factor;
            double high_wavelen = p->original_max_pos / p->high_freq_factor;
            double wavelen = RT_TWO_PI / f;
            if (wavelen > low_wavelen) {
                f = f / p->factor;
            } else if (wavelen >= high_wavelen) {
                double smooth = (p->original_max_pos / wavelen - p->low_freq_factor) /
                                (p->high_freq_factor - p->low_freq_factor);
                f = (1.0 - smooth) * f / p->factor + smooth * f;
            }
        }
        inv_freq[i] = (float)f;
    }
}

void rt_rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int head_dim, int pos0, int n_pos) {
    int half = head_dim / 2;
    for (int t = 0; t < n_pos; t++)
        for (int i = 0; i < half; i++) {
            /* float32 product as in transformers, then the angle's cos/sin in double. */
            float angle = (float)(pos0 + t) * inv_freq[i];
            cos_t[(size_t)t * half + i] = (float)cos((double)angle);
            sin_t[(size_t)t * half + i] = (float)sin((double)angle);
        }
}

/* Rotates pairs (x_i, x_{i+half}) by +angle (sign = 1) or -angle (sign = -1). */
static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads, int head_dim,
                       float sign) {
    int half = head_dim / 2;
#pragma omp parallel for collapse(2) if ((size_t)B * T * n_heads * head_dim > 32768)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (size_t)t * half;
            const float *s = sin_t + (size_t)t * half;
            for (int h = 0; h < n_heads; h++) {
                float *v = x + (((size_t)b * T + t) * n_heads + h) * head_dim;
                for (int i = 0; i < half; i++) {
                    float a = v[i], bb = v[i + half];
                    float si = sign * s[i];
                    v[i] = a * c[i] - bb * si;
                    v[i + half] = bb * c[i] + a * si;
                }
            }
        }
}

void rt_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int n_heads, int head_dim) {
    rope_apply(x, cos_t, sin_t, B, T, n_heads, head_dim, 1.0f);
}

void rt_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int n_heads, int head_dim) {
    /* The rotation is orthogonal, so its transpose (the gradient map) is the rotation by -angle. */
    rope_apply(dx, cos_t, sin_t, B, T, n_heads, head_dim, -1.0f);
}
