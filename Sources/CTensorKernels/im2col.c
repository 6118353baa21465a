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
