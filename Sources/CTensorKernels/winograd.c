// Winograd F(4x4, 3x3) transforms for 3x3, stride-1, padding-1 convolutions (Lavin & Gray 2015).
//
// Each 4x4 output tile is computed from a 6x6 input tile: Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A. The 36
// element-wise products summed over input channels are 36 independent GEMMs, done by the caller:
//   M[ξ] (O x T) = U[ξ] (O x C) · V[ξ] (C x T),  ξ in [0, 36), T tiles of the current block.
// Tiles are numbered t = (n * tiles_y + ty) * tiles_x + tx over the whole batch. Transforms work on runs of
// up to RUN consecutive tiles of one tile row, laid out so the per-tile arithmetic vectorises across tiles.
// Every kernel is compiled three times (default target, AVX2 + FMA, AVX-512) from one always-inline body and
// chosen by bld_simd_level().
#include "CTensorKernels.h"

#include <immintrin.h>
#include <string.h>

#define RUN 64

/// 16 floats as one GCC/Clang vector (unaligned): zmm arithmetic in the AVX-512 build, SSE otherwise.
typedef float v16f __attribute__((vector_size(64), aligned(4)));
#define load16(p) (*(const v16f *)(p))
#define store16(p, x) (*(v16f *)(p) = (x))
#define BLD_INLINE static inline __attribute__((always_inline))
#define BLD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define BLD_AVX2 __attribute__((target("avx2,fma")))

// MARK: - Weight transform

// U = G g Gᵀ for 16 input channels at a time (vectorised across channels, fp32 arithmetic: the transform's
// rounding, ~1e-7 relative, is far below Winograd's own ~1e-5). Each point's 16 results are one contiguous
// store, so the 36 output streams are written in whole cache lines.
BLD_INLINE void weights_body(const float *restrict weight, size_t out_channels, size_t in_channels, size_t o_begin,
                             size_t o_end, float *restrict u) {
  const float q = 1.0f / 4, s = 1.0f / 6, t = 1.0f / 12, e = 1.0f / 24;
  for (size_t o = o_begin; o < o_end; ++o) {
    for (size_t c0 = 0; c0 < in_channels; c0 += 16) {
      const size_t count = in_channels - c0 < 16 ? in_channels - c0 : 16;
      float staged[9][16];
      for (size_t l = 0; l < 16; ++l) {
        const float *w = weight + (o * in_channels + c0 + (l < count ? l : 0)) * 9;
        for (int k = 0; k < 9; ++k) staged[k][l] = w[k];
      }
      v16f g[3][3];
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) g[r][c] = load16(staged[3 * r + c]);
      v16f m[6][3];  // G · g, rows of G: (1/4,0,0) (-1/6,-1/6,-1/6) (-1/6,1/6,-1/6) (1/24,1/12,1/6) (1/24,-1/12,1/6) (0,0,1)
      for (int c = 0; c < 3; ++c) {
        m[0][c] = q * g[0][c];
        m[1][c] = -s * (g[0][c] + g[1][c] + g[2][c]);
        m[2][c] = -s * (g[0][c] - g[1][c] + g[2][c]);
        m[3][c] = e * g[0][c] + t * g[1][c] + s * g[2][c];
        m[4][c] = e * g[0][c] - t * g[1][c] + s * g[2][c];
        m[5][c] = g[2][c];
      }
      for (int r = 0; r < 6; ++r) {
        v16f value[6];
        value[0] = q * m[r][0];
        value[1] = -s * (m[r][0] + m[r][1] + m[r][2]);
        value[2] = -s * (m[r][0] - m[r][1] + m[r][2]);
        value[3] = e * m[r][0] + t * m[r][1] + s * m[r][2];
        value[4] = e * m[r][0] - t * m[r][1] + s * m[r][2];
        value[5] = m[r][2];
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
// rows from output channel `first_row` on.
BLD_INLINE void weights_packed_body(size_t MR, size_t KC, const float *restrict weight, size_t first_row,
                                    size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,
                                    float *restrict packed, size_t point_stride) {
  const float q = 1.0f / 4, s = 1.0f / 6, t = 1.0f / 12, e = 1.0f / 24;
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
        const float *w = weight + ((o0 + i - first_row) * in_channels + c) * 9;
        for (int k = 0; k < 9; ++k) staged[k][i] = w[k];
      }
      v16f g[3][3];
      for (int r = 0; r < 3; ++r)
        for (int cc = 0; cc < 3; ++cc) g[r][cc] = load16(staged[3 * r + cc]);
      v16f m[6][3];
      for (int cc = 0; cc < 3; ++cc) {
        m[0][cc] = q * g[0][cc];
        m[1][cc] = -s * (g[0][cc] + g[1][cc] + g[2][cc]);
        m[2][cc] = -s * (g[0][cc] - g[1][cc] + g[2][cc]);
        m[3][cc] = e * g[0][cc] + t * g[1][cc] + s * g[2][cc];
        m[4][cc] = e * g[0][cc] - t * g[1][cc] + s * g[2][cc];
        m[5][cc] = g[2][cc];
      }
      for (int r = 0; r < 6; ++r) {
        v16f value[6];
        value[0] = q * m[r][0];
        value[1] = -s * (m[r][0] + m[r][1] + m[r][2]);
        value[2] = -s * (m[r][0] - m[r][1] + m[r][2]);
        value[3] = e * m[r][0] + t * m[r][1] + s * m[r][2];
        value[4] = e * m[r][0] - t * m[r][1] + s * m[r][2];
        value[5] = m[r][2];
        for (int cc = 0; cc < 6; ++cc) {
          float lanes[16];
          store16(lanes, value[cc]);
          memcpy(packed + (size_t)(r * 6 + cc) * point_stride + offset, lanes, MR * sizeof(float));
        }
      }
    }
  }
}

