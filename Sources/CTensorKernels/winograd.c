// Winograd F(m x m, 3x3) transforms, m = 4 or 6, for 3x3, stride-1, padding-1 convolutions (Lavin & Gray
// 2015), and F(7x7, 2x2) (m = 7) for the sub-pixel form of an upsampler's convolution ("Upsampling convolution"
// below).
//
// Each m x m output tile is computed from an n x n input tile (n = m + 2, or 8 for F(7x7, 2x2): tile_points):
// Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A.
// The n² element-wise products summed over input channels are n² independent GEMMs, done by the caller:
//   M[ξ] (O x T) = U[ξ] (O x C) · V[ξ] (C x T),  ξ in [0, n²), T tiles of the current block.
// F(4x4, 3x3) has 36 points and 2.25 multiplies per output; F(6x6, 3x3) has 64 points and 1.78 (21 % fewer),
// with the points 0, ±1, ±2, ±1/2 (NNPACK's) and a transform rounding of the same order (≈ 1e-5 relative).
// Tiles are numbered t = (n * tiles_y + ty) * tiles_x + tx over the whole batch. Transforms work on runs of
// up to RUN consecutive tiles of one tile row, laid out so the per-tile arithmetic vectorises across tiles.
// Every kernel is one always-inline body taking the tile size as a constant, compiled three times (default
// target, AVX2 + FMA, AVX-512) and chosen by bld_simd_level().
#include "CTensorKernels.h"
#include "winograd_common.h"

#include <string.h>

// MARK: - One-dimensional transforms (m = 4, 6 or 7, a constant after inlining)

/// G g for the taps g (three, or two for F(7x7, 2x2)): tile_points(m) values. F(4x4): G's rows are (1/4, 0, 0)
/// (-1/6, -1/6, -1/6) (-1/6, 1/6, -1/6) (1/24, 1/12, 1/6) (1/24, -1/12, 1/6) (0, 0, 1); F(6x6): (1, 0, 0)
/// (-2/9, -2/9, -2/9) (-2/9, 2/9, -2/9) (1/90, 1/45, 2/45) (1/90, -1/45, 2/45) (32/45, 16/45, 8/45)
/// (32/45, -16/45, 8/45) (0, 0, 1): the points 0, ±1, ±2, ±1/2 and ∞, each row f (1, p, p²) with f the point's
/// factor. F(7x7, 2x2) has the same points and factors, rows f (1, p), and (0, 1) at ∞.
BLD_INLINE void weight_points(size_t m, const v16f *g, v16f *u) {
  if (m == 7) {
    const v16f g0 = g[0], g1 = g[1];
    const float n = 2.0f / 9, a = 1.0f / 90, b = 1.0f / 45, d = 32.0f / 45, f = 16.0f / 45;
    u[0] = g0;
    u[1] = -n * (g0 + g1);
    u[2] = -n * (g0 - g1);
    u[3] = a * g0 + b * g1;
    u[4] = a * g0 - b * g1;
    u[5] = d * g0 + f * g1;
    u[6] = d * g0 - f * g1;
    u[7] = g1;
    return;
  }
  const v16f g0 = g[0], g1 = g[1], g2 = g[2];
  if (m == 4) {
    const float q = 1.0f / 4, s = 1.0f / 6, t = 1.0f / 12, e = 1.0f / 24;
    u[0] = q * g0;
    u[1] = -s * (g0 + g1 + g2);
    u[2] = -s * (g0 - g1 + g2);
    u[3] = e * g0 + t * g1 + s * g2;
    u[4] = e * g0 - t * g1 + s * g2;
    u[5] = g2;
  } else {
    const float n = 2.0f / 9, a = 1.0f / 90, b = 1.0f / 45, c = 2.0f / 45;
    const float d = 32.0f / 45, f = 16.0f / 45, h = 8.0f / 45;
    u[0] = g0;
    u[1] = -n * (g0 + g1 + g2);
    u[2] = -n * (g0 - g1 + g2);
    u[3] = a * g0 + b * g1 + c * g2;
    u[4] = a * g0 - b * g1 + c * g2;
    u[5] = d * g0 + f * g1 + h * g2;
    u[6] = d * g0 - f * g1 + h * g2;
    u[7] = g2;
  }
}

