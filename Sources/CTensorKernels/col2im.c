#include "CTensorKernels.h"

void bld_col2im_accumulate_f32(const float *restrict columns, size_t channels, size_t height, size_t width,
                               size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                               size_t out_width, size_t row_begin, size_t row_end,
                               size_t channel_begin, size_t channel_end, float *restrict input) {
  (void)channels;
  const size_t tile = (row_end - row_begin) * out_width;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    float *plane = input + c * height * width;
    for (size_t ki = 0; ki < kernel_h; ++ki) {
      for (size_t kj = 0; kj < kernel_w; ++kj) {
        const float *src = columns + ((c * kernel_h + ki) * kernel_w + kj) * tile;
        for (size_t oy = row_begin; oy < row_end; ++oy) {
          const long iy = (long)(oy * stride + ki) - (long)padding;
          if (iy < 0 || iy >= (long)height) continue;
          const float *row = src + (oy - row_begin) * out_width;
          float *dst = plane + (size_t)iy * width;
          if (stride == 1) {
            long lo = (long)padding - (long)kj;
            long hi = (long)width + (long)padding - (long)kj;
            if (lo < 0) lo = 0;
            if (hi > (long)out_width) hi = (long)out_width;
            const long shift = (long)kj - (long)padding;
            for (long ox = lo; ox < hi; ++ox) dst[ox + shift] += row[ox];
          } else {
            for (size_t ox = 0; ox < out_width; ++ox) {
              const long ix = (long)(ox * stride + kj) - (long)padding;
              if (ix >= 0 && ix < (long)width) dst[ix] += row[ox];
            }
          }
        }
      }
    }
  }
}
