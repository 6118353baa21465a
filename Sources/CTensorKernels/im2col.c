#include "CTensorKernels.h"
#include <string.h>

void bld_im2col_f32(const float *restrict input, size_t channels, size_t height, size_t width,
                    size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                    size_t out_width, size_t row_begin, size_t row_end,
                    size_t channel_begin, size_t channel_end, float *restrict columns) {
  (void)channels;
  const size_t tile = (row_end - row_begin) * out_width;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    const float *plane = input + c * height * width;
    for (size_t ki = 0; ki < kernel_h; ++ki) {
      for (size_t kj = 0; kj < kernel_w; ++kj) {
        float *dst = columns + ((c * kernel_h + ki) * kernel_w + kj) * tile;
        for (size_t oy = row_begin; oy < row_end; ++oy) {
          const long iy = (long)(oy * stride + ki) - (long)padding;
          float *row = dst + (oy - row_begin) * out_width;
          if (iy < 0 || iy >= (long)height) {
            memset(row, 0, out_width * sizeof(float));
            continue;
          }
          const float *src = plane + (size_t)iy * width;
          if (stride == 1) {
            // Valid ox range: 0 <= ox + kj - padding < width.
            long lo = (long)padding - (long)kj;
            long hi = (long)width + (long)padding - (long)kj;
            if (lo < 0) lo = 0;
            if (hi > (long)out_width) hi = (long)out_width;
            if (hi < lo) hi = lo;
            for (long ox = 0; ox < lo; ++ox) row[ox] = 0.0f;
            if (hi > lo) memcpy(row + lo, src + (lo + (long)kj - (long)padding), (size_t)(hi - lo) * sizeof(float));
            for (long ox = hi; ox < (long)out_width; ++ox) row[ox] = 0.0f;
          } else {
            for (size_t ox = 0; ox < out_width; ++ox) {
              const long ix = (long)(ox * stride + kj) - (long)padding;
              row[ox] = (ix < 0 || ix >= (long)width) ? 0.0f : src[ix];
            }
          }
        }
      }
    }
  }
}

size_t bld_im2col_panels_floats(const bld_gemm_plan *plan, size_t reduction, size_t positions) {
  return (positions + plan->nr - 1) / plan->nr * plan->nr * reduction;
}

void bld_im2col_panels_f32(const bld_gemm_plan *plan, const float *restrict input, size_t channels, size_t height,
                           size_t width, size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                           size_t out_width, size_t row_begin, size_t row_end, size_t panel_begin,
                           size_t panel_end, float *restrict panels) {
  const size_t nr = plan->nr, positions = (row_end - row_begin) * out_width;
  const size_t padded = (positions + nr - 1) / nr * nr, taps = kernel_h * kernel_w;
  const size_t reduction = channels * taps, block = bld_gemm_k_block(plan, reduction);
  // Per panel position j: its output row and column, and whether it exists (positions past the end are zero).
  size_t oy[32], ox[32];
  for (size_t q = panel_begin; q < panel_end; ++q) {
    const size_t first = q * nr, count = positions - first < nr ? positions - first : nr;
    for (size_t j = 0; j < count; ++j) {
      oy[j] = row_begin + (first + j) / out_width;
      ox[j] = (first + j) % out_width;
    }
    // The panel's positions run along one output row unless they wrap: then the fast path below is off.
    const int one_row = count > 0 && oy[0] == oy[count - 1];
    for (size_t pc = 0; pc < reduction; pc += block) {
      const size_t kc = reduction - pc < block ? reduction - pc : block;
      float *dst = panels + pc * padded + first * kc;  // this panel's kc x nr block, written row by row
      for (size_t l = pc; l < pc + kc; ++l, dst += nr) {
        const size_t c = l / taps, tap = l % taps, ki = tap / kernel_w, kj = tap % kernel_w;
        const float *plane = input + c * height * width;
        if (one_row && stride == 1) {
          const long iy = (long)(oy[0] + ki) - (long)padding;
          if (iy < 0 || iy >= (long)height) {
            for (size_t j = 0; j < nr; ++j) dst[j] = 0.0f;
            continue;
          }
          // Source column of position j: shift + j, valid in [0, width): positions [lo, hi) copy, the rest are 0.
          const long shift = (long)ox[0] + (long)kj - (long)padding;
          long lo = -shift, hi = (long)width - shift;
          if (lo < 0) lo = 0;
          if (hi > (long)count) hi = (long)count;
          if (hi < lo) hi = lo;
          const float *src = plane + (size_t)iy * width + shift;  // src[j] for j in [lo, hi)
          for (long j = 0; j < lo; ++j) dst[j] = 0.0f;
          for (long j = lo; j < hi; ++j) dst[j] = src[j];
          for (long j = hi; j < (long)nr; ++j) dst[j] = 0.0f;
          continue;
        }
        for (size_t j = 0; j < nr; ++j) {
          float value = 0.0f;
          if (j < count) {
            const long iy = (long)(oy[j] * stride + ki) - (long)padding;
            const long ix = (long)(ox[j] * stride + kj) - (long)padding;
            if (iy >= 0 && iy < (long)height && ix >= 0 && ix < (long)width) value = plane[(size_t)iy * width + (size_t)ix];
          }
          dst[j] = value;
        }
      }
    }
  }
}