/// Bᵀ d for tile_points(m) values d (F(7x7, 2x2) shares F(6x6)'s). F(4x4): Bᵀ's rows are (4, 0, -5, 0, 1, 0)
/// (0, -4, -4, 1, 1, 0) (0, 4, -4, -1, 1, 0) (0, -2, -1, 2, 1, 0) (0, 2, -1, -2, 1, 0) (0, 4, 0, -5, 0, 1); F(6x6): (1, 0, -21/4, 0, 21/4, 0, -1, 0)
/// (0, 1, 1, -17/4, -17/4, 1, 1, 0) (0, -1, 1, 17/4, -17/4, -1, 1, 0) (0, 1/2, 1/4, -5/2, -5/4, 2, 1, 0)
/// (0, -1/2, 1/4, 5/2, -5/4, -2, 1, 0) (0, 2, 4, -5/2, -5, 1/2, 1, 0) (0, -2, 4, 5/2, -5, -1/2, 1, 0)
/// (0, -1, 0, 21/4, 0, -21/4, 0, 1), evaluated as NNPACK does (shared sums, then their sum and difference).
BLD_INLINE void input_points(size_t m, const v16f *d, v16f *t) {
  if (m == 4) {
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
    t[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
    t[3] = 2.0f * (d[3] - d[1]) - d[2] + d[4];
    t[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
  } else {
    t[0] = d[0] - d[6] + 5.25f * (d[4] - d[2]);
    t[7] = d[7] - d[1] + 5.25f * (d[3] - d[5]);
    v16f a = d[2] + d[6] - 4.25f * d[4], b = d[1] + d[5] - 4.25f * d[3];
    t[1] = a + b;
    t[2] = a - b;
    a = 0.25f * d[2] - 1.25f * d[4] + d[6];
    b = 0.5f * d[1] - 2.5f * d[3] + 2.0f * d[5];
    t[3] = a + b;
    t[4] = a - b;
    a = 4.0f * d[2] - 5.0f * d[4] + d[6];
    b = 2.0f * d[1] - 2.5f * d[3] + 0.5f * d[5];
    t[5] = a + b;
    t[6] = a - b;
  }
}

/// Aᵀ x for tile_points(m) values x: m values. F(4x4): Aᵀ's rows are (1, 1, 1, 1, 1, 0) (0, 1, -1, 2, -2, 0)
/// (0, 1, 1, 4, 4, 0) (0, 1, -1, 8, -8, 1); F(6x6) and F(7x7, 2x2): row i is (0^i, 1, (-1)^i, 2^i, (-2)^i, 2^-i,
/// (-2)^-i, [i = m - 1]).
BLD_INLINE void output_points(size_t m, const v16f *x, v16f *y) {
  if (m == 4) {
    const v16f a = x[1] + x[2], b = x[1] - x[2], c = x[3] + x[4], d = x[3] - x[4];
    y[0] = x[0] + a + c;
    y[1] = b + 2.0f * d;
    y[2] = a + 4.0f * c;
    y[3] = b + 8.0f * d + x[5];
  } else {
    const v16f a1 = x[1] + x[2], b1 = x[1] - x[2], a2 = x[3] + x[4], b2 = x[3] - x[4];
    const v16f a3 = x[5] + x[6], b3 = x[5] - x[6];
    y[0] = x[0] + a1 + a2 + a3;
    y[1] = b1 + 2.0f * b2 + 0.5f * b3;
    y[2] = a1 + 4.0f * a2 + 0.25f * a3;
    y[3] = b1 + 8.0f * b2 + 0.125f * b3;
    y[4] = a1 + 16.0f * a2 + 0.0625f * a3;
    y[5] = b1 + 32.0f * b2 + 0.03125f * b3;
    if (m == 6)
      y[5] += x[7];
    else
      y[6] = a1 + 64.0f * a2 + 0.015625f * a3 + x[7];
  }
}

// MARK: - Weight transform

// U = G g Gᵀ of F(4x4) for 16 input channels at a time (vectorised across channels, fp32 arithmetic: the
// transform's rounding, ~1e-7 relative, is far below Winograd's own ~1e-5), for the OpenBLAS path. Each
// point's 16 results are one contiguous store, so the 36 output streams are written in whole cache lines.
BLD_INLINE void weights_body(const float *restrict weight, size_t out_channels, size_t in_channels, size_t o_begin,
                             size_t o_end, float *restrict u) {
  for (size_t o = o_begin; o < o_end; ++o) {
    for (size_t c0 = 0; c0 < in_channels; c0 += 16) {
      const size_t count = in_channels - c0 < 16 ? in_channels - c0 : 16;
      float staged[9][16];
      for (size_t l = 0; l < 16; ++l) {
        const float *w = weight + (o * in_channels + c0 + (l < count ? l : 0)) * 9;
        for (int k = 0; k < 9; ++k) staged[k][l] = w[k];
      }
      v16f columns[3][6];  // G g, one column of g at a time
      for (int c = 0; c < 3; ++c) {
        const v16f taps[3] = {load16(staged[c]), load16(staged[3 + c]), load16(staged[6 + c])};
        weight_points(4, taps, columns[c]);
      }
      for (int r = 0; r < 6; ++r) {
        const v16f taps[3] = {columns[0][r], columns[1][r], columns[2][r]};
        v16f value[6];
        weight_points(4, taps, value);
        for (int c = 0; c < 6; ++c) {
          float *destination = u + ((size_t)(r * 6 + c) * out_channels + o) * in_channels + c0;
          if (count == 16) {
            store16(destination, value[c]);
          } else {
            float lanes[16];
            store16(lanes, value[c]);
            for (size_t l = 0; l < count; ++l) destination[l] = lanes[l];
          }
        }
      }
    }
  }
}

static void weights_default(const float *restrict weight, size_t out_channels, size_t in_channels, size_t o_begin,
                            size_t o_end, float *restrict u) {
  weights_body(weight, out_channels, in_channels, o_begin, o_end, u);
}

BLD_AVX2 static void weights_avx2(const float *restrict weight, size_t out_channels, size_t in_channels,
                                  size_t o_begin, size_t o_end, float *restrict u) {
  weights_body(weight, out_channels, in_channels, o_begin, o_end, u);
}

BLD_AVX512 static void weights_avx512(const float *restrict weight, size_t out_channels, size_t in_channels,
                                      size_t o_begin, size_t o_end, float *restrict u) {
  weights_body(weight, out_channels, in_channels, o_begin, o_end, u);
}

void bld_winograd_f4_weights_f32(const float *restrict weight, size_t out_channels, size_t in_channels,
                                 size_t o_begin, size_t o_end, float *restrict u) {
  const int level = bld_simd_level();
  if (level >= 2)
    weights_avx512(weight, out_channels, in_channels, o_begin, o_end, u);
  else if (level == 1)
    weights_avx2(weight, out_channels, in_channels, o_begin, o_end, u);
  else
    weights_default(weight, out_channels, in_channels, o_begin, o_end, u);
}

// U = G g Gᵀ written straight into the packed GEMM layout of bld_gemm_pack_a_f32 (one O x C matrix per
// point, `point_stride` floats apart), vectorised across the MR (≤ 16) output channels of one row panel: each
// (point, channel) stores MR contiguous floats. Rows past O are zero (the panel padding). `weight` holds the
// rows from output channel `first_row` on: r x r taps per (output, input) channel pair, r = 3, or 2 for F(7x7, 2x2).
BLD_INLINE void weights_packed_body(size_t m, size_t MR, size_t KC, const float *restrict weight, size_t first_row,
                                    size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,
                                    float *restrict packed, size_t point_stride) {
  const size_t n = tile_points(m), r = m == 7 ? 2 : 3;
  const size_t padded = (out_channels + MR - 1) / MR * MR;
  for (size_t panel = panel_begin; panel < panel_end; ++panel) {
    const size_t o0 = panel * MR;
    const size_t rows = out_channels - o0 < MR ? out_channels - o0 : MR;
    for (size_t c = 0; c < in_channels; ++c) {
      const size_t pc = c / KC * KC;
      const size_t kc = in_channels - pc < KC ? in_channels - pc : KC;
      const size_t offset = pc * padded + o0 * kc + (c - pc) * MR;
      float staged[9][16] = {{0}};
      for (size_t i = 0; i < rows; ++i) {
        const float *w = weight + ((o0 + i - first_row) * in_channels + c) * r * r;
        for (size_t k = 0; k < r * r; ++k) staged[k][i] = w[k];
      }
      v16f columns[3][8];  // G g, one column of g at a time
      for (size_t cc = 0; cc < r; ++cc) {
        v16f taps[3];
        for (size_t k = 0; k < r; ++k) taps[k] = load16(staged[k * r + cc]);
        weight_points(m, taps, columns[cc]);
      }
      for (size_t i = 0; i < n; ++i) {
        v16f taps[3], value[8];
        for (size_t cc = 0; cc < r; ++cc) taps[cc] = columns[cc][i];
        weight_points(m, taps, value);
        for (size_t cc = 0; cc < n; ++cc) {
          float lanes[16];
          store16(lanes, value[cc]);
          memcpy(packed + (i * n + cc) * point_stride + offset, lanes, MR * sizeof(float));
        }
      }
    }
  }
}

// One variant per GEMM family, with the tile and the family's MR as constants, so each of the body's panel stores
// is a fixed-size copy.
#define WEIGHTS_PACKED_VARIANT(NAME, ATTRIBUTE, FAMILY_MR)                                                        \
  ATTRIBUTE static void NAME(size_t m, size_t mr, size_t kc, const float *restrict weight, size_t first_row,        \
                             size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,        \
                             float *restrict packed, size_t point_stride) {                                        \
    if (mr == FAMILY_MR) {                                                                                         \
      if (m == 4)                                                                                                  \
        weights_packed_body(4, FAMILY_MR, kc, weight, first_row, out_channels, in_channels, panel_begin,           \
                            panel_end, packed, point_stride);                                                      \
      else if (m == 7)                                                                                             \
        weights_packed_body(7, FAMILY_MR, kc, weight, first_row, out_channels, in_channels, panel_begin,           \
                            panel_end, packed, point_stride);                                                      \
      else                                                                                                         \
        weights_packed_body(6, FAMILY_MR, kc, weight, first_row, out_channels, in_channels, panel_begin,           \
                            panel_end, packed, point_stride);                                                      \
    } else if (m == 7) {                                                                                           \
      weights_packed_body(7, mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed, \
                          point_stride);                                                                           \
    } else if (m == 4) {                                                                                           \
      weights_packed_body(4, mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed, \
                          point_stride);                                                                           \
    } else {                                                                                                       \
      weights_packed_body(6, mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed, \
                          point_stride);                                                                           \
    }                                                                                                              \
  }

WEIGHTS_PACKED_VARIANT(weights_packed_avx2, BLD_AVX2, 6)
WEIGHTS_PACKED_VARIANT(weights_packed_avx512, BLD_AVX512, 14)

static void weights_packed_dispatch(const bld_gemm_plan *plan, size_t tile, const float *restrict weight,
                                    size_t first_row, size_t out_channels, size_t in_channels, size_t panel_begin,
                                    size_t panel_end, float *restrict packed, size_t point_stride) {
  const size_t kc = bld_gemm_k_block(plan, in_channels);
  if (plan->kernel == BLD_GEMM_AVX512)
    weights_packed_avx512(tile, plan->mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end,
                          packed, point_stride);
  else
    weights_packed_avx2(tile, plan->mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end,
                        packed, point_stride);
}

void bld_winograd_weights_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict weight,
                                     size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,
                                     float *restrict packed, size_t point_stride) {
  weights_packed_dispatch(plan, tile, weight, 0, out_channels, in_channels, panel_begin, panel_end, packed,
                          point_stride);
}

void bld_winograd_weights_packed_half(const bld_gemm_plan *plan, size_t tile, const uint16_t *restrict weight,
                                      int bfloat16, size_t out_channels, size_t in_channels, size_t panel_begin,
                                      size_t panel_end, float *restrict staging, float *restrict packed,
                                      size_t point_stride) {
  const size_t mr = plan->mr, row = in_channels * 9;
  for (size_t panel = panel_begin; panel < panel_end && panel * mr < out_channels; ++panel) {
    const size_t o0 = panel * mr, rows = out_channels - o0 < mr ? out_channels - o0 : mr;
    // The panel's output channels are consecutive in the weight: widen them in one run.
    if (bfloat16) bld_convert_bf16_f32(weight + o0 * row, staging, rows * row);
    else bld_convert_f16_f32(weight + o0 * row, staging, rows * row);
    weights_packed_dispatch(plan, tile, staging, o0, out_channels, in_channels, panel, panel + 1, packed,
                            point_stride);
  }
}

// MARK: - Products with the weights transformed block by block

// With few tiles (a small image) each transformed weight serves only a few columns of its product, so writing
// all of U (4-7x the weight) to memory and reading it back costs more than the products. Here one MR-row panel's
// weights are transformed one K block at a time into `u` (n² x kc x MR floats, about L2's size), every point's
// product of that block runs at once, and the block is dropped: the weight is read once, U never leaves the cache.

/// A panel's taps turned around so that each (channel, tap) is one vector of the panel's rows: `taps` (`rows` rows
/// of `count` floats, `stride` apart) → `staged` ([count][16], lanes past `rows` zero), 16 x 16 at a time.
BLD_INLINE void stage_rows_in_lanes(const float *restrict taps, size_t rows, size_t count, size_t stride,
                                    float *restrict staged) {
  for (size_t j = 0; j < count; j += 16) {
    const size_t width = count - j < 16 ? count - j : 16;
    v16f r[16];
    for (size_t i = 0; i < 16; ++i) {
      r[i] = (v16f){0};
      if (i < rows) {
        if (width == 16) memcpy(&r[i], taps + i * stride + j, sizeof(v16f));
        else memcpy(&r[i], taps + i * stride + j, width * sizeof(float));
      }
    }
    transpose16(r);
    for (size_t l = 0; l < width; ++l) store16(staged + (j + l) * 16, r[l]);
  }
}

/// U = G g Gᵀ of one panel's K block from `staged` (stage_rows_in_lanes), each point's kc x MR block packed as the
/// micro-kernels read it, points `point_stride` (≥ kc · MR + 16) floats apart. Each (point, channel) store writes
/// 16 floats, the last 16 − MR of which the next channel's store (or the point's padding) takes.
BLD_INLINE void weights_block_from_lanes(size_t m, size_t MR, const float *restrict staged, size_t kc,
                                         float *restrict u, size_t point_stride) {
  const size_t n = m + 2;
  for (size_t c = 0; c < kc; ++c) {
    const float *g = staged + c * 9 * 16;
    v16f columns[3][8];  // G g, one column of g at a time
    for (int cc = 0; cc < 3; ++cc) {
      const v16f taps[3] = {load16(g + cc * 16), load16(g + (3 + cc) * 16), load16(g + (6 + cc) * 16)};
      weight_points(m, taps, columns[cc]);
    }
    for (size_t r = 0; r < n; ++r) {
      const v16f taps[3] = {columns[0][r], columns[1][r], columns[2][r]};
      v16f value[8];
      weight_points(m, taps, value);
      for (size_t cc = 0; cc < n; ++cc) store16(u + (r * n + cc) * point_stride + c * MR, value[cc]);
    }
  }
}

/// bld_winograd_products_streaming_weights for F(m x m) with the family's MR: per panel and K block, the taps
/// (widened into `staging` when half-width) staged in lanes after them, transformed into `u`, and every point's
/// product, the first K block setting M (beta 0) and the others adding to it.
BLD_INLINE void products_streaming_body(size_t m, size_t MR, const bld_gemm_plan *plan, const float *restrict weight,
                                        const uint16_t *restrict half, int bfloat16, size_t out_channels,
                                        size_t in_channels, size_t tiles, const float *v, size_t v_stride,
                                        size_t panel_begin, size_t panel_end, float *products, size_t m_stride,
                                        float *restrict staging, float *restrict u, float *scratch) {
  const size_t points = (m + 2) * (m + 2), row = in_channels * 9;
  const size_t kc_block = bld_gemm_k_block(plan, in_channels);
  const size_t padded_tiles = (tiles + plan->nr - 1) / plan->nr * plan->nr;
  float *staged = staging + MR * kc_block * 9;
  for (size_t panel = panel_begin; panel < panel_end && panel * MR < out_channels; ++panel) {
    const size_t o0 = panel * MR, rows = out_channels - o0 < MR ? out_channels - o0 : MR;
    for (size_t pc = 0; pc < in_channels; pc += kc_block) {
      const size_t kc = in_channels - pc < kc_block ? in_channels - pc : kc_block;
      const size_t point_stride = kc * MR + 16;
      if (half == NULL) {
        stage_rows_in_lanes(weight + o0 * row + pc * 9, rows, kc * 9, row, staged);
      } else {
        for (size_t i = 0; i < rows; ++i) {  // the block's taps widened, [rows][kc · 9]
          const size_t first = (o0 + i) * row + pc * 9;
          if (bfloat16) bld_convert_bf16_f32(half + first, staging + i * kc * 9, kc * 9);
          else bld_convert_f16_f32(half + first, staging + i * kc * 9, kc * 9);
        }
        stage_rows_in_lanes(staging, rows, kc * 9, kc * 9, staged);
      }
      weights_block_from_lanes(m, MR, staged, kc, u, point_stride);
      for (size_t point = 0; point < points; ++point)
        bld_gemm_packed_b_f32(plan, rows, tiles, kc, 0, NULL, 0, u + point * point_stride,
                              v + point * v_stride + pc * padded_tiles, 0, rows, 0, tiles, pc == 0 ? 0.0f : 1.0f,
                              products + point * m_stride + o0 * tiles, (ptrdiff_t)tiles, 1, scratch, 0);
    }
  }
}

#define PRODUCTS_STREAMING_VARIANT(NAME, ATTRIBUTE, FAMILY_MR)                                                   \
  ATTRIBUTE static void NAME(size_t m, const bld_gemm_plan *plan, const float *restrict weight,                   \
                             const uint16_t *restrict half, int bfloat16, size_t out_channels, size_t in_channels, \
                             size_t tiles, const float *v, size_t v_stride, size_t panel_begin, size_t panel_end,  \
                             float *products, size_t m_stride, float *restrict staging, float *restrict u,         \
                             float *scratch) {                                                                     \
    if (m == 4)                                                                                                    \
      products_streaming_body(4, FAMILY_MR, plan, weight, half, bfloat16, out_channels, in_channels, tiles, v,     \
                              v_stride, panel_begin, panel_end, products, m_stride, staging, u, scratch);          \
    else                                                                                                           \
      products_streaming_body(6, FAMILY_MR, plan, weight, half, bfloat16, out_channels, in_channels, tiles, v,     \
                              v_stride, panel_begin, panel_end, products, m_stride, staging, u, scratch);          \
  }

PRODUCTS_STREAMING_VARIANT(products_streaming_avx2, BLD_AVX2, 6)
PRODUCTS_STREAMING_VARIANT(products_streaming_avx512, BLD_AVX512, 14)

size_t bld_winograd_streaming_staging_floats(const bld_gemm_plan *plan, size_t in_channels) {
  return (plan->mr + 16) * bld_gemm_k_block(plan, in_channels) * 9;
}

size_t bld_winograd_streaming_block_floats(const bld_gemm_plan *plan, size_t tile, size_t in_channels) {
  return (tile + 2) * (tile + 2) * (bld_gemm_k_block(plan, in_channels) * plan->mr + 16);
}

void bld_winograd_products_streaming_weights(const bld_gemm_plan *plan, size_t tile, const float *weight,
                                             const uint16_t *half, int bfloat16, size_t out_channels,
                                             size_t in_channels, size_t tiles, const float *v, size_t v_stride,
                                             size_t panel_begin, size_t panel_end, float *products,
                                             size_t m_stride, float *staging, float *u, float *scratch) {
  if (plan->kernel == BLD_GEMM_AVX512)
    products_streaming_avx512(tile, plan, weight, half, bfloat16, out_channels, in_channels, tiles, v, v_stride,
                              panel_begin, panel_end, products, m_stride, staging, u, scratch);
  else
    products_streaming_avx2(tile, plan, weight, half, bfloat16, out_channels, in_channels, tiles, v, v_stride,
                            panel_begin, panel_end, products, m_stride, staging, u, scratch);
}

// MARK: - Input transform

// AVX2 gather of one F(4x4) patch row, as gather_row_avx512 with 8 tiles at a time: the 34 floats w[i] =
// row[4 (tx0 + s0) - 1 + i] the tiles need are loaded as four vectors (two tiles of four phases each) and
// de-interleaved into one vector per phase, d[j · stride + s] = w[4s + j]; d[4] and d[5] are phases 0 and 1 one
// tile on. Border tiles take the same path from a zero-padded copy.
BLD_AVX2 static void gather_row_avx2(const float *row, size_t width, size_t tx0, size_t count, float *d,
                                     size_t stride) {
  const __m256i tile_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i next_tile = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
  for (size_t s0 = 0; s0 < count; s0 += 8) {
    const long xb = (long)((tx0 + s0) * 4) - 1;
    float padded[40];
    const float *w = row + xb;
    if (xb < 0 || xb + 34 > (long)width) {
      for (long i = 0; i < 40; ++i) padded[i] = xb + i >= 0 && xb + i < (long)width ? row[xb + i] : 0.0f;
      w = padded;
    }
    const __m256 v0 = _mm256_loadu_ps(w), v1 = _mm256_loadu_ps(w + 8), v2 = _mm256_loadu_ps(w + 16),
                 v3 = _mm256_loadu_ps(w + 24);
    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    __m256 phase[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                       _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    for (int q = 0; q < 4; ++q) {
      phase[q] = _mm256_permutevar8x32_ps(phase[q], tile_order);
      _mm256_storeu_ps(d + q * stride + s0, phase[q]);
    }
    for (int q = 0; q < 2; ++q) {
      const __m256 shifted = _mm256_permutevar8x32_ps(phase[q], next_tile);
      _mm256_storeu_ps(d + (4 + q) * stride + s0,
                       _mm256_blend_ps(shifted, _mm256_broadcast_ss(w + 32 + q), 0x80));
    }
  }
}

/// Floats of one row of the 2x upsampled image that 16 tiles' patches span (16 m + 2 ≤ 98), rounded up to the
/// vectors gather_row_avx512 loads.
#define UPSAMPLED_SEGMENT 128

/// out[i] = the 2x nearest-upsampled row at x0 + i (row[(x0 + i) / 2], `row` holding width / 2 floats), zero
/// outside [0, width), for i < UPSAMPLED_SEGMENT: each 16 outputs permute one masked load of 16 stored floats.
BLD_AVX512 static inline void expand_upsampled_row_avx512(const float *row, size_t width, long x0, float *out) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const long stored = (long)(width / 2);
  for (long q = 0; q < UPSAMPLED_SEGMENT / 16; ++q) {
    const long xq = x0 + 16 * q, base = xq >= 0 ? xq / 2 : -((1 - xq) / 2);  // floor(xq / 2)
    const __m512i s = _mm512_add_epi32(_mm512_set1_epi32((int)base), lanes);
    const __mmask16 inside = _mm512_cmpge_epi32_mask(s, _mm512_setzero_si512()) &
                             _mm512_cmplt_epi32_mask(s, _mm512_set1_epi32((int)stored));
    const __m512 values = _mm512_maskz_loadu_ps(inside, row + base);
    const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)xq), lanes);
    const __m512i index = _mm512_sub_epi32(_mm512_srai_epi32(x, 1), _mm512_set1_epi32((int)base));
    const __mmask16 valid = _mm512_cmpge_epi32_mask(x, _mm512_setzero_si512()) &
                            _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width));
    _mm512_storeu_ps(out + 16 * q, _mm512_maskz_permutexvar_ps(valid, index, values));
  }
}

