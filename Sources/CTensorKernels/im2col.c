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

/// Panels unfolded together: their positions' coordinates fit on the stack, and one K block of all of them
/// (kc x nr floats each) stays in L2 while it is written.
enum { panel_chunk = 32 };

void bld_im2col_panels_f32(const bld_gemm_plan *plan, const float *restrict input, size_t channels, size_t height,
                           size_t width, size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                           size_t out_width, size_t row_begin, size_t row_end, size_t panel_begin,
                           size_t panel_end, float *restrict panels) {
  const size_t nr = plan->nr, positions = (row_end - row_begin) * out_width;
  const size_t padded = (positions + nr - 1) / nr * nr, taps = kernel_h * kernel_w;
  const size_t reduction = channels * taps, block = bld_gemm_k_block(plan, reduction);
  // Per panel position: its output row and column; whether the panel lies on one output row; its width.
  uint32_t oy[panel_chunk][32], ox[panel_chunk][32];
  size_t count[panel_chunk];
  int one_row[panel_chunk];
  for (size_t chunk = panel_begin; chunk < panel_end; chunk += panel_chunk) {
    const size_t chunk_end = panel_end - chunk < panel_chunk ? panel_end : chunk + panel_chunk;
    for (size_t q = chunk; q < chunk_end; ++q) {
      const size_t first = q * nr, p = q - chunk;
      count[p] = positions - first < nr ? positions - first : nr;
      for (size_t j = 0; j < count[p]; ++j) {
        oy[p][j] = (uint32_t)(row_begin + (first + j) / out_width);
        ox[p][j] = (uint32_t)((first + j) % out_width);
      }
      one_row[p] = oy[p][0] == oy[p][count[p] - 1];
    }
    // The reduction row l outermost: every panel of the chunk reads the same input row, so the input streams
    // through the cache once instead of each panel touching C * kh rows scattered over the whole image.
    for (size_t pc = 0; pc < reduction; pc += block) {
      const size_t kc = reduction - pc < block ? reduction - pc : block;
      for (size_t l = pc; l < pc + kc; ++l) {
        const size_t c = l / taps, tap = l % taps, ki = tap / kernel_w, kj = tap % kernel_w;
        const float *plane = input + c * height * width;
        for (size_t q = chunk; q < chunk_end; ++q) {
          const size_t p = q - chunk;
          // Panel q's kc x nr block of this K block, row l - pc.
          float *dst = panels + pc * padded + q * nr * kc + (l - pc) * nr;
          if (one_row[p]) {
            const long iy = (long)(oy[p][0] * stride + ki) - (long)padding;
            if (iy < 0 || iy >= (long)height) {
              for (size_t j = 0; j < nr; ++j) dst[j] = 0.0f;
              continue;
            }
            // Source column of position j: shift + stride * j, valid in [0, width): positions [lo, hi) read the
            // row, the rest are 0.
            const long step = (long)stride, shift = (long)(ox[p][0] * stride + kj) - (long)padding;
            long lo = shift >= 0 ? 0 : (-shift + step - 1) / step;
            long hi = shift >= (long)width ? 0 : ((long)width - 1 - shift) / step + 1;
            if (hi > (long)count[p]) hi = (long)count[p];
            if (hi < lo) hi = lo;
            const float *src = plane + (size_t)iy * width;  // position j reads src[shift + step * j]
            if (step == 1) {
              src += shift;
              // A whole interior row: a copy of constant length, inlined rather than a library call per row.
              if (lo == 0 && hi == (long)nr && (nr == 8 || nr == 16 || nr == 32)) {
                if (nr == 16) memcpy(dst, src, 16 * sizeof(float));
                else if (nr == 32) memcpy(dst, src, 32 * sizeof(float));
                else memcpy(dst, src, 8 * sizeof(float));
                continue;
              }
              for (long j = 0; j < lo; ++j) dst[j] = 0.0f;
              for (long j = lo; j < hi; ++j) dst[j] = src[j];
            } else {
              for (long j = 0; j < lo; ++j) dst[j] = 0.0f;
              for (long j = lo; j < hi; ++j) dst[j] = src[shift + step * j];
            }
            for (long j = hi; j < (long)nr; ++j) dst[j] = 0.0f;
            continue;
          }
          for (size_t j = 0; j < nr; ++j) {
            float value = 0.0f;
            if (j < count[p]) {
              const long iy = (long)(oy[p][j] * stride + ki) - (long)padding;
              const long ix = (long)(ox[p][j] * stride + kj) - (long)padding;
              if (iy >= 0 && iy < (long)height && ix >= 0 && ix < (long)width) value = plane[(size_t)iy * width + (size_t)ix];
            }
            dst[j] = value;
          }
        }
      }
    }
  }
}