BLD_AVX2 static void weights_packed_avx2(size_t mr, size_t kc, const float *restrict weight, size_t first_row,
                                         size_t out_channels, size_t in_channels, size_t panel_begin,
                                         size_t panel_end, float *restrict packed, size_t point_stride) {
  if (mr == 6)
    weights_packed_body(6, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                        point_stride);
  else
    weights_packed_body(mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                        point_stride);
}

BLD_AVX512 static void weights_packed_avx512(size_t mr, size_t kc, const float *restrict weight, size_t first_row,
                                             size_t out_channels, size_t in_channels, size_t panel_begin,
                                             size_t panel_end, float *restrict packed, size_t point_stride) {
  // The family's MR as a constant, so each of the body's panel stores is a fixed-size copy (not a memcpy call).
  if (mr == 14)
    weights_packed_body(14, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                        point_stride);
  else
    weights_packed_body(mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                        point_stride);
}

static void weights_packed_dispatch(const bld_gemm_plan *plan, const float *restrict weight, size_t first_row,
                                    size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,
                                    float *restrict packed, size_t point_stride) {
  const size_t kc = bld_gemm_k_block(plan, in_channels);
  if (plan->kernel == BLD_GEMM_AVX512)
    weights_packed_avx512(plan->mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                          point_stride);
  else
    weights_packed_avx2(plan->mr, kc, weight, first_row, out_channels, in_channels, panel_begin, panel_end, packed,
                        point_stride);
}

void bld_winograd_f4_weights_packed_f32(const bld_gemm_plan *plan, const float *restrict weight,
                                        size_t out_channels, size_t in_channels, size_t panel_begin,
                                        size_t panel_end, float *restrict packed, size_t point_stride) {
  weights_packed_dispatch(plan, weight, 0, out_channels, in_channels, panel_begin, panel_end, packed, point_stride);
}