/// expand_upsampled_row_avx512 with AVX2: each 8 outputs permute one masked load of 8 stored floats.
BLD_AVX2 static inline void expand_upsampled_row_avx2(const float *row, size_t width, long x0, float *out) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), none = _mm256_set1_epi32(-1);
  const __m256i stored = _mm256_set1_epi32((int)(width / 2)), limit = _mm256_set1_epi32((int)width);
  for (long q = 0; q < UPSAMPLED_SEGMENT / 8; ++q) {
    const long xq = x0 + 8 * q, base = xq >= 0 ? xq / 2 : -((1 - xq) / 2);  // floor(xq / 2)
    const __m256i s = _mm256_add_epi32(_mm256_set1_epi32((int)base), lanes);
    const __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(s, none), _mm256_cmpgt_epi32(stored, s));
    const __m256 values = _mm256_maskload_ps(row + base, inside);
    const __m256i x = _mm256_add_epi32(_mm256_set1_epi32((int)xq), lanes);
    const __m256i index = _mm256_sub_epi32(_mm256_srai_epi32(x, 1), _mm256_set1_epi32((int)base));
    const __m256i valid = _mm256_and_si256(_mm256_cmpgt_epi32(x, none), _mm256_cmpgt_epi32(limit, x));
    _mm256_storeu_ps(out + 8 * q,
                     _mm256_and_ps(_mm256_permutevar8x32_ps(values, index), _mm256_castsi256_ps(valid)));
  }
}

