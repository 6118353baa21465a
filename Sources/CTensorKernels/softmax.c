#include "CTensorKernels.h"
#include <math.h>

void bld_softmax_rows_f32(float *restrict x, size_t width, size_t row_begin, size_t row_end,
                          float scale, int causal, size_t causal_offset) {
  for (size_t r = row_begin; r < row_end; ++r) {
    float *row = x + r * width;
    size_t valid = width;
    if (causal) {
      valid = r + causal_offset + 1;
      if (valid > width) valid = width;
    }
    float maximum = -INFINITY;
    for (size_t i = 0; i < valid; ++i) {
      const float v = row[i] * scale;
      row[i] = v;
      if (v > maximum) maximum = v;
    }
    double sum = 0.0;  // double: a float running sum over thousands of keys loses ~1e-5
    for (size_t i = 0; i < valid; ++i) {
      const float e = expf(row[i] - maximum);
      row[i] = e;
      sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < valid; ++i) row[i] *= inv;
    for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
  }
}
