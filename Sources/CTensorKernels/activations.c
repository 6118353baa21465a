#include "CTensorKernels.h"
#include <math.h>

static inline float gelu_erf(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

void bld_activation_f32(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind) {
  switch (kind) {
  case 0:
    for (size_t i = begin; i < end; ++i) y[i] = x[i] / (1.0f + expf(-x[i]));
    break;
  case 1:
    for (size_t i = begin; i < end; ++i) y[i] = gelu_erf(x[i]);
    break;
  case 2:
    for (size_t i = begin; i < end; ++i) {
      const float v = x[i];
      y[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
    break;
  default:
    for (size_t i = begin; i < end; ++i) y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
    break;
  }
}

void bld_geglu_f32(const float *restrict a, float *restrict y, size_t width, size_t row_begin, size_t row_end) {
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *hidden = a + r * 2 * width;
    const float *gate = hidden + width;
    float *dst = y + r * width;
    for (size_t j = 0; j < width; ++j) dst[j] = hidden[j] * gelu_erf(gate[j]);
  }
}

void bld_upsample_nearest2x_f32(const float *restrict x, float *restrict y, size_t height, size_t width,
                                size_t plane_begin, size_t plane_end) {
  for (size_t p = plane_begin; p < plane_end; ++p) {
    const float *src = x + p * height * width;
    float *dst = y + p * 4 * height * width;
    for (size_t i = 0; i < height; ++i) {
      float *row = dst + 2 * i * 2 * width;
      for (size_t j = 0; j < width; ++j) {
        const float v = src[i * width + j];
        row[2 * j] = v;
        row[2 * j + 1] = v;
      }
      for (size_t j = 0; j < 2 * width; ++j) row[2 * width + j] = row[j];
    }
  }
}