// The (m + 2)² transformed points V = Bᵀ d B of up to 16 consecutive tiles of one tile row of one channel plane
// (tiles tx … tx + count − 1 of tile row ty, zero outside the image): out[ξ] holds point ξ, tile tx + s in lane s
// (lanes past `count` hold whatever the image there gives). Each patch row is gathered and transformed along x
// (d B) at once, then the columns (Bᵀ · (d B)). Windows start one row and column before their tiles, and `read`
// says what the image is: `plane` itself (READ_PLAIN); the nearest 2x upsampling of `plane` (READ_UPSAMPLED:
// height x width its upsampled size, both even; `plane` holds height/2 rows of width/2); or, for F(7x7, 2x2), the
// phase (a, b) = (phase / 2, phase % 2) of a 2x larger `plane` (READ_PHASES: element (y, x) is plane[(2 y + a)
// · 2 width + 2 x + b]), whose windows start a rows and b columns before their tiles (the correlation of an
// upsampler's output gradient phase with its flipped phase kernel).
BLD_INLINE void input_tiles(size_t m, const float *restrict plane, size_t height, size_t width, int read,
                            size_t phase, size_t ty, size_t tx, size_t count, int level, const float *next,
                            v16f *restrict out) {
  const size_t n = tile_points(m), a = phase / 2, b = phase % 2;
  const int upsampled = read == READ_UPSAMPLED;
  const size_t stored_width = upsampled ? width / 2 : read == READ_PHASES ? 2 * width : width;
  v16f rows[8][8];  // d B, patch row by patch row
  for (size_t r = 0; r < n; ++r) {
    const long y = (long)(ty * m + r) - (read == READ_PHASES ? (long)a : 1);
    if (y < 0 || y >= (long)height) {
      for (size_t k = 0; k < n; ++k) rows[r][k] = (v16f){0};
      continue;
    }
    const size_t stored_y = upsampled ? (size_t)y / 2 : read == READ_PHASES ? 2 * (size_t)y + a : (size_t)y;
    const float *row = plane + stored_y * stored_width;
    const long x0 = (long)(tx * m) - 1, x1 = (long)((tx + count) * m) + (long)n - (long)m - 1;
    if (next)
      prefetch_row_segment(next + stored_y * stored_width, upsampled ? x0 / 2 : x0, upsampled ? x1 / 2 + 1 : x1,
                           stored_width, 0);
    v16f line[8];  // element j of the row's patch segment, tile s in lane s
    if (level == 2 && read != READ_PHASES) {
      // Straight into registers: the row's patches of these (at most 16) tiles are one gather group.
      if (upsampled) {
        float expanded[UPSAMPLED_SEGMENT] __attribute__((aligned(64)));
        expand_upsampled_row_avx512(row, width, x0, expanded);
        gather_row_group_avx512(m, n, expanded, UPSAMPLED_SEGMENT, 0, line);
      } else {
        gather_row_group_avx512(m, n, row, width, x0, line);
      }
      input_points(m, line, rows[r]);
      continue;
    }
    float d[8][16] __attribute__((aligned(64)));
    if (read == READ_PHASES) {
      gather_phase_row(level, n, row, width, (long)(tx * m) - (long)b, b, count, &d[0][0]);
    } else if (upsampled) {
      // The row of the 2x upsampled image the patches read, from x0 on, then the patches from that copy.
      float expanded[UPSAMPLED_SEGMENT] __attribute__((aligned(64)));
      if (level == 1 && m == 4) {
        // gather_row_avx2 reads the patches of tiles tx0 + s from row[4 (tx0 + s) - 1]: with tx0 = 1 and the row
        // three floats before the copy, tile s's patch starts at expanded[4 s], never at a border.
        expand_upsampled_row_avx2(row, width, x0, expanded);
        gather_row_avx2(expanded - 3, UPSAMPLED_SEGMENT + 3, 1, count, &d[0][0], 16);
      } else {
        for (long i = 0; i < UPSAMPLED_SEGMENT; ++i)
          expanded[i] = x0 + i >= 0 && x0 + i < (long)width ? row[(x0 + i) / 2] : 0.0f;
        for (size_t s = 0; s < count; ++s)
          for (size_t j = 0; j < n; ++j) d[j][s] = expanded[m * s + j];
      }
    } else if (level == 1 && m == 4) {
      gather_row_avx2(row, width, tx, count, &d[0][0], 16);
    } else {
      for (size_t s = 0; s < count; ++s)
        for (size_t j = 0; j < n; ++j) {
          const long x = (long)((tx + s) * m) - 1 + (long)j;
          d[j][s] = (x >= 0 && x < (long)width) ? row[x] : 0.0f;
        }
    }
    for (size_t j = 0; j < n; ++j) line[j] = load16(d[j]);
    input_points(m, line, rows[r]);
  }
  for (size_t k = 0; k < n; ++k) {
    v16f column[8], transformed[8];
    for (size_t r = 0; r < n; ++r) column[r] = rows[r][k];
    input_points(m, column, transformed);
    for (size_t i = 0; i < n; ++i) out[i * n + k] = transformed[i];
  }
}