void bld_winograd_f4_weights_packed_half(const bld_gemm_plan *plan, const uint16_t *restrict weight, int bfloat16,
                                         size_t out_channels, size_t in_channels, size_t panel_begin,
                                         size_t panel_end, float *restrict staging, float *restrict packed,
                                         size_t point_stride) {
  const size_t mr = plan->mr, row = in_channels * 9;
  for (size_t panel = panel_begin; panel < panel_end && panel * mr < out_channels; ++panel) {
    const size_t o0 = panel * mr, rows = out_channels - o0 < mr ? out_channels - o0 : mr;
    // The panel's output channels are consecutive in the weight: widen them in one run.
    if (bfloat16) bld_convert_bf16_f32(weight + o0 * row, staging, rows * row);
    else bld_convert_f16_f32(weight + o0 * row, staging, rows * row);
    weights_packed_dispatch(plan, staging, o0, out_channels, in_channels, panel, panel + 1, packed, point_stride);
  }
}

// MARK: - Input transform

// AVX-512 gather of one patch row for `count` tiles: d[j][s] = row[4 (tx0 + s) - 1 + j], zero outside
// [0, width). 16 tiles at a time: lane s needs element e = 4s + j of the 80 floats loaded from
// row[4 tx0 - 1 ...] (masked loads zero the border), picked with two-source permutes and blends.
BLD_AVX512 static void gather_row_avx512(const float *row, size_t width, size_t tx0, size_t count,
                                         float (*d)[RUN + 16]) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (size_t s0 = 0; s0 < count; s0 += 16) {
    const long xb = (long)((tx0 + s0) * 4) - 1;
    __m512 r[5];
    for (int q = 0; q < 5; ++q) {
      const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(xb + 16 * q)), lanes);
      const __mmask16 inside = _mm512_cmpge_epi32_mask(x, _mm512_setzero_si512()) &
                               _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width));
      r[q] = _mm512_maskz_loadu_ps(inside, row + xb + 16 * q);
    }
    for (int j = 0; j < 6; ++j) {
      const __m512i e = _mm512_add_epi32(_mm512_slli_epi32(lanes, 2), _mm512_set1_epi32(j));
      const __m512i e16 = _mm512_sub_epi32(e, sixteen), e32 = _mm512_sub_epi32(e16, sixteen);
      const __m512i e48 = _mm512_sub_epi32(e32, sixteen);
      __m512 value = _mm512_permutex2var_ps(r[0], e, r[1]);
      value = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(32)), value,
                                   _mm512_permutex2var_ps(r[1], e16, r[2]));
      value = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(48)), value,
                                   _mm512_permutex2var_ps(r[2], e32, r[3]));
      value = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(64)), value,
                                   _mm512_permutex2var_ps(r[3], e48, r[4]));
      _mm512_storeu_ps(d[j] + s0, value);
    }
  }
}

// AVX2 gather of one patch row, as gather_row_avx512 with 8 tiles at a time: the 34 floats w[i] =
// row[4 (tx0 + s0) - 1 + i] the tiles need are loaded as four vectors (two tiles of four phases each) and
// de-interleaved into one vector per phase, d[j][s] = w[4s + j]; d[4] and d[5] are phases 0 and 1 one tile
// on. Border tiles take the same path from a zero-padded copy.
BLD_AVX2 static void gather_row_avx2(const float *row, size_t width, size_t tx0, size_t count,
                                     float (*d)[RUN + 16]) {
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
      _mm256_storeu_ps(d[q] + s0, phase[q]);
    }
    for (int q = 0; q < 2; ++q) {
      const __m256 shifted = _mm256_permutevar8x32_ps(phase[q], next_tile);
      _mm256_storeu_ps(d[4 + q] + s0, _mm256_blend_ps(shifted, _mm256_broadcast_ss(w + 32 + q), 0x80));
    }
  }
}

