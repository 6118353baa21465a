// The Winograd F(m x m, 3x3) transform of an output gradient (m = 4 or 6), for the weight gradient of a 3x3,
// stride-1, padding-1 convolution. The forward is Y = Aᵀ [ U ⊙ V ] A per m x m output tile with U = G g Gᵀ
// and V = Bᵀ d B (winograd.c, whose A, B, G this file shares); its adjoint in U is ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ
// with ∂M = A ∂Y Aᵀ, and then ∂g = Gᵀ ∂U G (done by the caller).
#include "CTensorKernels.h"
#include "winograd_common.h"

#include <string.h>

/// A z for m values z (A is (m + 2) x m, the transpose of the forward's Aᵀ): m + 2 values. F(4x4)'s rows of A
/// are (1, 0, 0, 0) (1, 1, 1, 1) (1, -1, 1, -1) (1, 2, 4, 8) (1, -2, 4, -8) (0, 0, 0, 1); F(6x6)'s are
/// (1, 0, …), then the powers of 1, -1, 2, -2, 1/2 and -1/2, then (…, 0, 1).
BLD_INLINE void gradient_points(size_t m, const v16f *z, v16f *out) {
  if (m == 4) {
    out[0] = z[0];
    out[1] = z[0] + z[1] + z[2] + z[3];
    out[2] = z[0] - z[1] + z[2] - z[3];
    out[3] = z[0] + 2.0f * z[1] + 4.0f * z[2] + 8.0f * z[3];
    out[4] = z[0] - 2.0f * z[1] + 4.0f * z[2] - 8.0f * z[3];
    out[5] = z[3];
  } else {
    const v16f even1 = z[0] + z[2] + z[4], odd1 = z[1] + z[3] + z[5];
    const v16f even2 = z[0] + 4.0f * z[2] + 16.0f * z[4], odd2 = 2.0f * z[1] + 8.0f * z[3] + 32.0f * z[5];
    const v16f even3 = z[0] + 0.25f * z[2] + 0.0625f * z[4], odd3 = 0.5f * z[1] + 0.125f * z[3] + 0.03125f * z[5];
    out[0] = z[0];
    out[1] = even1 + odd1;
    out[2] = even1 - odd1;
    out[3] = even2 + odd2;
    out[4] = even2 - odd2;
    out[5] = even3 + odd3;
    out[6] = even3 - odd3;
    out[7] = z[5];
  }
}

// ∂M = A ∂Y Aᵀ of `count` tiles of one tile row of one channel, written as one contiguous row segment per
// point (target at the segment's start in point 0's matrix).
BLD_INLINE void output_gradient_run(size_t m, const float *restrict plane, size_t height, size_t width, size_t ty,
                                    size_t tx0, size_t count, float *restrict target, size_t point_stride,
                                    int level) {
  const size_t n = m + 2;
  float d[36][RUN + 16];  // element (i, j) of every tile's m x m block, zero outside the image
  for (size_t i = 0; i < m; ++i) {
    const size_t y = ty * m + i;
    if (y >= height) {
      for (size_t j = 0; j < m; ++j) memset(d[i * m + j], 0, count * sizeof(float));
      continue;
    }
    const float *row = plane + y * width;
    if (level == 2) {
      gather_row_avx512(m, m, 0, row, width, tx0, count, d + i * m);
      continue;
    }
    for (size_t s = 0; s < count; ++s)
      for (size_t j = 0; j < m; ++j) {
        const size_t x = (tx0 + s) * m + j;
        d[i * m + j][s] = x < width ? row[x] : 0.0f;
      }
  }
  // 16 tiles per step as one vector; lanes past `count` are never copied out.
  float o[MAX_POINTS][RUN + 16];
  for (size_t s = 0; s < count; s += 16) {
    v16f h[6][8];  // A along each of the m image rows
    for (size_t i = 0; i < m; ++i) {
      v16f z[6];
      for (size_t j = 0; j < m; ++j) z[j] = load16(&d[i * m + j][s]);
      gradient_points(m, z, h[i]);
    }
    for (size_t k = 0; k < n; ++k) {  // A along the columns: points (·, k)
      v16f z[6], out[8];
      for (size_t i = 0; i < m; ++i) z[i] = h[i][k];
      gradient_points(m, z, out);
      for (size_t i = 0; i < n; ++i) store16(&o[i * n + k][s], out[i]);
    }
  }
  for (size_t p = 0; p < n * n; ++p) memcpy(target + p * point_stride, o[p], count * sizeof(float));
}