// Stores lanes [0, lanes) of each of the `points` vectors out[p] as tiles tile … tile + lanes − 1 of packed B
// panels of panel_width (a multiple of 16) columns and panel_depth rows (v at this channel's row of its K block;
// point p's matrix point_stride floats on), where those tiles lie within one 16-float group of a panel row
// (tile % 16 + lanes ≤ 16): one masked store per point, its lanes moved up to the group's position.
BLD_AVX512 static inline void store_packed_lanes_avx512(const v16f *out, size_t points, float *v, size_t tile,
                                                        size_t lanes, size_t panel_width, size_t panel_depth,
                                                        size_t point_stride) {
  const size_t offset = tile % 16;
  float *group = v + tile / panel_width * panel_width * panel_depth + tile % panel_width - offset;
  const __mmask16 mask = (__mmask16)(((1u << lanes) - 1u) << offset);
  if (offset == 0) {
    for (size_t p = 0; p < points; ++p) _mm512_mask_storeu_ps(group + p * point_stride, mask, (__m512)out[p]);
    return;
  }
  const __m512i shift = _mm512_sub_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32((int)offset));
  for (size_t p = 0; p < points; ++p)
    _mm512_mask_storeu_ps(group + p * point_stride, mask, _mm512_permutexvar_ps(shift, (__m512)out[p]));
}

// Transforms `count` tiles of one tile row of one channel into v: a row segment of each point's matrix
// (panel_width 0; v at the segment's start), or the GEMM's packed B panels of panel_width columns and
// panel_depth rows (v at this channel's row of its K block, first_tile the run's index within the block). With
// AVX-512 and packed panels, each group of up to 16 tiles goes from registers to its panels (no copy through a
// buffer).
BLD_INLINE void input_run(size_t m, const float *restrict plane, size_t height, size_t width, int read,
                          size_t phase, size_t ty, size_t tx0, size_t count, float *restrict v, size_t point_stride,
                          size_t panel_width, size_t panel_depth, size_t first_tile, int level, const float *next) {
  const size_t n = tile_points(m), points = n * n;
  if (level == 2 && panel_width != 0 && panel_width % 16 == 0) {
    // Groups of tiles that fill whole 16-float groups of the panel rows (the first one from where the run starts),
    // so every point's store covers one aligned group once.
    for (size_t s = 0; s < count;) {
      const size_t room = 16 - (first_tile + s) % 16, lanes = count - s < room ? count - s : room;
      v16f out[MAX_POINTS];
      input_tiles(m, plane, height, width, read, phase, ty, tx0 + s, lanes, level, next, out);
      store_packed_lanes_avx512(out, points, v, first_tile + s, lanes, panel_width, panel_depth, point_stride);
      s += lanes;
    }
    return;
  }
  float o[MAX_POINTS][RUN + 16];
  for (size_t s = 0; s < count; s += 16) {
    v16f out[MAX_POINTS];
    input_tiles(m, plane, height, width, read, phase, ty, tx0 + s, count - s < 16 ? count - s : 16, level, next,
                out);
    for (size_t p = 0; p < points; ++p) store16(&o[p][s], out[p]);
  }
  if (panel_width == 0) {
    // One contiguous row segment per transform point (n² short streams instead of n² interleaved ones).
    for (size_t p = 0; p < points; ++p) memcpy(v + p * point_stride, o[p], count * sizeof(float));
    return;
  }
  // The GEMM's packed layout: tile t of this channel's row sits in panel t / panel_width, panels panel_depth
  // rows of panel_width apart; the run is cut at panel edges.
  for (size_t s = 0; s < count;) {
    const size_t t = first_tile + s, lane = t % panel_width;
    const size_t length = panel_width - lane < count - s ? panel_width - lane : count - s;
    float *destination = v + t / panel_width * panel_width * panel_depth + lane;
    for (size_t p = 0; p < points; ++p) {
      float *d_p = destination + p * point_stride;
      size_t k = 0;
      for (; k + 16 <= length; k += 16) store16(d_p + k, load16(&o[p][s + k]));
      for (; k < length; ++k) d_p[k] = o[p][s + k];
    }
    s += length;
  }
}

// With READ_PHASES the image's channel 4 c + p is phase p of input channel c (input_tiles).
BLD_INLINE void input_body(size_t m, const float *restrict input, size_t channels, size_t height, size_t width,
                           int read, size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,
                           float *restrict v, size_t point_stride, size_t panel_width, size_t k_block, int level) {
  const size_t points = tile_points(m) * tile_points(m);
  const size_t stored_plane = read == READ_UPSAMPLED ? height / 2 * (width / 2)
                              : read == READ_PHASES  ? 4 * height * width
                                                     : height * width;
  const size_t tiles_y = tiles_along(m, height), tiles_x = tiles_along(m, width);
  const size_t block = tile_end - tile_begin;
  const size_t padded_block = panel_width ? (block + panel_width - 1) / panel_width * panel_width : block;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    // Packed: the channel's K block [k0, k0 + depth) holds its panels at k0 · padded_block.
    const size_t k0 = panel_width ? c / k_block * k_block : 0;
    const size_t depth = panel_width ? (channels - k0 < k_block ? channels - k0 : k_block) : 0;
    float *row_base = panel_width ? v + k0 * padded_block + (c - k0) * panel_width : v + c * block;
    size_t t = tile_begin;
    while (t < tile_end) {
      const tile_run run = run_at(t, tile_end, tiles_x, tiles_y);
      const size_t tx = run.tx, ty = run.ty, n = run.image, count = run.count;
      if (read == READ_PHASES) {
        input_run(m, input + (n * (channels / 4) + c / 4) * stored_plane, height, width, read, c % 4, ty, tx, count,
                  panel_width ? row_base : row_base + (t - tile_begin), point_stride, panel_width, depth,
                  t - tile_begin, level, NULL);
        t += count;
        continue;
      }
      const float *plane = input + (n * channels + c) * stored_plane;
      input_run(m, plane, height, width, read, 0, ty, tx, count,
                panel_width ? row_base : row_base + (t - tile_begin), point_stride, panel_width, depth,
                t - tile_begin, level, c + 1 < channel_end ? plane + stored_plane : NULL);
      t += count;
    }
    // The last panel's columns past the block are zero, as bld_gemm_pack_b_f32 leaves them: the GEMM computes
    // (and discards) their products, which must not see stale floats (NaN, or denormals that slow the FMAs).
    if (panel_width && block % panel_width) {
      float *tail = row_base + block / panel_width * panel_width * depth;
      for (size_t p = 0; p < points; ++p)
        for (size_t lane = block % panel_width; lane < panel_width; ++lane) tail[p * point_stride + lane] = 0.0f;
    }
  }
}

#define INPUT_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                                     \
  ATTRIBUTE static void NAME(size_t m, const float *restrict input, size_t channels, size_t height, size_t width,   \
                             int upsampled, size_t tile_begin, size_t tile_end, size_t channel_begin,              \
                             size_t channel_end, float *restrict v, size_t point_stride, size_t panel_width,       \
                             size_t k_block) {                                                                     \
    if (m == 4)                                                                                                    \
      input_body(4, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,   \
                 v, point_stride, panel_width, k_block, LEVEL);                                                    \
    else if (m == 7)                                                                                               \
      input_body(7, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,   \
                 v, point_stride, panel_width, k_block, LEVEL);                                                    \
    else                                                                                                           \
      input_body(6, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,   \
                 v, point_stride, panel_width, k_block, LEVEL);                                                    \
  }

INPUT_VARIANT(input_default, , 0)
INPUT_VARIANT(input_avx2, BLD_AVX2, 1)
INPUT_VARIANT(input_avx512, BLD_AVX512, 2)

static void input_dispatch(size_t tile, const float *restrict input, size_t channels, size_t height, size_t width,
                           int upsampled, size_t tile_begin, size_t tile_end, size_t channel_begin,
                           size_t channel_end, float *restrict v, size_t point_stride, size_t panel_width,
                           size_t k_block) {
  const int level = bld_simd_level();
  if (level >= 2)
    input_avx512(tile, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,
                 v, point_stride, panel_width, k_block);
  else if (level == 1)
    input_avx2(tile, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,
               v, point_stride, panel_width, k_block);
  else
    input_default(tile, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin,
                  channel_end, v, point_stride, panel_width, k_block);
}

void bld_winograd_input_f32(size_t tile, const float *restrict input, size_t channels, size_t height, size_t width,
                            int upsampled, size_t tile_begin, size_t tile_end, size_t channel_begin,
                            size_t channel_end, float *restrict v, size_t point_stride) {
  input_dispatch(tile, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,
                 v, point_stride, 0, 0);
}

void bld_winograd_input_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict input,
                                   size_t channels, size_t height, size_t width, int upsampled, size_t tile_begin,
                                   size_t tile_end, size_t channel_begin, size_t channel_end, float *restrict v,
                                   size_t point_stride) {
  input_dispatch(tile, input, channels, height, width, upsampled, tile_begin, tile_end, channel_begin, channel_end,
                 v, point_stride, plan->nr, bld_gemm_k_block(plan, channels));
}

