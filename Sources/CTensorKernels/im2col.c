#include "gemm_kernels.h"

#include <stdint.h>
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

/// Panels unfolded together: their positions' coordinates fit on the stack, and one K block of all of them
/// (kc x nr floats each) stays in L2 while it is written.
enum { panel_chunk = 32 };

/// One convolution's input and geometry, as im2col reads them.
typedef struct {
  const float *input;
  size_t channels, height, width, kernel_h, kernel_w, stride, padding, out_width;
  /// Columns of the im2col matrix: the output positions, row-major from output row 0.
  size_t positions;
} im2col_geometry;

/// Writes rows [pc, pc + kc) of panels [q_begin, q_end) (at most panel_chunk; nr positions each) of the im2col
/// matrix: panel q's kc x nr block at base + (q - q_begin) * nr * kc, zero past the last position. The reduction
/// row is the outer loop: every panel of the chunk reads the same input row, so the input streams through the
/// cache once instead of each panel touching C * kh rows scattered over the whole image.
static void unfold_chunk(const im2col_geometry *g, size_t nr, size_t q_begin, size_t q_end, size_t pc, size_t kc,
                         float *restrict base) {
  const size_t taps = g->kernel_h * g->kernel_w, height = g->height, width = g->width;
  const size_t stride = g->stride, padding = g->padding;
  // Per panel position: its output row and column; whether the panel lies on one output row; its width.
  uint32_t oy[panel_chunk][32], ox[panel_chunk][32];
  size_t count[panel_chunk];
  int one_row[panel_chunk];
  for (size_t q = q_begin; q < q_end; ++q) {
    const size_t first = q * nr, p = q - q_begin;
    count[p] = g->positions - first < nr ? g->positions - first : nr;
    for (size_t j = 0; j < count[p]; ++j) {
      oy[p][j] = (uint32_t)((first + j) / g->out_width);
      ox[p][j] = (uint32_t)((first + j) % g->out_width);
    }
    one_row[p] = oy[p][0] == oy[p][count[p] - 1];
  }
  // When the whole chunk lies on one output row, each kernel row reads one stretch of one input row: the
  // stretch two kernel rows ahead is prefetched as a kernel row starts (hundreds of streams per K block are
  // more than the hardware prefetchers follow, and the copies would otherwise wait on each line).
  const size_t last = q_end - 1 - q_begin;
  const int chunk_on_one_row = oy[0][0] == oy[last][count[last] - 1];
  const long first_column = (long)(ox[0][0] * stride) - (long)padding;
  const long end_column = (long)(ox[last][count[last] - 1] * stride + g->kernel_w) - (long)padding;
  const size_t prefetch_begin = first_column > 0 ? (size_t)first_column : 0;
  const size_t prefetch_end = end_column < (long)width ? (size_t)end_column : width;
  for (size_t l = pc; l < pc + kc; ++l) {
    const size_t c = l / taps, tap = l % taps, ki = tap / g->kernel_w, kj = tap % g->kernel_w;
    const float *plane = g->input + c * height * width;
    const size_t ahead = l + 2 * g->kernel_w;
    if (chunk_on_one_row && kj == 0 && ahead < pc + kc) {
      const size_t ahead_tap = ahead % taps;
      const long iy = (long)(oy[0][0] * stride + ahead_tap / g->kernel_w) - (long)padding;
      if (iy >= 0 && iy < (long)height) {
        const float *row = g->input + (ahead / taps) * height * width + (size_t)iy * width;
        for (size_t x = prefetch_begin; x < prefetch_end; x += 16) __builtin_prefetch(row + x, 0, 3);
      }
    }
    for (size_t q = q_begin; q < q_end; ++q) {
      const size_t p = q - q_begin;
      float *dst = base + p * nr * kc + (l - pc) * nr;
      if (one_row[p]) {
        const long iy = (long)(oy[p][0] * stride + ki) - (long)padding;
        if (iy < 0 || iy >= (long)height) {
          for (size_t j = 0; j < nr; ++j) dst[j] = 0.0f;
          continue;
        }
        // Source column of position j: shift + stride * j, valid in [0, width): positions [lo, hi) read the
        // row, the rest are 0.
        const long step = (long)stride, shift = (long)(ox[p][0] * stride + kj) - (long)padding;
        long lo, hi;
        if (step == 1) {  // no division on the common path (`div` was 8 % of the unfolding's samples in perf)
          lo = shift >= 0 ? 0 : -shift;
          hi = shift >= (long)width ? 0 : (long)width - shift;
        } else {
          lo = shift >= 0 ? 0 : (-shift + step - 1) / step;
          hi = shift >= (long)width ? 0 : ((long)width - 1 - shift) / step + 1;
        }
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

/// The B source of bld_conv_gemm_f32: unfolds one KC x NC block of the im2col matrix.
typedef struct {
  im2col_geometry geometry;
  size_t nr;
} conv_b_source;

static void unfold_block(const void *context, size_t pc, size_t kc, size_t jc, size_t nc, float *restrict out) {
  const conv_b_source *source = context;
  const size_t nr = source->nr, q_begin = jc / nr, q_end = (jc + nc + nr - 1) / nr;
  for (size_t chunk = q_begin; chunk < q_end; chunk += panel_chunk) {
    const size_t chunk_end = q_end - chunk < panel_chunk ? q_end : chunk + panel_chunk;
    unfold_chunk(&source->geometry, nr, chunk, chunk_end, pc, kc, out + (chunk - q_begin) * nr * kc);
  }
}

void bld_conv_gemm_f32(const bld_gemm_plan *plan, const float *restrict input, size_t channels, size_t height,
                       size_t width, size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                       size_t out_height, size_t out_width, size_t m, const float *packed_a, size_t row_begin,
                       size_t row_end, size_t column_begin, size_t column_end, float beta, float *c, size_t ldc,
                       float *scratch, int bf16) {
  const size_t positions = out_height * out_width, reduction = channels * kernel_h * kernel_w;
  const conv_b_source source = {
      {input, channels, height, width, kernel_h, kernel_w, stride, padding, out_width, positions}, plan->nr};
  const bld_gemm_b_source b = {unfold_block, &source};
  bld_gemm_generated_b_f32(plan, m, positions, reduction, packed_a, &b, row_begin, row_end, column_begin,
                           column_end, beta, c, (ptrdiff_t)ldc, 1, scratch, bf16);
}
