#include "CTensorKernels.h"
#include <math.h>

void bld_group_norm_f32(const float *restrict x, float *restrict y, size_t channels, size_t spatial,
                        size_t groups, size_t group_begin, size_t group_end,
                        const float *gamma, const float *beta, float epsilon, int silu) {
  // The statistics and the normalisation of normalization_backward.c, one group at a time (the group is still
  // in cache for the second pass), so groupNorm and groupNorm(_:statistics:) agree exactly.
  // Each group is passed as a one-group tensor of its own channels.
  const size_t per_group = channels / groups;
  for (size_t g = group_begin; g < group_end; ++g) {
    const size_t first = g * per_group, offset = first * spatial;
    double mean, inverse_std;
    bld_group_norm_statistics_f32(x + offset, per_group, spatial, 1, 0, 1, epsilon, &mean, &inverse_std);
    bld_group_norm_apply_f32(x + offset, y + offset, per_group, spatial, 1, 0, 1, &mean, &inverse_std,
                             gamma ? gamma + first : NULL, beta ? beta + first : NULL, silu);
  }
}

void bld_layer_norm_f32(const float *restrict x, float *restrict y, size_t width,
                        size_t row_begin, size_t row_end,
                        const float *gamma, const float *beta, float epsilon) {
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *src = x + r * width;
    float *dst = y + r * width;
    const double mean = bld_sum_f32(src, width, 0.0, 0) / (double)width;
    const double squares = bld_sum_f32(src, width, mean, 1);
    const float inv = (float)(1.0 / sqrt(squares / (double)width + (double)epsilon));
    const float m = (float)mean;
    const float m_lo = (float)(mean - (double)m);
    for (size_t i = 0; i < width; ++i) {
      const float v = ((src[i] - m) - m_lo) * inv;
      dst[i] = v * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
    }
  }
}