// MARK: - Input transform for the weight gradient

// V[ξ]ᵀ of the block's tiles for the 16-channel groups [group_begin, group_end), written as the packed right
// operand of ∂U[ξ] = ∂M[ξ] · V[ξ]ᵀ (K = the block's tiles, N = the channels): the transform runs across a run of
// tiles for each of a group's channels in turn, and a 16 x 16 transpose per point turns 16 tiles x 16 channels into the
// panels' channel-contiguous rows, so no packing pass reads V again. Channels past C are zero (the panel
// padding).
BLD_INLINE void input_transposed_body(size_t m, size_t NR, size_t KC, const float *restrict input, size_t channels,
                                      size_t height, size_t width, int upsampled, size_t tile_begin,
                                      size_t tile_end, size_t group_begin, size_t group_end, float *restrict v,
                                      size_t point_stride, v16f (*restrict buffer)[RUN / 16][MAX_POINTS],
                                      int level) {
  const size_t points = tile_points(m) * tile_points(m);
  const size_t stored_plane = upsampled ? height / 2 * (width / 2) : height * width;
  const size_t tiles_y = tiles_along(m, height), tiles_x = tiles_along(m, width);
  const size_t block = tile_end - tile_begin, padded = (channels + NR - 1) / NR * NR;
  for (size_t group = group_begin; group < group_end; ++group) {
    const size_t c0 = 16 * group, lanes = channels > c0 ? (channels - c0 < 16 ? channels - c0 : 16) : 0;
    for (size_t c = lanes; c < 16; ++c)
      for (size_t q = 0; q < RUN / 16; ++q)
        for (size_t p = 0; p < points; ++p) buffer[c][q][p] = (v16f){0};
    const size_t panel_offset = c0 / NR * NR, lane_offset = c0 % NR;
    size_t t = tile_begin;
    while (t < tile_end) {
      const tile_run run = run_at(t, tile_end, tiles_x, tiles_y);
      const size_t tx = run.tx, ty = run.ty, image = run.image, count = run.count;
      // Channel by channel along the run (long row streams), then 16 tiles x 16 channels at a time.
      for (size_t c = 0; c < lanes; ++c)
        for (size_t s0 = 0; s0 < count; s0 += 16)
          input_tiles(m, input + (image * channels + c0 + c) * stored_plane, height, width, upsampled, 0, ty,
                      tx + s0, count - s0 < 16 ? count - s0 : 16, level,
                      c + 1 < lanes ? input + (image * channels + c0 + c + 1) * stored_plane : NULL,
                      buffer[c][s0 / 16]);
      for (size_t s0 = 0; s0 < count; s0 += 16) {
        const size_t tiles = count - s0 < 16 ? count - s0 : 16;
        size_t offset[16];  // where tile s0 + s's 16 channels go in every point's matrix
        for (size_t s = 0; s < tiles; ++s) {
          const size_t l = t - tile_begin + s0 + s, pc = l / KC * KC, kc = block - pc < KC ? block - pc : KC;
          offset[s] = pc * padded + panel_offset * kc + (l - pc) * NR + lane_offset;
        }
        for (size_t p = 0; p < points; ++p) {
          v16f r[16];
          transposed_point(buffer, s0 / 16, p, r);  // r[s]: tile s0 + s, 16 channels
          for (size_t s = 0; s < tiles; ++s) store16(v + p * point_stride + offset[s], r[s]);
        }
      }
      t += count;
    }
  }
}

#define INPUT_TRANSPOSED_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                          \
  ATTRIBUTE static void NAME(size_t m, size_t nr, size_t kc, const float *restrict input, size_t channels,         \
                             size_t height, size_t width, int upsampled, size_t tile_begin, size_t tile_end,       \
                             size_t group_begin, size_t group_end, float *restrict v, size_t point_stride,        \
                             v16f (*restrict buffer)[RUN / 16][MAX_POINTS]) {                                      \
    if (m == 4)                                                                                                    \
      input_transposed_body(4, nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,           \
                            group_begin, group_end, v, point_stride, buffer, LEVEL);                               \
    else if (m == 7)                                                                                               \
      input_transposed_body(7, nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,           \
                            group_begin, group_end, v, point_stride, buffer, LEVEL);                               \
    else                                                                                                           \
      input_transposed_body(6, nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,           \
                            group_begin, group_end, v, point_stride, buffer, LEVEL);                               \
  }

INPUT_TRANSPOSED_VARIANT(input_transposed_default, , 0)
INPUT_TRANSPOSED_VARIANT(input_transposed_avx2, BLD_AVX2, 1)
INPUT_TRANSPOSED_VARIANT(input_transposed_avx512, BLD_AVX512, 2)

void bld_winograd_input_transposed_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict input,
                                              size_t channels, size_t height, size_t width, int upsampled,
                                              size_t tile_begin, size_t tile_end, size_t group_begin,
                                              size_t group_end, float *restrict v, size_t point_stride,
                                              float *restrict scratch) {
  const int level = bld_simd_level();
  const size_t kc = bld_gemm_k_block(plan, tile_end - tile_begin);
  v16f(*buffer)[RUN / 16][MAX_POINTS] = (v16f(*)[RUN / 16][MAX_POINTS])scratch;
  if (level >= 2)
    input_transposed_avx512(tile, plan->nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,
                            group_begin, group_end, v, point_stride, buffer);
  else if (level == 1)
    input_transposed_avx2(tile, plan->nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,
                          group_begin, group_end, v, point_stride, buffer);
  else
    input_transposed_default(tile, plan->nr, kc, input, channels, height, width, upsampled, tile_begin, tile_end,
                             group_begin, group_end, v, point_stride, buffer);
}

// MARK: - Output transform

/// Where the AVX-512 output store takes each float of an output row from: lane l of output vector q holds
/// element f = 16 q + l of the row, tile f / m of phase f % m, picked from the phase pairs (0, 1), (2, 3), (4, 5)
/// and, for m = 7, (6, 6).
typedef struct {
  int tile[7][16];       // f / m
  int index[7][16];      // the two-source permute index: the tile, plus 16 for an odd phase
  uint16_t pair[7][4];   // per output vector, the lanes whose phase is in each pair
} scatter_plan;

static void scatter_plan_for(size_t m, scatter_plan *plan) {
  memset(plan, 0, sizeof *plan);
  for (size_t q = 0; q < m; ++q)
    for (int l = 0; l < 16; ++l) {
      const int f = 16 * (int)q + l, phase = f % (int)m;
      plan->tile[q][l] = f / (int)m;
      plan->index[q][l] = plan->tile[q][l] + 16 * (phase & 1);
      plan->pair[q][phase / 2] |= (uint16_t)(1u << l);
    }
}

// AVX-512 store of one output row for `count` tiles: row[m (tx0 + s) + j] = y[j][s] (+ addend[…] when addend is
// not NULL) for j < m and x < width.
// The m phase vectors of 16 tiles become 16 m contiguous floats (as `plan` says), with two-source permutes of
// the phase pairs blended by pair.
BLD_AVX512 static void scatter_row_avx512(size_t m, const scatter_plan *plan, float (*y)[RUN + 16], float *row,
                                          const float *addend, size_t width, size_t tx0, size_t count) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (size_t s0 = 0; s0 < count; s0 += 16) {
    __m512 phase[8];
    for (size_t j = 0; j < m; ++j) phase[j] = _mm512_loadu_ps(y[j] + s0);
    phase[m] = phase[m - 1];  // the second source of an odd m's last pair (never selected)
    const long xb = (long)((tx0 + s0) * m);
    for (size_t q = 0; q < m; ++q) {
      const __m512i index = _mm512_loadu_si512(plan->index[q]), tile = _mm512_loadu_si512(plan->tile[q]);
      __m512 value = _mm512_permutex2var_ps(phase[0], index, phase[1]);
      for (size_t pair = 1; pair < (m + 1) / 2; ++pair)
        value = _mm512_mask_blend_ps(plan->pair[q][pair], value,
                                     _mm512_permutex2var_ps(phase[2 * pair], index, phase[2 * pair + 1]));
      const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(xb + 16 * (long)q)), lanes);
      const __mmask16 valid = _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width)) &
                              _mm512_cmplt_epi32_mask(tile, _mm512_set1_epi32((int)(count - s0)));
      if (addend) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(valid, addend + xb + 16 * (long)q));
      _mm512_mask_storeu_ps(row + xb + 16 * (long)q, valid, value);
    }
  }
}