// Transforms `count` tiles of one tile row of one channel into v: a row segment of each point's matrix
// (panel_width 0; v at the segment's start), or the GEMM's packed B panels of panel_width columns and
// panel_depth rows (v at this channel's row of its K block, first_tile the run's index within the block).
BLD_INLINE void input_run(const float *restrict plane, size_t height, size_t width, size_t ty, size_t tx0,
                          size_t count, float *restrict v, size_t point_stride, size_t panel_width,
                          size_t panel_depth, size_t first_tile, int level) {
  float d[36][RUN + 16];
  // Gather the 6x6 patches (zero outside the image) so element (r, j) of every tile is contiguous.
  for (int r = 0; r < 6; ++r) {
    const long y = (long)(ty * 4 + r) - 1;
    if (y < 0 || y >= (long)height) {
      for (int j = 0; j < 6; ++j) memset(d[r * 6 + j], 0, count * sizeof(float));
      continue;
    }
    const float *row = plane + (size_t)y * width;
    if (level == 2) {
      gather_row_avx512(row, width, tx0, count, d + r * 6);
      continue;
    }
    if (level == 1) {
      gather_row_avx2(row, width, tx0, count, d + r * 6);
      continue;
    }
    for (size_t s = 0; s < count; ++s) {
      const long x0 = (long)((tx0 + s) * 4) - 1;
      if (x0 >= 0 && x0 + 6 <= (long)width) {
        for (int j = 0; j < 6; ++j) d[r * 6 + j][s] = row[x0 + j];
      } else {
        for (int j = 0; j < 6; ++j) {
          const long x = x0 + j;
          d[r * 6 + j][s] = (x >= 0 && x < (long)width) ? row[x] : 0.0f;
        }
      }
    }
  }
  // 16 tiles per step as one vector (zmm in the AVX-512 build); lanes past `count` are never copied out.
  float o[36][RUN + 16];
  for (size_t s = 0; s < count; s += 16) {
    v16f t[6][6];  // Bᵀ d, column by column
    for (int j = 0; j < 6; ++j) {
      const v16f d0 = load16(&d[j][s]), d1 = load16(&d[6 + j][s]), d2 = load16(&d[12 + j][s]),
                 d3 = load16(&d[18 + j][s]), d4 = load16(&d[24 + j][s]), d5 = load16(&d[30 + j][s]);
      t[0][j] = 4.0f * d0 - 5.0f * d2 + d4;
      t[1][j] = -4.0f * (d1 + d2) + d3 + d4;
      t[2][j] = 4.0f * (d1 - d2) - d3 + d4;
      t[3][j] = 2.0f * (d3 - d1) - d2 + d4;
      t[4][j] = 2.0f * (d1 - d3) - d2 + d4;
      t[5][j] = 4.0f * d1 - 5.0f * d3 + d5;
    }
    for (int i = 0; i < 6; ++i) {  // (Bᵀ d) B, row by row
      const v16f e0 = t[i][0], e1 = t[i][1], e2 = t[i][2], e3 = t[i][3], e4 = t[i][4], e5 = t[i][5];
      store16(&o[i * 6 + 0][s], 4.0f * e0 - 5.0f * e2 + e4);
      store16(&o[i * 6 + 1][s], -4.0f * (e1 + e2) + e3 + e4);
      store16(&o[i * 6 + 2][s], 4.0f * (e1 - e2) - e3 + e4);
      store16(&o[i * 6 + 3][s], 2.0f * (e3 - e1) - e2 + e4);
      store16(&o[i * 6 + 4][s], 2.0f * (e1 - e3) - e2 + e4);
      store16(&o[i * 6 + 5][s], 4.0f * e1 - 5.0f * e3 + e5);
    }
  }
  if (panel_width == 0) {
    // One contiguous row segment per transform point (36 short streams instead of 36 interleaved ones).
    for (int p = 0; p < 36; ++p) memcpy(v + (size_t)p * point_stride, o[p], count * sizeof(float));
    return;
  }
  // The GEMM's packed layout: tile t of this channel's row sits in panel t / panel_width, panels panel_depth
  // rows of panel_width apart; the run is cut at panel edges.
  for (size_t s = 0; s < count;) {
    const size_t t = first_tile + s, lane = t % panel_width;
    const size_t length = panel_width - lane < count - s ? panel_width - lane : count - s;
    float *destination = v + t / panel_width * panel_width * panel_depth + lane;
    for (int p = 0; p < 36; ++p) {
      float *d_p = destination + (size_t)p * point_stride;
      size_t k = 0;
      for (; k + 16 <= length; k += 16) store16(d_p + k, load16(&o[p][s + k]));
      for (; k < length; ++k) d_p[k] = o[p][s + k];
    }
    s += length;
  }
}

