// The Winograd F(m x m, 3x3) transform of an output gradient (m = 4 or 6), for the weight gradient of a 3x3,
// stride-1, padding-1 convolution, and F(7x7, 2x2)'s (m = 7) for the sub-pixel form of an upsampler's
// (winograd.c's "Upsampling convolution"). The forward is Y = Aᵀ [ U ⊙ V ] A per m x m output tile with U = G g Gᵀ
// and V = Bᵀ d B (winograd.c, whose A, B, G this file shares); its adjoint in U is ∂U[ξ] = Σ_tiles ∂M[ξ] V[ξ]ᵀ
// with ∂M = A ∂Y Aᵀ, written here straight into the GEMM's packed left operand (V[ξ]ᵀ comes packed from
// winograd.c), and then ∂g = Gᵀ ∂U G (the last step, also here).
#include "CTensorKernels.h"
#include "winograd_common.h"

#include <string.h>

/// A z for m values z (A is tile_points(m) x m, the transpose of the forward's Aᵀ): tile_points(m) values.
/// F(4x4)'s rows of A are (1, 0, 0, 0) (1, 1, 1, 1) (1, -1, 1, -1) (1, 2, 4, 8) (1, -2, 4, -8) (0, 0, 0, 1);
/// F(6x6)'s and F(7x7, 2x2)'s are (1, 0, …), then the powers of 1, -1, 2, -2, 1/2 and -1/2, then (…, 0, 1).
BLD_INLINE void gradient_points(size_t m, const v16f *z, v16f *out) {
  if (m == 4) {
    out[0] = z[0];
    out[1] = z[0] + z[1] + z[2] + z[3];
    out[2] = z[0] - z[1] + z[2] - z[3];
    out[3] = z[0] + 2.0f * z[1] + 4.0f * z[2] + 8.0f * z[3];
    out[4] = z[0] - 2.0f * z[1] + 4.0f * z[2] - 8.0f * z[3];
    out[5] = z[3];
  } else {
    v16f even1 = z[0] + z[2] + z[4], even2 = z[0] + 4.0f * z[2] + 16.0f * z[4];
    v16f even3 = z[0] + 0.25f * z[2] + 0.0625f * z[4];
    if (m == 7) {  // the seventh value's powers: 1, 64, 1/64
      even1 += z[6];
      even2 += 64.0f * z[6];
      even3 += 0.015625f * z[6];
    }
    const v16f odd1 = z[1] + z[3] + z[5], odd2 = 2.0f * z[1] + 8.0f * z[3] + 32.0f * z[5];
    const v16f odd3 = 0.5f * z[1] + 0.125f * z[3] + 0.03125f * z[5];
    out[0] = z[0];
    out[1] = even1 + odd1;
    out[2] = even1 - odd1;
    out[3] = even2 + odd2;
    out[4] = even2 - odd2;
    out[5] = even3 + odd3;
    out[6] = even3 - odd3;
    out[7] = z[m - 1];
  }
}

