// The Winograd F(m x m, 3x3) transform of an output gradient (m = 4 or 6), for the weight gradient of a 3x3,
// stride-1, padding-1 convolution. The forward is Y = Aᵀ [ U ⊙ V ] A per m x m output tile with U = G g Gᵀ
// and V = Bᵀ d B (winograd.c, whose A, B, G this file shares); its adjoint in U is ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ
// with ∂M = A ∂Y Aᵀ, and then ∂g = Gᵀ ∂U G (done by the caller).
#include "CTensorKernels.h"

/// Tiles per run: the consecutive tiles of one tile row transformed together.
#define RUN 64

/// A z (A is (m + 2) x m, the transpose of the forward's Aᵀ) for the m values z[0], z[stride], …: m + 2 values
/// out[0], out[out_stride], …. F(6x6)'s rows of A are (1, 0, …), (1, 1, 1, …), (1, -1, 1, …), powers of 2,
/// of -2, of 1/2, of -1/2, and (…, 0, 1).
static inline __attribute__((always_inline)) void apply_a(size_t m, const float *z, size_t stride, float *out,
                                                          size_t out_stride) {
  if (m == 4) {
    const float z0 = z[0], z1 = z[stride], z2 = z[2 * stride], z3 = z[3 * stride];
    out[0] = z0;
    out[out_stride] = z0 + z1 + z2 + z3;
    out[2 * out_stride] = z0 - z1 + z2 - z3;
    out[3 * out_stride] = z0 + 2.0f * z1 + 4.0f * z2 + 8.0f * z3;
    out[4 * out_stride] = z0 - 2.0f * z1 + 4.0f * z2 - 8.0f * z3;
    out[5 * out_stride] = z3;
  } else {
    const float z0 = z[0], z1 = z[stride], z2 = z[2 * stride], z3 = z[3 * stride], z4 = z[4 * stride],
                z5 = z[5 * stride];
    const float even1 = z0 + z2 + z4, odd1 = z1 + z3 + z5;
    const float even2 = z0 + 4.0f * z2 + 16.0f * z4, odd2 = 2.0f * z1 + 8.0f * z3 + 32.0f * z5;
    const float even3 = z0 + 0.25f * z2 + 0.0625f * z4, odd3 = 0.5f * z1 + 0.125f * z3 + 0.03125f * z5;
    out[0] = z0;
    out[out_stride] = even1 + odd1;
    out[2 * out_stride] = even1 - odd1;
    out[3 * out_stride] = even2 + odd2;
    out[4 * out_stride] = even2 - odd2;
    out[5 * out_stride] = even3 + odd3;
    out[6 * out_stride] = even3 - odd3;
    out[7 * out_stride] = z5;
  }
}

static inline __attribute__((always_inline)) void output_gradient_body(
    size_t m, const float *restrict dy, size_t channels, size_t height, size_t width, size_t tile_begin,
    size_t tile_end, size_t channel_begin, size_t channel_end, float *restrict matrices, size_t point_stride) {
  const size_t n = m + 2;
  const size_t tiles_y = (height + m - 1) / m, tiles_x = (width + m - 1) / m;
  const size_t count = tile_end - tile_begin;
  const size_t whole_x = width / m;  // tiles whose m columns are all inside the image
  float h[6][8][RUN];                // A applied along each of the tile rows' m image rows
  for (size_t c = channel_begin; c < channel_end; ++c) {
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t image = t / (tiles_y * tiles_x);
      const size_t ty = t % (tiles_y * tiles_x) / tiles_x, tx0 = t % tiles_x;
      size_t run = tiles_x - tx0;
      if (run > tile_end - t) run = tile_end - t;
      if (run > RUN) run = RUN;
      const float *plane = dy + (image * channels + c) * height * width;
      for (size_t i = 0; i < m; ++i) {
        const size_t y = ty * m + i;
        if (y >= height) {
          for (size_t k = 0; k < n; ++k)
            for (size_t s = 0; s < run; ++s) h[i][k][s] = 0.0f;
          continue;
        }
        const float *row = plane + y * width + tx0 * m;
        const size_t whole = whole_x > tx0 ? (whole_x - tx0 < run ? whole_x - tx0 : run) : 0;
        for (size_t s = 0; s < whole; ++s) apply_a(m, row + m * s, 1, &h[i][0][s], RUN);
        for (size_t s = whole; s < run; ++s) {  // the partial last tile: zero beyond the image
          const size_t x = (tx0 + s) * m;
          float z[6];
          for (size_t j = 0; j < m; ++j) z[j] = x + j < width ? row[m * s + j] : 0.0f;
          apply_a(m, z, 1, &h[i][0][s], RUN);
        }
      }
      // A along the columns: point (i, k) of each tile, written as one contiguous run per point.
      float *target = matrices + c * count + (t - tile_begin);
      for (size_t k = 0; k < n; ++k)
        for (size_t s = 0; s < run; ++s) apply_a(m, &h[0][k][s], 8 * RUN, target + k * point_stride + s, n * point_stride);
      t += run;
    }
  }
}

void bld_winograd_output_gradient_f32(size_t tile, const float *restrict dy, size_t channels, size_t height,
                                      size_t width, size_t tile_begin, size_t tile_end, size_t channel_begin,
                                      size_t channel_end, float *restrict m, size_t point_stride) {
  if (tile == 4)
    output_gradient_body(4, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, m,
                         point_stride);
  else
    output_gradient_body(6, dy, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, m,
                         point_stride);
}

static inline __attribute__((always_inline)) void finish_body(size_t m, const float (*g)[3], const float *restrict du,
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