BLD_INLINE void input_body(const float *restrict input, size_t channels, size_t height, size_t width,
                           size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                           size_t channel_begin, size_t channel_end, float *restrict v, size_t point_stride,
                           size_t panel_width, size_t k_block, int level) {
  const size_t block = tile_end - tile_begin;
  const size_t padded_block = panel_width ? (block + panel_width - 1) / panel_width * panel_width : block;
  for (size_t c = channel_begin; c < channel_end; ++c) {
    // Packed: the channel's K block [k0, k0 + depth) holds its panels at k0 · padded_block.
    const size_t k0 = panel_width ? c / k_block * k_block : 0;
    const size_t depth = panel_width ? (channels - k0 < k_block ? channels - k0 : k_block) : 0;
    float *row_base = panel_width ? v + k0 * padded_block + (c - k0) * panel_width : v + c * block;
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t tx = t % tiles_x, row = t / tiles_x, ty = row % tiles_y, n = row / tiles_y;
      size_t count = tiles_x - tx;
      if (count > tile_end - t) count = tile_end - t;
      if (count > RUN) count = RUN;
      const float *plane = input + (n * channels + c) * height * width;
      input_run(plane, height, width, ty, tx, count, panel_width ? row_base : row_base + (t - tile_begin),
                point_stride, panel_width, depth, t - tile_begin, level);
      t += count;
    }
    // The last panel's columns past the block are zero, as bld_gemm_pack_b_f32 leaves them: the GEMM computes
    // (and discards) their products, which must not see stale floats (NaN, or denormals that slow the FMAs).
    if (panel_width && block % panel_width) {
      float *tail = row_base + block / panel_width * panel_width * depth;
      for (int p = 0; p < 36; ++p)
        for (size_t lane = block % panel_width; lane < panel_width; ++lane) tail[(size_t)p * point_stride + lane] = 0.0f;
    }
  }
}

static void input_default(const float *restrict input, size_t channels, size_t height, size_t width,
                          size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                          size_t channel_begin, size_t channel_end, float *restrict v, size_t point_stride,
                          size_t panel_width, size_t k_block) {
  input_body(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
             point_stride, panel_width, k_block, 0);
}

BLD_AVX2 static void input_avx2(const float *restrict input, size_t channels, size_t height, size_t width,
                                size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                size_t channel_begin, size_t channel_end, float *restrict v, size_t point_stride,
                                size_t panel_width, size_t k_block) {
  input_body(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
             point_stride, panel_width, k_block, 1);
}

BLD_AVX512 static void input_avx512(const float *restrict input, size_t channels, size_t height, size_t width,
                                    size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                    size_t channel_begin, size_t channel_end, float *restrict v, size_t point_stride,
                                    size_t panel_width, size_t k_block) {
  input_body(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
             point_stride, panel_width, k_block, 2);
}

static void input_dispatch(const float *restrict input, size_t channels, size_t height, size_t width,
                           size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,
                           float *restrict v, size_t point_stride, size_t panel_width, size_t k_block) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  const int level = bld_simd_level();
  if (level >= 2)
    input_avx512(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
                 point_stride, panel_width, k_block);
  else if (level == 1)
    input_avx2(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
               point_stride, panel_width, k_block);
  else
    input_default(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v,
                  point_stride, panel_width, k_block);
}

void bld_winograd_f4_input_f32(const float *restrict input, size_t channels, size_t height, size_t width,
                               size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,
                               float *restrict v, size_t point_stride) {
  input_dispatch(input, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, v, point_stride, 0,
                 0);
}

