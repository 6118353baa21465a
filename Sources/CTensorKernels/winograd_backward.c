// The Winograd F(4x4, 3x3) transform of an output gradient, for the weight gradient of a 3x3, stride-1,
// padding-1 convolution. The forward is Y = Aᵀ [ U ⊙ V ] A per 4x4 output tile with U = G g Gᵀ and V = Bᵀ d B
// (winograd.c, whose A, B, G this file shares); its adjoint in U is ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ with
// ∂M = A ∂Y Aᵀ, and then ∂g = Gᵀ ∂U G (done by the caller).
#include "CTensorKernels.h"

/// A z for the 4-vector z (stride `step`): the rows of A are the columns of the forward's Aᵀ.
static inline void apply_a(const float *z, size_t step, float *out, size_t out_step) {
  const float z0 = z[0], z1 = z[step], z2 = z[2 * step], z3 = z[3 * step];
  out[0] = z0;
  out[out_step] = z0 + z1 + z2 + z3;
  out[2 * out_step] = z0 - z1 + z2 - z3;
  out[3 * out_step] = z0 + 2.0f * z1 + 4.0f * z2 + 8.0f * z3;
  out[4 * out_step] = z0 - 2.0f * z1 + 4.0f * z2 - 8.0f * z3;
  out[5 * out_step] = z3;
}

void bld_winograd_f4_output_gradient_f32(const float *restrict dy, size_t channels, size_t height, size_t width,
                                         size_t tile_begin, size_t tile_end, size_t channel_begin,
                                         size_t channel_end, float *restrict m, size_t point_stride) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  const size_t count = tile_end - tile_begin;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    for (size_t t = tile_begin; t < tile_end; ++t) {
      const size_t n = t / (tiles_y * tiles_x);
      const size_t ty = t % (tiles_y * tiles_x) / tiles_x, tx = t % tiles_x;
      const float *plane = dy + (n * channels + c) * height * width;
      float z[4][4];
      for (size_t i = 0; i < 4; ++i) {
        const size_t y = ty * 4 + i;
        for (size_t j = 0; j < 4; ++j) {
          const size_t x = tx * 4 + j;
          z[i][j] = y < height && x < width ? plane[y * width + x] : 0.0f;
        }
      }
      float column[6][4];  // A z, column by column
      for (int j = 0; j < 4; ++j) apply_a(&z[0][j], 4, &column[0][j], 4);
      float w[6][6];  // (A z) Aᵀ, row by row
      for (int i = 0; i < 6; ++i) apply_a(column[i], 1, w[i], 1);
      float *target = m + c * count + (t - tile_begin);
      for (int p = 0; p < 36; ++p) target[(size_t)p * point_stride] = w[p / 6][p % 6];
    }
  }
}