// AVX2 store of one F(4x4) output row for `count` tiles (plus addend's row when not NULL), as scatter_row_avx512 with
// 8 tiles at a time: the four phase
// vectors are interleaved (the inverse of gather_row_avx2's de-interleave) into 32 contiguous floats; tiles at
// the row's right end or past `count` go through a buffer.
BLD_AVX2 static void scatter_row_avx2(float (*y)[RUN + 16], float *row, const float *addend, size_t width, size_t tx0,
                                      size_t count) {
  const __m256i lane_order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (size_t s0 = 0; s0 < count; s0 += 8) {
    __m256 u[4];
    for (int q = 0; q < 4; ++q) u[q] = _mm256_permutevar8x32_ps(_mm256_loadu_ps(y[q] + s0), lane_order);
    const __m256 t0 = _mm256_shuffle_ps(u[0], u[1], 0x44), t2 = _mm256_shuffle_ps(u[0], u[1], 0xEE);
    const __m256 t1 = _mm256_shuffle_ps(u[2], u[3], 0x44), t3 = _mm256_shuffle_ps(u[2], u[3], 0xEE);
    const __m256 v[4] = {_mm256_shuffle_ps(t0, t1, 0x88), _mm256_shuffle_ps(t0, t1, 0xDD),
                         _mm256_shuffle_ps(t2, t3, 0x88), _mm256_shuffle_ps(t2, t3, 0xDD)};
    const size_t x0 = (tx0 + s0) * 4, tiles = count - s0 < 8 ? count - s0 : 8;
    if (tiles == 8 && x0 + 32 <= width) {
      for (int q = 0; q < 4; ++q) {
        const __m256 sum = addend ? _mm256_add_ps(v[q], _mm256_loadu_ps(addend + x0 + 8 * (size_t)q)) : v[q];
        _mm256_storeu_ps(row + x0 + 8 * (size_t)q, sum);
      }
    } else {
      float buffer[32];
      for (int q = 0; q < 4; ++q) _mm256_storeu_ps(buffer + 8 * q, v[q]);
      for (size_t i = 0; i < 4 * tiles && x0 + i < width; ++i)
        row[x0 + i] = addend ? buffer[i] + addend[x0 + i] : buffer[i];
    }
  }
}

// Writes the m x m outputs of `count` tiles of tile row ty from the tx0-th on, each plus the same element of
// `addend` (a plane like `plane`) when it is not NULL, or with `summed` (and no addend) each 2 x 2 block of them
// summed into one element of `plane` (height/2 x width/2; m, height and width even), in the order of
// upsampleNearest2xBackward.
BLD_INLINE void output_run(size_t m, const float *restrict matrices, size_t point_stride, size_t count, float bias,
                           float *restrict plane, const float *addend, size_t height, size_t width, int summed,
                           size_t ty, size_t tx0, int level, const scatter_plan *scatter, float *next) {
  const size_t n = tile_points(m);
  float y[49][RUN + 16];
  // Read straight from the n² matrices, 16 tiles per vector: lanes past `count` read the next row or the
  // padding after the last one (the caller's contract) and are never stored.
  const float *q[MAX_POINTS];
  for (size_t p = 0; p < n * n; ++p) q[p] = matrices + p * point_stride;
  const v16f vbias = {bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias};
  for (size_t s = 0; s < count; s += 16) {
    v16f t[7][8];  // Aᵀ m, column by column
    for (size_t j = 0; j < n; ++j) {
      v16f column[8], transformed[7];
      for (size_t i = 0; i < n; ++i) column[i] = load16(&q[i * n + j][s]);
      output_points(m, column, transformed);
      for (size_t i = 0; i < m; ++i) t[i][j] = transformed[i];
    }
    for (size_t i = 0; i < m; ++i) {  // (Aᵀ m) A, row by row
      v16f transformed[7];
      output_points(m, t[i], transformed);
      for (size_t k = 0; k < m; ++k) store16(&y[i * m + k][s], transformed[k] + vbias);
    }
  }
  if (summed) {
    const size_t half = m / 2, stored_width = width / 2;
    for (size_t i = 0; i < half && 2 * (ty * half + i) < height; ++i) {
      float sums[3][RUN + 16];
      for (size_t j = 0; j < half; ++j) {
        const size_t top = 2 * i * m + 2 * j, bottom = top + m;
        for (size_t s = 0; s < count; s += 16)
          store16(&sums[j][s], load16(&y[top][s]) + load16(&y[top + 1][s]) + load16(&y[bottom][s]) +
                                   load16(&y[bottom + 1][s]));
      }
      float *row = plane + (ty * half + i) * stored_width;
      for (size_t s = 0; s < count; ++s)
        for (size_t j = 0; j < half && (tx0 + s) * half + j < stored_width; ++j) row[(tx0 + s) * half + j] = sums[j][s];
    }
    return;
  }
  for (size_t i = 0; i < m; ++i) {
    const size_t yy = ty * m + i;
    if (yy >= height) break;
    float *row = plane + yy * width;
    const float *addend_row = addend ? addend + yy * width : NULL;
    if (next) prefetch_row_segment(next + yy * width, (long)(tx0 * m), (long)((tx0 + count) * m), width, 1);
    if (level == 2) {
      scatter_row_avx512(m, scatter, y + i * m, row, addend_row, width, tx0, count);
      continue;
    }
    if (level == 1 && m == 4) {
      scatter_row_avx2(y + i * m, row, addend_row, width, tx0, count);
      continue;
    }
    for (size_t s = 0; s < count; ++s) {
      const size_t x0 = (tx0 + s) * m;
      for (size_t j = 0; j < m && x0 + j < width; ++j)
        row[x0 + j] = addend_row ? y[i * m + j][s] + addend_row[x0 + j] : y[i * m + j][s];
    }
  }
}

BLD_INLINE void output_body(size_t m, const float *restrict matrices, size_t out_channels, size_t height,
                            size_t width, int summed, size_t tile_begin, size_t tile_end, const float *bias,
                            const float *addend, size_t o_begin, size_t o_end, float *restrict output,
                            size_t point_stride, int level) {
  const size_t tiles_y = tiles_along(m, height), tiles_x = tiles_along(m, width);
  const size_t stored_plane = summed ? height / 2 * (width / 2) : height * width;
  const size_t block = tile_end - tile_begin;
  scatter_plan scatter;
  if (level == 2) scatter_plan_for(m, &scatter);
  for (size_t o = o_begin; o < o_end; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    size_t t = tile_begin;
    while (t < tile_end) {
      const tile_run run = run_at(t, tile_end, tiles_x, tiles_y);
      const size_t tx = run.tx, ty = run.ty, n = run.image, count = run.count;
      float *plane = output + (n * out_channels + o) * stored_plane;
      output_run(m, matrices + o * block + (t - tile_begin), point_stride, count, b, plane,
                 addend ? addend + (n * out_channels + o) * stored_plane : NULL, height, width, summed, ty, tx, level,
                 &scatter, o + 1 < o_end ? plane + stored_plane : NULL);
      t += count;
    }
  }
}

#define OUTPUT_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                                    \
  ATTRIBUTE static void NAME(size_t m, const float *restrict matrices, size_t out_channels, size_t height,         \
                             size_t width, int summed, size_t tile_begin, size_t tile_end, const float *bias,      \
                             const float *addend, size_t o_begin, size_t o_end, float *restrict output,            \
                             size_t point_stride) {                                                                \
    if (m == 4)                                                                                                    \
      output_body(4, matrices, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin,   \
                  o_end, output, point_stride, LEVEL);                                                             \
    else if (m == 7)                                                                                               \
      output_body(7, matrices, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin,   \
                  o_end, output, point_stride, LEVEL);                                                             \
    else                                                                                                           \
      output_body(6, matrices, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin,   \
                  o_end, output, point_stride, LEVEL);                                                             \
  }

OUTPUT_VARIANT(output_default, , 0)
OUTPUT_VARIANT(output_avx2, BLD_AVX2, 1)
OUTPUT_VARIANT(output_avx512, BLD_AVX512, 2)

void bld_winograd_output_f32(size_t tile, const float *restrict m, size_t out_channels, size_t height, size_t width,
                             int summed, size_t tile_begin, size_t tile_end, const float *bias, const float *addend,
                             size_t o_begin, size_t o_end, float *restrict output, size_t point_stride) {
  const int level = bld_simd_level();
  if (level >= 2)
    output_avx512(tile, m, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin, o_end,
                  output, point_stride);
  else if (level == 1)
    output_avx2(tile, m, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin, o_end,
                output, point_stride);
  else
    output_default(tile, m, out_channels, height, width, summed, tile_begin, tile_end, bias, addend, o_begin, o_end,
                   output, point_stride);
}