void bld_winograd_f4_input_packed_f32(const bld_gemm_plan *plan, const float *restrict input, size_t channels,
                                      size_t height, size_t width, size_t tile_begin, size_t tile_end,
                                      size_t channel_begin, size_t channel_end, float *restrict v,
                                      size_t point_stride) {
  input_dispatch(input, channels, height, width, tile_begin, tile_end, channel_begin, channel_end, v, point_stride,
                 plan->nr, bld_gemm_k_block(plan, channels));
}

// MARK: - Output transform

// AVX-512 store of one output row for `count` tiles: row[4 (tx0 + s) + j] = y[j][s] for x < width.
// Interleaves the four phase vectors of 16 tiles into 64 contiguous floats with two-source permutes.
BLD_AVX512 static void scatter_row_avx512(float (*y)[RUN + 16], float *row, size_t width, size_t tx0,
                                          size_t count) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i phase = _mm512_and_epi32(lanes, _mm512_set1_epi32(3));
  // Lane l of output register q takes tile 4q + l/4 from phase l%4 (phases 0/1 and 2/3 pairwise).
  const __m512i within_pair = _mm512_slli_epi32(_mm512_and_epi32(phase, _mm512_set1_epi32(1)), 4);
  for (size_t s0 = 0; s0 < count; s0 += 16) {
    const __m512 y0 = _mm512_loadu_ps(y[0] + s0), y1 = _mm512_loadu_ps(y[1] + s0);
    const __m512 y2 = _mm512_loadu_ps(y[2] + s0), y3 = _mm512_loadu_ps(y[3] + s0);
    const long xb = (long)((tx0 + s0) * 4);
    for (int q = 0; q < 4; ++q) {
      const __m512i tile = _mm512_add_epi32(_mm512_set1_epi32(4 * q), _mm512_srli_epi32(lanes, 2));
      const __m512i index = _mm512_add_epi32(tile, within_pair);
      const __m512 low = _mm512_permutex2var_ps(y0, index, y1), high = _mm512_permutex2var_ps(y2, index, y3);
      const __m512 value = _mm512_mask_blend_ps((__mmask16)0xCCCC, low, high);
      const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(xb + 16 * q)), lanes);
      const __mmask16 valid = _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width)) &
                              _mm512_cmplt_epi32_mask(tile, _mm512_set1_epi32((int)(count - s0)));
      _mm512_mask_storeu_ps(row + xb + 16 * q, valid, value);
    }
  }
}

// AVX2 store of one output row for `count` tiles, as scatter_row_avx512 with 8 tiles at a time: the four phase
// vectors are interleaved (the inverse of gather_row_avx2's de-interleave) into 32 contiguous floats; tiles at
// the row's right end or past `count` go through a buffer.
BLD_AVX2 static void scatter_row_avx2(float (*y)[RUN + 16], float *row, size_t width, size_t tx0, size_t count) {
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
      for (int q = 0; q < 4; ++q) _mm256_storeu_ps(row + x0 + 8 * (size_t)q, v[q]);
    } else {
      float buffer[32];
      for (int q = 0; q < 4; ++q) _mm256_storeu_ps(buffer + 8 * q, v[q]);
      for (size_t i = 0; i < 4 * tiles && x0 + i < width; ++i) row[x0 + i] = buffer[i];
    }
  }
}