// ∂M = A ∂Y Aᵀ of up to 16 consecutive tiles of one tile row of one channel plane (tiles tx … tx + count − 1 of
// tile row ty, zero outside the image): out[ξ] holds point ξ, tile tx + s in lane s. For F(7x7, 2x2) the image is
// phase (a, b) = (phase / 2, phase % 2) of a 2x larger `plane` (element (y, x) at plane[(2 y + a) · 2 width +
// 2 x + b]), whose tiles start a rows and b columns early, as the upsampling convolution's outputs of that phase.
BLD_INLINE void output_gradient_tiles(size_t m, const float *restrict plane, size_t height, size_t width,
                                      size_t phase, size_t ty, size_t tx, size_t count, int level, const float *next,
                                      v16f *restrict out) {
  const size_t n = tile_points(m), a = m == 7 ? phase / 2 : 0, b = m == 7 ? phase % 2 : 0;
  v16f h[7][8];  // A along each of the m image rows
  for (size_t i = 0; i < m; ++i) {
    const long y = (long)(ty * m + i) - (long)a;
    if (y < 0 || y >= (long)height) {
      for (size_t k = 0; k < n; ++k) h[i][k] = (v16f){0};
      continue;
    }
    float d[7][16] __attribute__((aligned(64)));  // element j of the row's tile segment, tile s in lane s
    if (m == 7) {
      gather_phase_row(level, 7, plane + (2 * (size_t)y + a) * 2 * width, width, (long)(tx * 7) - (long)b, b, count,
                       &d[0][0]);
      v16f z[7];
      for (size_t j = 0; j < 7; ++j) z[j] = load16(d[j]);
      gradient_points(m, z, h[i]);
      continue;
    }
    const float *row = plane + (size_t)y * width;
    if (next) prefetch_row_segment(next + y * width, (long)(tx * m), (long)((tx + count) * m), width, 0);
    if (level == 2) {
      gather_row_avx512(m, m, 0, row, width, tx, count, &d[0][0], 16);
    } else {
      for (size_t s = 0; s < count; ++s)
        for (size_t j = 0; j < m; ++j) {
          const size_t x = (tx + s) * m + j;
          d[j][s] = x < width ? row[x] : 0.0f;
        }
    }
    v16f z[7];
    for (size_t j = 0; j < m; ++j) z[j] = load16(d[j]);
    gradient_points(m, z, h[i]);
  }
  for (size_t k = 0; k < n; ++k) {  // A along the columns: points (·, k)
    v16f z[7], column[8];
    for (size_t i = 0; i < m; ++i) z[i] = h[i][k];
    gradient_points(m, z, column);
    for (size_t i = 0; i < n; ++i) out[i * n + k] = column[i];
  }
}

