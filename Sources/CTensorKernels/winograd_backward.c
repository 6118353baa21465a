// The Winograd F(4x4, 3x3) transform of an output gradient, for the weight gradient of a 3x3, stride-1,
// padding-1 convolution. The forward is Y = Aᵀ [ U ⊙ V ] A per 4x4 output tile with U = G g Gᵀ and V = Bᵀ d B
// (winograd.c, whose A, B, G this file shares); its adjoint in U is ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ with
// ∂M = A ∂Y Aᵀ, and then ∂g = Gᵀ ∂U G (done by the caller).
#include "CTensorKernels.h"

/// Tiles per run: the consecutive tiles of one tile row transformed together.
#define RUN 64

/// The rows of A (6 x 4, the transpose of the forward's Aᵀ) applied to z0..z3.
#define APPLY_A(z0, z1, z2, z3, out, k)                    \
  do {                                                      \
    out[0][k] = z0;                                         \
    out[1][k] = z0 + z1 + z2 + z3;                          \
    out[2][k] = z0 - z1 + z2 - z3;                          \
    out[3][k] = z0 + 2.0f * z1 + 4.0f * z2 + 8.0f * z3;     \
    out[4][k] = z0 - 2.0f * z1 + 4.0f * z2 - 8.0f * z3;     \
    out[5][k] = z3;                                         \
  } while (0)

void bld_winograd_f4_output_gradient_f32(const float *restrict dy, size_t channels, size_t height, size_t width,
                                         size_t tile_begin, size_t tile_end, size_t channel_begin,
                                         size_t channel_end, float *restrict m, size_t point_stride) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  const size_t count = tile_end - tile_begin;
  const size_t whole_x = width / 4;  // tiles whose four columns are all inside the image
  float h[4][6][RUN];                // A applied along each of the tile rows' four image rows
  for (size_t c = channel_begin; c < channel_end; ++c) {
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t n = t / (tiles_y * tiles_x);
      const size_t ty = t % (tiles_y * tiles_x) / tiles_x, tx0 = t % tiles_x;
      size_t run = tiles_x - tx0;
      if (run > tile_end - t) run = tile_end - t;
      if (run > RUN) run = RUN;
      const float *plane = dy + (n * channels + c) * height * width;
      for (size_t i = 0; i < 4; ++i) {
        const size_t y = ty * 4 + i;
        if (y >= height) {
          for (int k = 0; k < 6; ++k)
            for (size_t s = 0; s < run; ++s) h[i][k][s] = 0.0f;
          continue;
        }
        const float *row = plane + y * width + tx0 * 4;
        const size_t whole = whole_x > tx0 ? (whole_x - tx0 < run ? whole_x - tx0 : run) : 0;
        float(*out)[RUN] = h[i];
        for (size_t s = 0; s < whole; ++s) {
          const float z0 = row[4 * s], z1 = row[4 * s + 1], z2 = row[4 * s + 2], z3 = row[4 * s + 3];
          APPLY_A(z0, z1, z2, z3, out, s);
        }
        for (size_t s = whole; s < run; ++s) {  // the partial last tile: zero beyond the image
          const size_t x = (tx0 + s) * 4;
          const float z0 = x < width ? row[4 * s] : 0.0f, z1 = x + 1 < width ? row[4 * s + 1] : 0.0f;
          const float z2 = x + 2 < width ? row[4 * s + 2] : 0.0f, z3 = x + 3 < width ? row[4 * s + 3] : 0.0f;
          APPLY_A(z0, z1, z2, z3, out, s);
        }
      }
      // A along the columns: point (i, k) of each tile, written as one contiguous run per point.
      float *target = m + c * count + (t - tile_begin);
      for (int k = 0; k < 6; ++k) {
        float *p0 = target + (size_t)k * point_stride, *p1 = target + (size_t)(6 + k) * point_stride;
        float *p2 = target + (size_t)(12 + k) * point_stride, *p3 = target + (size_t)(18 + k) * point_stride;
        float *p4 = target + (size_t)(24 + k) * point_stride, *p5 = target + (size_t)(30 + k) * point_stride;
        for (size_t s = 0; s < run; ++s) {
          const float z0 = h[0][k][s], z1 = h[1][k][s], z2 = h[2][k][s], z3 = h[3][k][s];
          p0[s] = z0;
          p1[s] = z0 + z1 + z2 + z3;
          p2[s] = z0 - z1 + z2 - z3;
          p3[s] = z0 + 2.0f * z1 + 4.0f * z2 + 8.0f * z3;
          p4[s] = z0 - 2.0f * z1 + 4.0f * z2 - 8.0f * z3;
          p5[s] = z3;
        }
      }
      t += run;
    }
  }
}

void bld_winograd_f4_weight_gradient_finish_f32(const float *restrict du, size_t pairs, size_t pair_begin,
                                                size_t pair_end, float *restrict dg) {
  // G (6 x 3), the forward's (winograd.c), row-major.
  static const float g[6][3] = {{1.0f / 4, 0.0f, 0.0f},         {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                {-1.0f / 6, 1.0f / 6, -1.0f / 6}, {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0.0f, 0.0f, 1.0f}};
  // Runs of consecutive pairs, so every read of ∂U is a contiguous run of one point's row and the arithmetic
  // vectorises across pairs.
  for (size_t p0 = pair_begin; p0 < pair_end; p0 += RUN) {
    const size_t n = pair_end - p0 < RUN ? pair_end - p0 : RUN;
    float half[6][3][RUN];  // ∂U G
    for (int i = 0; i < 6; ++i)
      for (int b = 0; b < 3; ++b)
        for (size_t s = 0; s < n; ++s) {
          float total = 0.0f;
          for (int k = 0; k < 6; ++k) total += du[(size_t)(i * 6 + k) * pairs + p0 + s] * g[k][b];
          half[i][b][s] = total;
        }
    float result[9][RUN];  // Gᵀ (∂U G)
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        for (size_t s = 0; s < n; ++s) {
          float total = 0.0f;
          for (int i = 0; i < 6; ++i) total += g[i][a] * half[i][b][s];
          result[a * 3 + b][s] = total;
        }
    for (size_t s = 0; s < n; ++s)
      for (int j = 0; j < 9; ++j) dg[(p0 + s) * 9 + (size_t)j] = result[j][s];
  }
}