// MARK: - Upsampling convolution
//
// A 3x3, padding-1 convolution of the nearest 2x upsampling of X is, on X itself, one 2x2 convolution per output
// phase (a, b) (row and column parity): along each axis, output 2i + 0 reads X[i - 1], X[i] through the taps
// (W0, W1 + W2) and output 2i + 1 reads X[i], X[i + 1] through (W0 + W1, W2). F(7x7, 2x2) computes 7 x 7 outputs
// of each phase from one 8 x 8 window X[7t - 1 ...], the same input transform for all four phases (F(6x6)'s, so
// bld_winograd_input_packed_f32 with tile 7 writes it): phase 0 gives outputs 7t ... 7t + 6 along that axis,
// phase 1 gives 7t - 1 ... 7t + 5, one position earlier, hence tiles_along's extra tile. The products of the
// four phases are one GEMM whose rows are (output channel, phase) pairs: 4 o + 2 a + b. Per output, 64 / 49
// products against F(6x6)'s 64 / 36 on the upsampled image, and a 4x smaller input transform.

/// Where the AVX-512 store of one upsampled output row takes each float from: the row's floats from
/// 14 (tx0 + s0) - 1 on are, per tile s, phase 1's output j = 0, phase 0's j = 0, phase 1's j = 1, ... (14 floats),
/// so lane l of output vector q (element e = 16 q + l, tile e / 14, k = e % 14) is phase 1 - k % 2's output k / 2.
typedef struct {
  int tile[14][16];       // e / 14
  int index[14][16];      // the permute index into (phase 0, phase 1) of one output j: the tile, + 16 for phase 1
  uint16_t taken[14][7];  // per output vector, the lanes holding each output j
} upsampling_scatter_plan;

static void upsampling_scatter_plan_init(upsampling_scatter_plan *plan) {
  memset(plan, 0, sizeof *plan);
  for (int q = 0; q < 14; ++q)
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * q + l, tile = e / 14, k = e % 14, phase = 1 - k % 2;
      plan->tile[q][l] = tile;
      plan->index[q][l] = tile + 16 * phase;
      plan->taken[q][k / 2] |= (uint16_t)(1u << l);
    }
}

// Stores row i of `count` tiles' outputs of both column phases into one row of the upsampled output (`width` its
// width): out[14 (tx0 + s) + 2 j] = y0[j][s], out[14 (tx0 + s) + 2 j - 1] = y1[j][s], inside [0, width).
BLD_AVX512 static void scatter_upsampled_row_avx512(const upsampling_scatter_plan *plan, float (*y0)[RUN + 16],
                                                    float (*y1)[RUN + 16], float *row, size_t width, size_t tx0,
                                                    size_t count) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (size_t s0 = 0; s0 < count; s0 += 16) {
    __m512 even[7], odd[7];
    for (int j = 0; j < 7; ++j) {
      even[j] = _mm512_loadu_ps(y0[j] + s0);
      odd[j] = _mm512_loadu_ps(y1[j] + s0);
    }
    const long xb = 14 * (long)(tx0 + s0) - 1;
    for (int q = 0; q < 14; ++q) {
      const __m512i index = _mm512_loadu_si512(plan->index[q]), tile = _mm512_loadu_si512(plan->tile[q]);
      __m512 value = _mm512_permutex2var_ps(even[0], index, odd[0]);
      for (int j = 1; j < 7; ++j)
        value = _mm512_mask_blend_ps(plan->taken[q][j], value, _mm512_permutex2var_ps(even[j], index, odd[j]));
      const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(xb + 16 * q)), lanes);
      const __mmask16 valid = _mm512_cmpge_epi32_mask(x, _mm512_setzero_si512()) &
                              _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width)) &
                              _mm512_cmplt_epi32_mask(tile, _mm512_set1_epi32((int)(count - s0)));
      _mm512_mask_storeu_ps(row + xb + 16 * q, valid, value);
    }
  }
}

// The output transform of the tiles [tile_begin, tile_end) for the output channels [o_begin, o_end): for each of
// them the four phase rows of the products (4 o + 2 a + b) become the 14 x 14 outputs a tile gives of the
// upsampled image (height x width the stored image's size), bias added.
BLD_INLINE void output_upsampling_body(const float *restrict matrices, size_t out_channels, size_t height,
                                       size_t width, size_t tile_begin, size_t tile_end, const float *bias,
                                       size_t o_begin, size_t o_end, float *restrict output, size_t point_stride,
                                       int level) {
  const size_t tiles_y = tiles_along(7, height), tiles_x = tiles_along(7, width);
  const size_t block = tile_end - tile_begin, output_width = 2 * width, output_plane = 4 * height * width;
  upsampling_scatter_plan scatter;
  if (level == 2) upsampling_scatter_plan_init(&scatter);
  for (size_t o = o_begin; o < o_end; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    const v16f vbias = {b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b};
    size_t t = tile_begin;
    while (t < tile_end) {
      const tile_run run = run_at(t, tile_end, tiles_x, tiles_y);
      const size_t tx = run.tx, ty = run.ty, count = run.count;
      float *plane = output + (run.image * out_channels + o) * output_plane;
      for (size_t a = 0; a < 2; ++a) {
        float y[2][49][RUN + 16];  // per column phase, the 7 x 7 outputs of each tile
        for (size_t phase = 0; phase < 2; ++phase) {
          // Read straight from the 64 matrices, 16 tiles per vector: lanes past `count` read the next row or the
          // padding after the last one (the caller's contract) and are never stored.
          const float *q[64];
          for (size_t p = 0; p < 64; ++p)
            q[p] = matrices + p * point_stride + (4 * o + 2 * a + phase) * block + (t - tile_begin);
          for (size_t s = 0; s < count; s += 16) {
            v16f columns[7][8];  // Aᵀ m, column by column
            for (size_t j = 0; j < 8; ++j) {
              v16f column[8], transformed[7];
              for (size_t i = 0; i < 8; ++i) column[i] = load16(q[i * 8 + j] + s);
              output_points(7, column, transformed);
              for (size_t i = 0; i < 7; ++i) columns[i][j] = transformed[i];
            }
            for (size_t i = 0; i < 7; ++i) {  // (Aᵀ m) A, row by row
              v16f transformed[7];
              output_points(7, columns[i], transformed);
              for (size_t k = 0; k < 7; ++k) store16(&y[phase][i * 7 + k][s], transformed[k] + vbias);
            }
          }
        }
        for (size_t i = 0; i < 7; ++i) {
          const long stored_row = 7 * (long)ty - (long)a + (long)i;
          if (stored_row < 0 || stored_row >= (long)height) continue;
          float *row = plane + (2 * (size_t)stored_row + a) * output_width;
          if (level == 2) {
            scatter_upsampled_row_avx512(&scatter, y[0] + 7 * i, y[1] + 7 * i, row, output_width, tx, count);
            continue;
          }
          for (size_t s = 0; s < count; ++s)
            for (size_t j = 0; j < 7; ++j) {
              const size_t x = 14 * (tx + s) + 2 * j;
              if (x < output_width) row[x] = y[0][7 * i + j][s];
              if (x >= 1 && x - 1 < output_width) row[x - 1] = y[1][7 * i + j][s];
            }
        }
      }
      t += count;
    }
  }
}

#define OUTPUT_UPSAMPLING_VARIANT(NAME, ATTRIBUTE, LEVEL)                                                         \
  ATTRIBUTE static void NAME(const float *restrict matrices, size_t out_channels, size_t height, size_t width,     \
                             size_t tile_begin, size_t tile_end, const float *bias, size_t o_begin, size_t o_end,  \
                             float *restrict output, size_t point_stride) {                                        \
    output_upsampling_body(matrices, out_channels, height, width, tile_begin, tile_end, bias, o_begin, o_end,      \
                           output, point_stride, LEVEL);                                                           \
  }

OUTPUT_UPSAMPLING_VARIANT(output_upsampling_default, , 0)
OUTPUT_UPSAMPLING_VARIANT(output_upsampling_avx2, BLD_AVX2, 1)
OUTPUT_UPSAMPLING_VARIANT(output_upsampling_avx512, BLD_AVX512, 2)

void bld_winograd_output_upsampling_f32(const float *restrict matrices, size_t out_channels, size_t height,
                                        size_t width, size_t tile_begin, size_t tile_end, const float *bias,
                                        size_t o_begin, size_t o_end, float *restrict output, size_t point_stride) {
  const int level = bld_simd_level();
  if (level >= 2)
    output_upsampling_avx512(matrices, out_channels, height, width, tile_begin, tile_end, bias, o_begin, o_end,
                             output, point_stride);
  else if (level == 1)
    output_upsampling_avx2(matrices, out_channels, height, width, tile_begin, tile_end, bias, o_begin, o_end, output,
                           point_stride);
  else
    output_upsampling_default(matrices, out_channels, height, width, tile_begin, tile_end, bias, o_begin, o_end,
                              output, point_stride);
}