// ∂M[ξ] of the block's tiles for the channel groups [group_begin, group_end) of the output gradient (a group is
// the whole MR-row panels that fit 16 lanes), written as the packed left operand of ∂U[ξ] = ∂M[ξ] · V[ξ]ᵀ (M =
// the output channels in MR-row panels, K = the block's tiles): as bld_winograd_input_transposed_packed_f32, a
// 16 x 16 transpose per point gives each tile's channels. A panel's rows for consecutive tiles are consecutive
// floats, so a tile's first panel is one 16-float store whose lanes past MR land on the next tile's rows, which
// are written next; the last tile rows of a K block, and further panels, are copied exactly.
// With `bias`, each channel's sum over the block's tiles of ∂M at the point (1, 1), the sum of the tile's ∂Y (column
// 1 of Aᵀ is all ones), is added to bias[o]: the bias gradient without a pass of its own over ∂Y. For F(7x7, 2x2)
// the channels are the upsampling convolution's product rows: channel 4 o + p is phase p of dy's channel o
// (output_gradient_tiles), and bias[4 o + p] gets that phase's sum.
BLD_INLINE void output_gradient_packed_body(size_t m, size_t MR, size_t KC, const float *restrict dy,
                                            size_t channels, size_t dy_channels, size_t height, size_t width,
                                            size_t tile_begin, size_t tile_end, size_t group_begin, size_t group_end,
                                            float *restrict a, size_t point_stride, double *restrict bias,
                                            v16f (*restrict buffer)[RUN / 16][MAX_POINTS], int level) {
  const size_t points = tile_points(m) * tile_points(m), group_channels = 16 / MR * MR;
  const size_t tiles_y = tiles_along(m, height), tiles_x = tiles_along(m, width);
  const size_t block = tile_end - tile_begin, padded = (channels + MR - 1) / MR * MR;
  for (size_t group = group_begin; group < group_end; ++group) {
    const size_t o0 = group * group_channels;
    if (o0 >= channels) break;
    const size_t lanes = channels - o0 < group_channels ? channels - o0 : group_channels;
    size_t t = tile_begin;
    while (t < tile_end) {
      const tile_run run = run_at(t, tile_end, tiles_x, tiles_y);
      const size_t tx = run.tx, ty = run.ty, image = run.image, count = run.count;
      // Channel by channel along the run (long row streams), then 16 tiles at a time.
      for (size_t c = 0; c < lanes; ++c)
        for (size_t s0 = 0; s0 < count; s0 += 16) {
          if (m == 7) {
            const size_t channel = o0 + c;
            output_gradient_tiles(m, dy + (image * dy_channels + channel / 4) * 4 * height * width, height, width,
                                  channel % 4, ty, tx + s0, count - s0 < 16 ? count - s0 : 16, level, NULL,
                                  buffer[c][s0 / 16]);
            continue;
          }
          output_gradient_tiles(m, dy + (image * dy_channels + o0 + c) * height * width, height, width, 0, ty,
                                tx + s0, count - s0 < 16 ? count - s0 : 16, level,
                                c + 1 < lanes ? dy + (image * dy_channels + o0 + c + 1) * height * width : NULL,
                                buffer[c][s0 / 16]);
        }
      for (size_t c = 0; c < lanes && bias; ++c) {
        double total = 0.0;
        for (size_t s0 = 0; s0 < count; s0 += 16) {
          float values[16];
          store16(values, buffer[c][s0 / 16][tile_points(m) + 1]);
          for (size_t s = 0; s < count - s0 && s < 16; ++s) total += values[s];
        }
        bias[o0 + c] += total;
      }
      for (size_t s0 = 0; s0 < count; s0 += 16) {
        const size_t tiles = count - s0 < 16 ? count - s0 : 16;
        size_t offset[16], depth[16];  // tile s0 + s's row in the group's first panel, and its K block's depth
        int spills_inside[16];         // whether a 16-float store there stays inside that panel's K block
        for (size_t s = 0; s < tiles; ++s) {
          const size_t l = t - tile_begin + s0 + s, pc = l / KC * KC;
          depth[s] = block - pc < KC ? block - pc : KC;
          offset[s] = pc * padded + o0 * depth[s] + (l - pc) * MR;
          spills_inside[s] = (l - pc) * MR + 16 <= depth[s] * MR;
        }
        for (size_t p = 0; p < points; ++p) {
          v16f r[16];
          // r[s]: tile s0 + s, the group's output channels (lanes past `lanes` unused)
          transposed_point(buffer, s0 / 16, p, r);
          float *matrix = a + p * point_stride;
          for (size_t s = 0; s < tiles; ++s) {
            if (spills_inside[s] && lanes <= MR) {
              store16(matrix + offset[s], r[s]);
              continue;
            }
            float values[16];
            store16(values, r[s]);
            for (size_t first = 0; first < lanes; first += MR) {
              float *target = matrix + offset[s] + first * depth[s];
              const size_t rows = lanes - first < MR ? lanes - first : MR;
              for (size_t j = 0; j < rows; ++j) target[j] = values[first + j];
            }
          }
        }
      }
      t += count;
    }
  }
}

#define OUTPUT_GRADIENT_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                           \
  ATTRIBUTE static void NAME(size_t m, size_t mr, size_t kc, const float *restrict dy, size_t channels,            \
                             size_t dy_channels, size_t height, size_t width, size_t tile_begin, size_t tile_end,  \
                             size_t group_begin,                                                                   \
                             size_t group_end, float *restrict a, size_t point_stride, double *restrict bias,      \
                             v16f (*restrict buffer)[RUN / 16][MAX_POINTS]) {                                      \
    if (m == 4)                                                                                                    \
      output_gradient_packed_body(4, mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,   \
                                  group_begin, group_end, a, point_stride, bias, buffer, LEVEL);                   \
    else if (m == 7)                                                                                               \
      output_gradient_packed_body(7, mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,   \
                                  group_begin, group_end, a, point_stride, bias, buffer, LEVEL);                   \
    else                                                                                                           \
      output_gradient_packed_body(6, mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,   \
                                  group_begin, group_end, a, point_stride, bias, buffer, LEVEL);                   \
  }

OUTPUT_GRADIENT_VARIANT(output_gradient_default, , 0)
OUTPUT_GRADIENT_VARIANT(output_gradient_avx2, BLD_AVX2, 1)
OUTPUT_GRADIENT_VARIANT(output_gradient_avx512, BLD_AVX512, 2)