BLD_INLINE void output_gradient_body(size_t m, const float *restrict dy, size_t channels, size_t height,
                                     size_t width, size_t tile_begin, size_t tile_end, size_t channel_begin,
                                     size_t channel_end, float *restrict matrices, size_t point_stride, int level) {
  const size_t tiles_y = (height + m - 1) / m, tiles_x = (width + m - 1) / m;
  const size_t block = tile_end - tile_begin;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t tx = t % tiles_x, row = t / tiles_x, ty = row % tiles_y, image = row / tiles_y;
      size_t count = tiles_x - tx;
      if (count > tile_end - t) count = tile_end - t;
      if (count > RUN) count = RUN;
      const float *plane = dy + (image * channels + c) * height * width;
      output_gradient_run(m, plane, height, width, ty, tx, count, matrices + c * block + (t - tile_begin),
                          point_stride, level);
      t += count;
    }
  }
}

#define OUTPUT_GRADIENT_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                           \
  ATTRIBUTE static void NAME(size_t m, const float *restrict dy, size_t channels, size_t height, size_t width,     \
                             size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,         \
                             float *restrict matrices, size_t point_stride) {                                      \
    if (m == 4)                                                                                                    \
      output_gradient_body(4, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end,       \
                           matrices, point_stride, LEVEL);                                                         \
    else                                                                                                           \
      output_gradient_body(6, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end,       \
                           matrices, point_stride, LEVEL);                                                         \
  }

OUTPUT_GRADIENT_VARIANT(output_gradient_default, , 0)
OUTPUT_GRADIENT_VARIANT(output_gradient_avx2, BLD_AVX2, 1)
OUTPUT_GRADIENT_VARIANT(output_gradient_avx512, BLD_AVX512, 2)

void bld_winograd_output_gradient_f32(size_t tile, const float *restrict dy, size_t channels, size_t height,
                                      size_t width, size_t tile_begin, size_t tile_end, size_t channel_begin,
                                      size_t channel_end, float *restrict m, size_t point_stride) {
  const int level = bld_simd_level();
  if (level >= 2)
    output_gradient_avx512(tile, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, m,
                           point_stride);
  else if (level == 1)
    output_gradient_avx2(tile, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, m,
                         point_stride);
  else
    output_gradient_default(tile, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, m,
                            point_stride);
}

BLD_INLINE void finish_body(size_t m, const float (*g)[3], const float *restrict du,
                                                              size_t pairs, size_t pair_begin, size_t pair_end,
                                                              float *restrict dg) {
  const size_t n = m + 2;
  // Runs of consecutive pairs, so every read of ∂U is a contiguous run of one point's row and the arithmetic
  // vectorises across pairs.
  for (size_t p0 = pair_begin; p0 < pair_end; p0 += RUN) {
    const size_t count = pair_end - p0 < RUN ? pair_end - p0 : RUN;
    float half[8][3][RUN];  // ∂U G
    for (size_t i = 0; i < n; ++i)
      for (int b = 0; b < 3; ++b)
        for (size_t s = 0; s < count; ++s) {
          float total = 0.0f;
          for (size_t k = 0; k < n; ++k) total += du[(i * n + k) * pairs + p0 + s] * g[k][b];
          half[i][b][s] = total;
        }
    float result[9][RUN];  // Gᵀ (∂U G)
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        for (size_t s = 0; s < count; ++s) {
          float total = 0.0f;
          for (size_t i = 0; i < n; ++i) total += g[i][a] * half[i][b][s];
          result[a * 3 + b][s] = total;
        }
    for (size_t s = 0; s < count; ++s)
      for (int j = 0; j < 9; ++j) dg[(p0 + s) * 9 + (size_t)j] = result[j][s];
  }
}

void bld_winograd_weight_gradient_finish_f32(size_t tile, const float *restrict du, size_t pairs, size_t pair_begin,
                                             size_t pair_end, float *restrict dg) {
  // G ((m + 2) x 3), the forward's (winograd.c), row-major.
  static const float g4[6][3] = {{1.0f / 4, 0.0f, 0.0f},         {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                 {-1.0f / 6, 1.0f / 6, -1.0f / 6}, {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                 {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0.0f, 0.0f, 1.0f}};
  static const float g6[8][3] = {{1.0f, 0.0f, 0.0f},
                                 {-2.0f / 9, -2.0f / 9, -2.0f / 9},
                                 {-2.0f / 9, 2.0f / 9, -2.0f / 9},
                                 {1.0f / 90, 1.0f / 45, 2.0f / 45},
                                 {1.0f / 90, -1.0f / 45, 2.0f / 45},
                                 {32.0f / 45, 16.0f / 45, 8.0f / 45},
                                 {32.0f / 45, -16.0f / 45, 8.0f / 45},
                                 {0.0f, 0.0f, 1.0f}};
  if (tile == 4)
    finish_body(4, g4, du, pairs, pair_begin, pair_end, dg);
  else
    finish_body(6, g6, du, pairs, pair_begin, pair_end, dg);
}