BLD_INLINE void output_run(const float *restrict m, size_t point_stride, size_t count, float bias,
                           float *restrict plane, size_t height, size_t width, size_t ty, size_t tx0,
                           int level) {
  float y[16][RUN + 16];
  // Read straight from the 36 matrices, 16 tiles per vector: lanes past `count` read the next row or the
  // padding after the last one (the caller's contract) and are never stored.
  const float *q[36];
  for (int p = 0; p < 36; ++p) q[p] = m + (size_t)p * point_stride;
  const v16f vbias = {bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias, bias};
  for (size_t s = 0; s < count; s += 16) {
    v16f t[4][6];  // Aᵀ m, column by column
    for (int j = 0; j < 6; ++j) {
      const v16f m0 = load16(&q[j][s]), m1 = load16(&q[6 + j][s]), m2 = load16(&q[12 + j][s]),
                 m3 = load16(&q[18 + j][s]), m4 = load16(&q[24 + j][s]), m5 = load16(&q[30 + j][s]);
      const v16f a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
      t[0][j] = m0 + a + c;
      t[1][j] = b + 2.0f * d;
      t[2][j] = a + 4.0f * c;
      t[3][j] = b + 8.0f * d + m5;
    }
    for (int i = 0; i < 4; ++i) {  // (Aᵀ m) A, row by row
      const v16f e0 = t[i][0], e1 = t[i][1], e2 = t[i][2], e3 = t[i][3], e4 = t[i][4], e5 = t[i][5];
      const v16f a = e1 + e2, b = e1 - e2, c = e3 + e4, d = e3 - e4;
      store16(&y[i * 4 + 0][s], e0 + a + c + vbias);
      store16(&y[i * 4 + 1][s], b + 2.0f * d + vbias);
      store16(&y[i * 4 + 2][s], a + 4.0f * c + vbias);
      store16(&y[i * 4 + 3][s], b + 8.0f * d + e5 + vbias);
    }
  }
  for (int i = 0; i < 4; ++i) {
    const size_t yy = ty * 4 + (size_t)i;
    if (yy >= height) break;
    float *row = plane + yy * width;
    if (level == 2) {
      scatter_row_avx512(y + i * 4, row, width, tx0, count);
      continue;
    }
    if (level == 1) {
      scatter_row_avx2(y + i * 4, row, width, tx0, count);
      continue;
    }
    for (size_t s = 0; s < count; ++s) {
      const size_t x0 = (tx0 + s) * 4;
      if (x0 + 4 <= width) {
        for (int j = 0; j < 4; ++j) row[x0 + (size_t)j] = y[i * 4 + j][s];
      } else {
        for (int j = 0; j < 4 && x0 + (size_t)j < width; ++j) row[x0 + (size_t)j] = y[i * 4 + j][s];
      }
    }
  }
}

BLD_INLINE void output_body(const float *restrict m, size_t out_channels, size_t height, size_t width,
                            size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                            const float *bias, size_t o_begin, size_t o_end, float *restrict output,
                            size_t point_stride, int level) {
  const size_t block = tile_end - tile_begin;
  for (size_t o = o_begin; o < o_end; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t tx = t % tiles_x, row = t / tiles_x, ty = row % tiles_y, n = row / tiles_y;
      size_t count = tiles_x - tx;
      if (count > tile_end - t) count = tile_end - t;
      if (count > RUN) count = RUN;
      float *plane = output + (n * out_channels + o) * height * width;
      output_run(m + o * block + (t - tile_begin), point_stride, count, b, plane, height, width, ty, tx, level);
      t += count;
    }
  }
}

static void output_default(const float *restrict m, size_t out_channels, size_t height, size_t width,
                           size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                           const float *bias, size_t o_begin, size_t o_end, float *restrict output,
                           size_t point_stride) {
  output_body(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
              point_stride, 0);
}

BLD_AVX2 static void output_avx2(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                 size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                 const float *bias, size_t o_begin, size_t o_end, float *restrict output,
                                 size_t point_stride) {
  output_body(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
              point_stride, 1);
}

BLD_AVX512 static void output_avx512(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                     size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                     const float *bias, size_t o_begin, size_t o_end, float *restrict output,
                           size_t point_stride) {
  output_body(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
              point_stride, 2);
}

void bld_winograd_f4_output_f32(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                size_t tile_begin, size_t tile_end, const float *bias,
                                size_t o_begin, size_t o_end, float *restrict output, size_t point_stride) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  const int level = bld_simd_level();
  if (level >= 2)
    output_avx512(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
                  point_stride);
  else if (level == 1)
    output_avx2(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
                point_stride);
  else
    output_default(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output,
                   point_stride);
}