size_t bld_winograd_output_gradient_group_channels(const bld_gemm_plan *plan) { return 16 / plan->mr * plan->mr; }

void bld_winograd_output_gradient_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict dy,
                                             size_t channels, size_t dy_channels, size_t height, size_t width,
                                             size_t tile_begin, size_t tile_end, size_t group_begin, size_t group_end,
                                             float *restrict a, size_t point_stride, double *restrict bias,
                                             float *restrict scratch) {
  const int level = bld_simd_level();
  const size_t kc = bld_gemm_k_block(plan, tile_end - tile_begin);
  v16f(*buffer)[RUN / 16][MAX_POINTS] = (v16f(*)[RUN / 16][MAX_POINTS])scratch;
  if (level >= 2)
    output_gradient_avx512(tile, plan->mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,
                           group_begin, group_end, a, point_stride, bias, buffer);
  else if (level == 1)
    output_gradient_avx2(tile, plan->mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,
                         group_begin, group_end, a, point_stride, bias, buffer);
  else
    output_gradient_default(tile, plan->mr, kc, dy, channels, dy_channels, height, width, tile_begin, tile_end,
                            group_begin, group_end, a, point_stride, bias, buffer);
}

// r x r taps per pair from G (n x r, rows 3 floats apart): r = 3, or 2 for F(7x7, 2x2).
BLD_INLINE void finish_body(size_t m, const float (*g)[3], const float *restrict du, size_t pairs, size_t pair_begin,
                            size_t pair_end, float *restrict dg) {
  const size_t n = tile_points(m), r = m == 7 ? 2 : 3;
  // Runs of consecutive pairs, so every read of ∂U is a contiguous run of one point's row and the arithmetic
  // vectorises across pairs.
  for (size_t p0 = pair_begin; p0 < pair_end; p0 += RUN) {
    const size_t count = pair_end - p0 < RUN ? pair_end - p0 : RUN;
    float half[8][3][RUN];  // ∂U G
    for (size_t i = 0; i < n; ++i)
      for (size_t b = 0; b < r; ++b)
        for (size_t s = 0; s < count; ++s) {
          float total = 0.0f;
          for (size_t k = 0; k < n; ++k) total += du[(i * n + k) * pairs + p0 + s] * g[k][b];
          half[i][b][s] = total;
        }
    float result[9][RUN];  // Gᵀ (∂U G)
    for (size_t a = 0; a < r; ++a)
      for (size_t b = 0; b < r; ++b)
        for (size_t s = 0; s < count; ++s) {
          float total = 0.0f;
          for (size_t i = 0; i < n; ++i) total += g[i][a] * half[i][b][s];
          result[a * r + b][s] = total;
        }
    for (size_t s = 0; s < count; ++s)
      for (size_t j = 0; j < r * r; ++j) dg[(p0 + s) * r * r + j] = result[j][s];
  }
}

void bld_winograd_weight_gradient_finish_f32(size_t tile, const float *restrict du, size_t pairs, size_t pair_begin,
                                             size_t pair_end, float *restrict dg) {
  // G (tile_points(m) x 3, or x 2 for F(7x7, 2x2)), the forward's (winograd.c), row-major.
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
  static const float g7[8][3] = {{1.0f, 0.0f},          {-2.0f / 9, -2.0f / 9},   {-2.0f / 9, 2.0f / 9},
                                 {1.0f / 90, 1.0f / 45}, {1.0f / 90, -1.0f / 45},  {32.0f / 45, 16.0f / 45},
                                 {32.0f / 45, -16.0f / 45}, {0.0f, 1.0f}};
  if (tile == 4)
    finish_body(4, g4, du, pairs, pair_begin, pair_end, dg);
  else if (tile == 7)
    finish_body(7, g7, du, pairs, pair_begin, pair_end, dg);
  else
    finish_body(6, g6, du, pairs, pair_begin, pair_end, dg);
}
