#include "CTensorKernels.h"
#include <math.h>

void bld_group_norm_f32(const float *restrict x, float *restrict y, size_t channels, size_t spatial,
                        size_t groups, size_t group_begin, size_t group_end,
                        const float *gamma, const float *beta, float epsilon, int silu) {
  const size_t per_group = channels / groups;
  for (size_t g = group_begin; g < group_end; ++g) {
    const float *src = x + g * per_group * spatial;
    float *dst = y + g * per_group * spatial;
    const size_t n = per_group * spatial;
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += src[i];
    const double mean = sum / (double)n;
    double squares = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double d = src[i] - mean;
      squares += d * d;
    }
    const float inv = (float)(1.0 / sqrt(squares / (double)n + (double)epsilon));
    // The mean as a float pair (hi + lo): subtracting hi is exact for values near the mean, so large
    // common offsets do not lose the float rounding of the mean itself.
    const float m = (float)mean;
    const float m_lo = (float)(mean - (double)m);
    for (size_t c = 0; c < per_group; ++c) {
      const size_t channel = g * per_group + c;
      const float scale = inv * (gamma ? gamma[channel] : 1.0f);
      const float shift = beta ? beta[channel] : 0.0f;
      const float *s = src + c * spatial;
      float *d = dst + c * spatial;
      // (x − mean) first: folding the mean into the shift cancels catastrophically for large offsets.
      for (size_t i = 0; i < spatial; ++i) d[i] = ((s[i] - m) - m_lo) * scale + shift;
      if (silu) bld_silu_inplace_f32(d, spatial);  // while the channel is still in cache
    }
  }
}

void bld_layer_norm_f32(const float *restrict x, float *restrict y, size_t width,
                        size_t row_begin, size_t row_end,
                        const float *gamma, const float *beta, float epsilon) {
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *src = x + r * width;
    float *dst = y + r * width;
    double sum = 0.0;
    for (size_t i = 0; i < width; ++i) sum += src[i];
    const double mean = sum / (double)width;
    double squares = 0.0;
    for (size_t i = 0; i < width; ++i) {
      const double d = src[i] - mean;
      squares += d * d;
    }
    const float inv = (float)(1.0 / sqrt(squares / (double)width + (double)epsilon));
    const float m = (float)mean;
    const float m_lo = (float)(mean - (double)m);
    for (size_t i = 0; i < width; ++i) {
      const float v = ((src[i] - m) - m_lo) * inv;
      dst[i] = v * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
    }
  }
}
