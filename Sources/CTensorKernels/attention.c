// Fused multi-head attention for one head and a block of query rows, flash-attention style: keys and values
// are visited in blocks, each block serving every query row of the call before the next one is read, with an
// online softmax (running row maximum and sum; earlier partial outputs rescaled when the maximum grows). Only
// one key block of scores exists at a time, and a block of keys and values stays in L1/L2 while up to 64 query
// rows use it — instead of every few rows streaming all of a head's keys and values from L3 (4096 keys x 40
// floats: 640 KB each).
//
// AVX-512 puts sixteen query rows in the lanes of a vector: scores are computed transposed (key x row), so each
// row's softmax (maximum, exponentials, sum) runs down a lane with no horizontal reductions, and both products
// are broadcast-FMA loops over 16 accumulators with no padding of the head width (40 wide heads wasted a sixth
// of the eight-row kernel's value lanes). Measured on one core of a Xeon (family 6 model 207): 4096 x 4096
// keys, 8 heads of 40, 81-86 → 103-110 GFLOP/s; 10 heads of 64 (SDXL), 73 → 101-104. AVX2 (with FMA) does the
// same with eight rows in the lanes of a 256-bit vector: on an AMD EPYC (Zen 3, 2 cores) attention-4096x8x40-b2
// 0.64-0.69 → 0.53-0.63 s against the four-row kernels, which the portable build keeps. With only 16 ymm
// registers and two vector loads a cycle, one group of eight rows against eight keys (9 loads for 8 FMAs) was
// load-bound; two groups against six keys or columns (8 loads for 12 FMAs, no spilled accumulator) took that
// case from 0.48-0.61 to 0.34-0.42 s on the same Zen 3. Three groups against four spilled one accumulator a step
// and were slower than the old kernel.
#include "CTensorKernels.h"
#include "simd.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

void bld_pack_keys_f32(const float *restrict k, size_t key_count, size_t width, size_t head_width,
                       float *restrict packed) {
  const size_t panels = (key_count + BLD_KEY_PANEL - 1) / BLD_KEY_PANEL;
  for (size_t p = 0; p < panels; ++p) {
    float *panel = packed + p * head_width * BLD_KEY_PANEL;
    for (size_t jj = 0; jj < BLD_KEY_PANEL; ++jj) {
      const size_t j = p * BLD_KEY_PANEL + jj;
      if (j < key_count) {
        const float *row = k + j * width;
        for (size_t c = 0; c < head_width; ++c) panel[c * BLD_KEY_PANEL + jj] = row[c];
      } else {
        for (size_t c = 0; c < head_width; ++c) panel[c * BLD_KEY_PANEL + jj] = 0.0f;
      }
    }
  }
}

void bld_pack_values_f32(const float *restrict v, size_t key_count, size_t width, size_t head_width,
                         float *restrict packed) {
  for (size_t j = 0; j < key_count; ++j) memcpy(packed + j * head_width, v + j * width, head_width * sizeof(float));
}

// MARK: - Scalar path

/// s[r][j] = scale · q[r] · k[j] for the `rows` query rows and the key panels covering keys [0, keys).
static void scores_scalar(const float *const q[4], size_t rows, const float *restrict kp, size_t stride,
                          size_t head_width, size_t keys, float scale, float *restrict s) {
  const size_t panels = (keys + BLD_KEY_PANEL - 1) / BLD_KEY_PANEL;
  for (size_t r = 0; r < rows; ++r) {
    float *row = s + r * stride;
    for (size_t p = 0; p < panels; ++p) {
      const float *panel = kp + p * head_width * BLD_KEY_PANEL;
      float acc[BLD_KEY_PANEL] = {0};
      for (size_t c = 0; c < head_width; ++c) {
        const float qc = q[r][c];
        for (size_t jj = 0; jj < BLD_KEY_PANEL; ++jj) acc[jj] += qc * panel[c * BLD_KEY_PANEL + jj];
      }
      for (size_t jj = 0; jj < BLD_KEY_PANEL; ++jj) row[p * BLD_KEY_PANEL + jj] = acc[jj] * scale;
    }
  }
}

/// acc[r][:] += Σ_j s[r][j] · v[j][:] for j < keys (s: unnormalised softmax weights, rows `stride` apart;
/// acc: rows of head_width floats).
static void values_scalar(const float *restrict s, size_t stride, size_t rows, size_t keys,
                          const float *restrict v, size_t width, size_t head_width, float *restrict acc) {
  for (size_t r = 0; r < rows; ++r) {
    float *o = acc + r * head_width;
    const float *p = s + r * stride;
    for (size_t j = 0; j < keys; ++j) {
      const float w = p[j];
      const float *vj = v + j * width;
      for (size_t c = 0; c < head_width; ++c) o[c] += w * vj[c];
    }
  }
}

#if BLD_X86_SIMD
// MARK: - AVX2 path: eight query rows in the lanes of a vector, two groups of eight per tile

#define BLD_ROW_LANES8 8
#define BLD_AVX2_INLINE BLD_AVX2 static inline __attribute__((always_inline))

/// Scores of keys [j, j + N) of a key block for G groups of 8 query rows, transposed: st[g][(j + jj) * 8 + lane]
/// = qt[g][:, lane] · k[j + jj]. kq points at the keys' column in their packed panel. A tile of G × N
/// accumulators loads G query vectors and broadcasts N key scalars per step of the head: 8 loads for 12 FMAs at
/// 2 × 6, where one group against eight keys needed 9 for 8 (AVX2 CPUs load two vectors a cycle). 2 × 6 leaves
/// the compiler the two spare registers it wants, so no accumulator is spilled.
BLD_AVX2_INLINE void scores_tile_avx2(const int G, const int N, float *const qt[2], const float *restrict kq,
                                      size_t head_width, float *const st[2], size_t j) {
  __m256 a[2][6];
  for (int g = 0; g < G; ++g)
    for (int jj = 0; jj < N; ++jj) a[g][jj] = _mm256_setzero_ps();
  for (size_t c = 0; c < head_width; ++c) {
    __m256 q[2];
    for (int g = 0; g < G; ++g) q[g] = _mm256_load_ps(qt[g] + c * BLD_ROW_LANES8);
    const float *kc = kq + c * BLD_KEY_PANEL;
    for (int jj = 0; jj < N; ++jj) {
      const __m256 k = _mm256_broadcast_ss(kc + jj);
      for (int g = 0; g < G; ++g) a[g][jj] = _mm256_fmadd_ps(k, q[g], a[g][jj]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int jj = 0; jj < N; ++jj) _mm256_store_ps(st[g] + (j + jj) * BLD_ROW_LANES8, a[g][jj]);
}

/// Scores of a whole key block (`keys` keys, packed in zero-padded panels of 16, each as tiles of 6, 6 and 4
/// keys) for G groups; st gets whole panels.
BLD_AVX2_INLINE void scores_avx2(const int G, float *const qt[2], const float *restrict kp, size_t head_width,
                                 size_t keys, float *const st[2]) {
  for (size_t j = 0; j < keys; j += BLD_KEY_PANEL) {
    const float *panel = kp + j * head_width;
    scores_tile_avx2(G, 6, qt, panel, head_width, st, j);
    scores_tile_avx2(G, 6, qt, panel + 6, head_width, st, j + 6);
    scores_tile_avx2(G, 4, qt, panel + 12, head_width, st, j + 12);
  }
}

/// ot[g][c + cc][lane] = correction[g] · ot[g][c + cc][lane] + Σ_j v[j][c + cc] · st[g][j][lane] for N columns
/// from c and G groups: G × N accumulators, G weight vectors and N value scalars a key.
BLD_AVX2_INLINE void values_tile_avx2(const int G, const int N, float *const st[2], size_t keys,
                                      const float *restrict v, size_t v_stride, const __m256 correction[2],
                                      float *const ot[2], size_t c) {
  __m256 a[2][6];
  for (int g = 0; g < G; ++g)
    for (int cc = 0; cc < N; ++cc)
      a[g][cc] = _mm256_mul_ps(_mm256_load_ps(ot[g] + (c + cc) * BLD_ROW_LANES8), correction[g]);
  for (size_t j = 0; j < keys; ++j) {
    __m256 p[2];
    for (int g = 0; g < G; ++g) p[g] = _mm256_load_ps(st[g] + j * BLD_ROW_LANES8);
    const float *vj = v + j * v_stride + c;
    for (int cc = 0; cc < N; ++cc) {
      const __m256 w = _mm256_broadcast_ss(vj + cc);
      for (int g = 0; g < G; ++g) a[g][cc] = _mm256_fmadd_ps(w, p[g], a[g][cc]);
    }
  }
  for (int g = 0; g < G; ++g)
    for (int cc = 0; cc < N; ++cc) _mm256_store_ps(ot[g] + (c + cc) * BLD_ROW_LANES8, a[g][cc]);
}

/// All head_width columns of the value product for G groups: tiles of six columns, then one of the rest.
BLD_AVX2_INLINE void values_avx2(const int G, float *const st[2], size_t keys, const float *restrict v,
                                 size_t v_stride, size_t head_width, const __m256 correction[2],
                                 float *const ot[2]) {
  size_t c = 0;
  for (; c + 6 <= head_width; c += 6) values_tile_avx2(G, 6, st, keys, v, v_stride, correction, ot, c);
  switch (head_width - c) {
  case 5: values_tile_avx2(G, 5, st, keys, v, v_stride, correction, ot, c); break;
  case 4: values_tile_avx2(G, 4, st, keys, v, v_stride, correction, ot, c); break;
  case 3: values_tile_avx2(G, 3, st, keys, v, v_stride, correction, ot, c); break;
  case 2: values_tile_avx2(G, 2, st, keys, v, v_stride, correction, ot, c); break;
  case 1: values_tile_avx2(G, 1, st, keys, v, v_stride, correction, ot, c); break;
  default: break;
  }
}

/// The online-softmax step of one group for one key block: masks hidden keys (causal), replaces st's `keys`
/// scores by exp(s − new maximum) in place, updates the running maxima and sums, and returns the factor that
/// rescales the group's earlier outputs.
BLD_AVX2 static __m256 softmax_block8_avx2(float *restrict st, size_t keys, float *restrict maxima,
                                           float *restrict sums, int causal, size_t first_row, size_t kb) {
  const __m256 minus_infinity = _mm256_set1_ps(-INFINITY);
  __m256 block_max = minus_infinity;
  if (causal) {  // key kb + j is hidden from the lane's row when kb + j > row
    const __m256i lane_row = _mm256_add_epi32(_mm256_set1_epi32((int)first_row), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (size_t j = 0; j < keys; ++j) {
      const __m256 hidden = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(kb + j)), lane_row));
      const __m256 s = _mm256_blendv_ps(_mm256_load_ps(st + j * BLD_ROW_LANES8), minus_infinity, hidden);
      _mm256_store_ps(st + j * BLD_ROW_LANES8, s);
      block_max = _mm256_max_ps(block_max, s);
    }
  } else {
    __m256 m1 = minus_infinity;
    size_t j = 0;
    for (; j + 2 <= keys; j += 2) {
      block_max = _mm256_max_ps(block_max, _mm256_load_ps(st + j * BLD_ROW_LANES8));
      m1 = _mm256_max_ps(m1, _mm256_load_ps(st + (j + 1) * BLD_ROW_LANES8));
    }
    if (j < keys) block_max = _mm256_max_ps(block_max, _mm256_load_ps(st + j * BLD_ROW_LANES8));
    block_max = _mm256_max_ps(block_max, m1);
  }
  const __m256 old_max = _mm256_load_ps(maxima);
  const __m256 new_max = _mm256_max_ps(old_max, block_max);
  // A lane that has seen no key yet keeps −∞; shift by 0 there so no ∞ − ∞ appears (its weights are 0).
  const __m256 shift = _mm256_and_ps(_mm256_cmp_ps(new_max, minus_infinity, _CMP_NEQ_OQ), new_max);
  const __m256 had = _mm256_cmp_ps(old_max, minus_infinity, _CMP_NEQ_OQ);
  const __m256 correction = _mm256_and_ps(had, bld_exp8_nonpositive(_mm256_sub_ps(old_max, shift)));
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t j = 0;
  if (causal) {  // masked scores are −∞: their weights must be exactly 0
    for (; j < keys; ++j) {
      float *p = st + j * BLD_ROW_LANES8;
      const __m256 x = _mm256_load_ps(p);
      const __m256 e =
          _mm256_and_ps(_mm256_cmp_ps(x, minus_infinity, _CMP_NEQ_OQ), bld_exp8_nonpositive(_mm256_sub_ps(x, shift)));
      _mm256_store_ps(p, e);
      s0 = _mm256_add_ps(s0, e);
    }
  }
  for (; j + 4 <= keys; j += 4) {
    float *p = st + j * BLD_ROW_LANES8;
    const __m256 x0 = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_load_ps(p), shift));
    const __m256 x1 = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_load_ps(p + 8), shift));
    const __m256 x2 = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_load_ps(p + 16), shift));
    const __m256 x3 = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_load_ps(p + 24), shift));
    _mm256_store_ps(p, x0), _mm256_store_ps(p + 8, x1), _mm256_store_ps(p + 16, x2), _mm256_store_ps(p + 24, x3);
    s0 = _mm256_add_ps(s0, x0), s1 = _mm256_add_ps(s1, x1), s2 = _mm256_add_ps(s2, x2), s3 = _mm256_add_ps(s3, x3);
  }
  for (; j < keys; ++j) {
    float *p = st + j * BLD_ROW_LANES8;
    const __m256 x = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_load_ps(p), shift));
    _mm256_store_ps(p, x);
    s0 = _mm256_add_ps(s0, x);
  }
  const __m256 block_sum = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  _mm256_store_ps(sums, _mm256_fmadd_ps(_mm256_load_ps(sums), correction, block_sum));
  _mm256_store_ps(maxima, new_max);
  return correction;
}

/// One key block for G consecutive groups: scores, each group's softmax step, then the value product.
BLD_AVX2_INLINE void block_groups_avx2(const int G, float *const qt[2], float *const ot[2], float *const st[2],
                                       const float *restrict kp, const float *restrict v, size_t v_stride,
                                       size_t head_width, size_t keys, int causal, size_t first_row, size_t kb) {
  scores_avx2(G, qt, kp, head_width, keys, st);
  __m256 correction[2];
  for (int g = 0; g < G; ++g) {
    float *maxima = ot[g] + head_width * BLD_ROW_LANES8;
    correction[g] = softmax_block8_avx2(st[g], keys, maxima, maxima + BLD_ROW_LANES8, causal,
                                        first_row + (size_t)g * BLD_ROW_LANES8, kb);
  }
  values_avx2(G, st, keys, v, v_stride, head_width, correction, ot);
}

/// bld_attention_head_f32 with eight query rows per vector (one per lane), as attention16_avx512: transposed
/// scores per key block, lane-wise online softmax, transposed output accumulators; groups of eight rows run
/// two at a time so each tile loads fewer operands per FMA. Scratch: scores (LANE_KEY_BLOCK x 8 for each of
/// two groups), then per group q transposed and scaled (d x 8), outputs (d x 8), maxima and sums (8 each).
BLD_AVX2 static void attention8_avx2(const float *restrict q, const float *restrict kp, const float *restrict v,
                                     size_t v_stride, float *restrict out, size_t key_count, size_t width,
                                     size_t head_width, size_t row_begin, size_t row_end, float scale, int causal,
                                     float *restrict scratch) {
  const size_t lanes = BLD_ROW_LANES8, block = BLD_ATTENTION_LANE_KEY_BLOCK;
  const size_t rows = row_end - row_begin, groups = (rows + lanes - 1) / lanes;
  const size_t group_floats = 2 * head_width * lanes + 2 * lanes;
  float *scores = (float *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31);  // 32-byte aligned
  float *const st[2] = {scores, scores + block * lanes};
  float *group_base = scores + 2 * block * lanes;
  for (size_t g = 0; g < groups; ++g) {
    float *qt = group_base + g * group_floats, *ot = qt + head_width * lanes;
    float *maxima = ot + head_width * lanes, *sums = maxima + lanes;
    for (size_t lane = 0; lane < lanes; ++lane) {
      const size_t slot = g * lanes + lane;
      const float *row = q + (row_begin + slot) * width;
      for (size_t c = 0; c < head_width; ++c) qt[c * lanes + lane] = slot < rows ? row[c] * scale : 0.0f;
    }
    for (size_t i = 0; i < head_width * lanes; ++i) ot[i] = 0.0f;
    for (size_t lane = 0; lane < lanes; ++lane) maxima[lane] = -INFINITY, sums[lane] = 0.0f;
  }
  const size_t visible = causal && row_end < key_count ? row_end : key_count;
  for (size_t kb = 0; kb < visible; kb += block) {
    const size_t block_keys = visible - kb < block ? visible - kb : block;
    const float *kp_block = kp + kb * head_width, *v_block = v + kb * v_stride;
    for (size_t g0 = 0; g0 < groups; g0 += 2) {
      const int G = groups - g0 < 2 ? 1 : 2;
      const size_t first_row = row_begin + g0 * lanes;
      const size_t end_row = first_row + (size_t)G * lanes < row_end ? first_row + (size_t)G * lanes : row_end;
      size_t keys = block_keys;  // keys of this block any row of the groups sees
      if (causal) keys = end_row <= kb ? 0 : (end_row - kb < keys ? end_row - kb : keys);
      if (keys == 0) continue;
      float *qt[2], *ot[2];
      for (int g = 0; g < G; ++g) {
        qt[g] = group_base + (g0 + (size_t)g) * group_floats;
        ot[g] = qt[g] + head_width * lanes;
      }
      if (G == 2) {
        block_groups_avx2(2, qt, ot, st, kp_block, v_block, v_stride, head_width, keys, causal, first_row, kb);
      } else {
        block_groups_avx2(1, qt, ot, st, kp_block, v_block, v_stride, head_width, keys, causal, first_row, kb);
      }
    }
  }
  for (size_t g = 0; g < groups; ++g) {
    const float *qt = group_base + g * group_floats, *ot = qt + head_width * lanes;
    const float *sums = ot + head_width * lanes + lanes;
    for (size_t lane = 0; lane < lanes && g * lanes + lane < rows; ++lane) {
      const float inverse = 1.0f / sums[lane];
      float *destination = out + (row_begin + g * lanes + lane) * width;
      for (size_t c = 0; c < head_width; ++c) destination[c] = ot[c * lanes + lane] * inverse;
    }
  }
}

// MARK: - AVX-512 path: sixteen query rows in the lanes of a vector

#define BLD_ROW_LANES 16
#define BLD_LANE_BLOCK BLD_ATTENTION_LANE_KEY_BLOCK

/// Scores of one key block for 16 query rows, transposed: st[j][lane] = qt[:, lane] · k[j] for the block's keys
/// (packed panels of 16 keys, zero-padded), so each row's softmax runs down a lane. Returns the lane-wise
/// maximum over the first `valid` keys.
BLD_AVX512 static __m512 scores16_avx512(const float *restrict qt, const float *restrict kp, size_t head_width,
                                         size_t valid, float *restrict st) {
  __m512 maximum = _mm512_set1_ps(-INFINITY);
  for (size_t j = 0; j < valid; j += BLD_KEY_PANEL) {
    const float *panel = kp + j * head_width;
    __m512 a[BLD_KEY_PANEL];
    for (int jj = 0; jj < BLD_KEY_PANEL; ++jj) a[jj] = _mm512_setzero_ps();
    for (size_t c = 0; c < head_width; ++c) {
      const __m512 qc = _mm512_load_ps(qt + c * BLD_ROW_LANES);
      const float *kc = panel + c * BLD_KEY_PANEL;
      for (int jj = 0; jj < BLD_KEY_PANEL; ++jj) a[jj] = _mm512_fmadd_ps(_mm512_set1_ps(kc[jj]), qc, a[jj]);
    }
    for (int jj = 0; jj < BLD_KEY_PANEL; ++jj) _mm512_store_ps(st + (j + jj) * BLD_ROW_LANES, a[jj]);
    if (j + BLD_KEY_PANEL <= valid) {
      for (int jj = 0; jj < BLD_KEY_PANEL; jj += 2) maximum = _mm512_max_ps(maximum, _mm512_max_ps(a[jj], a[jj + 1]));
    } else {
      for (size_t jj = 0; j + jj < valid; ++jj) maximum = _mm512_max_ps(maximum, a[jj]);
    }
  }
  return maximum;
}

/// ot[c][lane] = correction[lane] · ot[c][lane] + Σ_j v[j][c] · pt[j][lane] for NC columns (NC accumulators).
#define BLD_VALUES16(NC)                                                                                      \
  BLD_AVX512 static inline void values16_##NC(const float *restrict pt, size_t keys, const float *restrict v,    \
                                              size_t width, __m512 correction, float *restrict ot) {            \
    __m512 a[NC];                                                                                               \
    for (int cc = 0; cc < NC; ++cc) a[cc] = _mm512_mul_ps(_mm512_load_ps(ot + cc * BLD_ROW_LANES), correction); \
    for (size_t j = 0; j < keys; ++j) {                                                                         \
      const __m512 p = _mm512_load_ps(pt + j * BLD_ROW_LANES);                                                  \
      const float *vj = v + j * width;                                                                          \
      for (int cc = 0; cc < NC; ++cc) a[cc] = _mm512_fmadd_ps(_mm512_set1_ps(vj[cc]), p, a[cc]);                \
    }                                                                                                           \
    for (int cc = 0; cc < NC; ++cc) _mm512_store_ps(ot + cc * BLD_ROW_LANES, a[cc]);                            \
  }
BLD_VALUES16(16)
BLD_VALUES16(8)
BLD_VALUES16(4)
BLD_VALUES16(1)
#undef BLD_VALUES16

/// Attention of up to 16 query rows per pass (one per lane): for each key block, every group of the call
/// computes transposed scores, updates its running maxima and sums down the lanes, and accumulates its
/// transposed outputs. Scratch: scores (KEY_BLOCK x 16), then per group q transposed and scaled (d x 16),
/// outputs (d x 16), maxima and sums (16 each).
BLD_AVX512 static void attention16_avx512(const float *restrict q, const float *restrict kp, const float *restrict v,
                                          size_t v_stride, float *restrict out, size_t key_count, size_t width, size_t head_width,
                                          size_t row_begin, size_t row_end, float scale, int causal,
                                          float *restrict scratch) {
  const size_t rows = row_end - row_begin, groups = (rows + BLD_ROW_LANES - 1) / BLD_ROW_LANES;
  const size_t group_floats = 2 * head_width * BLD_ROW_LANES + 2 * BLD_ROW_LANES;
  float *st = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);  // 64-byte aligned
  float *group_base = st + BLD_LANE_BLOCK * BLD_ROW_LANES;
  for (size_t g = 0; g < groups; ++g) {
    float *qt = group_base + g * group_floats, *ot = qt + head_width * BLD_ROW_LANES;
    float *maxima = ot + head_width * BLD_ROW_LANES, *sums = maxima + BLD_ROW_LANES;
    for (size_t lane = 0; lane < BLD_ROW_LANES; ++lane) {
      const size_t slot = g * BLD_ROW_LANES + lane;
      const float *row = q + (row_begin + slot) * width;
      for (size_t c = 0; c < head_width; ++c) qt[c * BLD_ROW_LANES + lane] = slot < rows ? row[c] * scale : 0.0f;
    }
    for (size_t i = 0; i < head_width * BLD_ROW_LANES; ++i) ot[i] = 0.0f;
    for (size_t lane = 0; lane < BLD_ROW_LANES; ++lane) maxima[lane] = -INFINITY, sums[lane] = 0.0f;
  }
  const size_t visible = causal && row_end < key_count ? row_end : key_count;
  const __m512i lane_index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 minus_infinity = _mm512_set1_ps(-INFINITY);
  for (size_t kb = 0; kb < visible; kb += BLD_LANE_BLOCK) {
    const size_t block_keys = visible - kb < BLD_LANE_BLOCK ? visible - kb : BLD_LANE_BLOCK;
    const float *kp_block = kp + kb * head_width, *v_block = v + kb * v_stride;
    for (size_t g = 0; g < groups; ++g) {
      const size_t first_row = row_begin + g * BLD_ROW_LANES;
      const size_t last_row = first_row + BLD_ROW_LANES - 1 < row_end ? first_row + BLD_ROW_LANES - 1 : row_end - 1;
      size_t keys = block_keys;  // keys of this block any row of the group sees
      if (causal) keys = last_row + 1 <= kb ? 0 : (last_row + 1 - kb < keys ? last_row + 1 - kb : keys);
      if (keys == 0) continue;
      float *qt = group_base + g * group_floats, *ot = qt + head_width * BLD_ROW_LANES;
      float *maxima = ot + head_width * BLD_ROW_LANES, *sums = maxima + BLD_ROW_LANES;
      __m512 block_max = scores16_avx512(qt, kp_block, head_width, keys, st);
      const __m512i lane_row = _mm512_add_epi32(_mm512_set1_epi32((int)first_row), lane_index);
      if (causal) {  // key kb + j is visible to the lane's row when kb + j <= row
        block_max = minus_infinity;
        for (size_t j = 0; j < keys; ++j) {
          const __mmask16 seen = _mm512_cmp_epi32_mask(_mm512_set1_epi32((int)(kb + j)), lane_row, _MM_CMPINT_LE);
          const __m512 s = _mm512_mask_blend_ps(seen, minus_infinity, _mm512_load_ps(st + j * BLD_ROW_LANES));
          _mm512_store_ps(st + j * BLD_ROW_LANES, s);
          block_max = _mm512_max_ps(block_max, s);
        }
      }
      const __m512 old_max = _mm512_load_ps(maxima);
      const __m512 new_max = _mm512_max_ps(old_max, block_max);
      // A lane that has seen no key yet keeps −∞; shift by 0 there so no ∞ − ∞ appears (its weights are 0).
      const __mmask16 finite = _mm512_cmp_ps_mask(new_max, minus_infinity, _CMP_NEQ_OQ);
      const __m512 shift = _mm512_maskz_mov_ps(finite, new_max);
      const __mmask16 had = _mm512_cmp_ps_mask(old_max, minus_infinity, _CMP_NEQ_OQ);
      const __m512 correction = _mm512_maskz_mov_ps(had, bld_exp16(_mm512_sub_ps(old_max, shift)));
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      size_t j = 0;
      if (causal) {  // masked scores are −∞: their weights must be exactly 0
        for (; j < keys; ++j) {
          float *p = st + j * BLD_ROW_LANES;
          const __m512 x = _mm512_load_ps(p);
          const __m512 e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, minus_infinity, _CMP_NEQ_OQ),
                                               bld_exp16(_mm512_sub_ps(x, shift)));
          _mm512_store_ps(p, e);
          s0 = _mm512_add_ps(s0, e);
        }
      }
      for (; j + 4 <= keys; j += 4) {
        float *p = st + j * BLD_ROW_LANES;
        const __m512 x0 = bld_exp16(_mm512_sub_ps(_mm512_load_ps(p), shift));
        const __m512 x1 = bld_exp16(_mm512_sub_ps(_mm512_load_ps(p + 16), shift));
        const __m512 x2 = bld_exp16(_mm512_sub_ps(_mm512_load_ps(p + 32), shift));
        const __m512 x3 = bld_exp16(_mm512_sub_ps(_mm512_load_ps(p + 48), shift));
        _mm512_store_ps(p, x0), _mm512_store_ps(p + 16, x1), _mm512_store_ps(p + 32, x2), _mm512_store_ps(p + 48, x3);
        s0 = _mm512_add_ps(s0, x0), s1 = _mm512_add_ps(s1, x1), s2 = _mm512_add_ps(s2, x2), s3 = _mm512_add_ps(s3, x3);
      }
      for (; j < keys; ++j) {
        float *p = st + j * BLD_ROW_LANES;
        const __m512 x = bld_exp16(_mm512_sub_ps(_mm512_load_ps(p), shift));
        _mm512_store_ps(p, x);
        s0 = _mm512_add_ps(s0, x);
      }
      const __m512 block_sum = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
      _mm512_store_ps(sums, _mm512_fmadd_ps(_mm512_load_ps(sums), correction, block_sum));
      _mm512_store_ps(maxima, new_max);
      size_t c = 0;
      for (; c + 16 <= head_width; c += 16) values16_16(st, keys, v_block + c, v_stride, correction, ot + c * BLD_ROW_LANES);
      for (; c + 8 <= head_width; c += 8) values16_8(st, keys, v_block + c, v_stride, correction, ot + c * BLD_ROW_LANES);
      for (; c + 4 <= head_width; c += 4) values16_4(st, keys, v_block + c, v_stride, correction, ot + c * BLD_ROW_LANES);
      for (; c < head_width; ++c) values16_1(st, keys, v_block + c, v_stride, correction, ot + c * BLD_ROW_LANES);
    }
  }
  for (size_t g = 0; g < groups; ++g) {
    const float *qt = group_base + g * group_floats, *ot = qt + head_width * BLD_ROW_LANES;
    const float *sums = ot + head_width * BLD_ROW_LANES + BLD_ROW_LANES;
    for (size_t lane = 0; lane < BLD_ROW_LANES && g * BLD_ROW_LANES + lane < rows; ++lane) {
      const float inverse = 1.0f / sums[lane];
      float *destination = out + (row_begin + g * BLD_ROW_LANES + lane) * width;
      for (size_t c = 0; c < head_width; ++c) destination[c] = ot[c * BLD_ROW_LANES + lane] * inverse;
    }
  }
}
#endif

void bld_attention_head_f32(const float *restrict q, const float *restrict kp, const float *restrict v,
                            size_t v_stride, float *restrict out, size_t key_count, size_t width, size_t head_width,
                            size_t row_begin, size_t row_end, float scale, int causal, float *restrict scratch) {
  if (row_begin >= row_end) return;
#if BLD_X86_SIMD
  if (bld_has_avx512()) {
    attention16_avx512(q, kp, v, v_stride, out, key_count, width, head_width, row_begin, row_end, scale, causal, scratch);
    return;
  }
  if (bld_has_avx2()) {
    attention8_avx2(q, kp, v, v_stride, out, key_count, width, head_width, row_begin, row_end, scale, causal, scratch);
    return;
  }
#endif
  // Portable path: four query rows per kernel pass. Rows past the block's end repeat its last row in their own accumulator
  // slots (computed, never written out), so kernels run full groups.
  const size_t group = 4;
  const size_t rows = row_end - row_begin, slots = (rows + group - 1) / group * group;
  float *scores = scratch;                                 // group x KEY_BLOCK
  float *acc = scores + group * BLD_ATTENTION_KEY_BLOCK;   // slots x head_width, unnormalised outputs
  float *maxima = acc + slots * head_width;                // running row maxima
  float *sums = maxima + slots;                            // running row sums of exp(s − max)
  for (size_t i = 0; i < slots * head_width; ++i) acc[i] = 0.0f;
  for (size_t i = 0; i < slots; ++i) maxima[i] = -INFINITY, sums[i] = 0.0f;
  // Causal rows see keys 0...row: no row of the block sees past its last row.
  const size_t visible = causal && row_end < key_count ? row_end : key_count;
  for (size_t kb = 0; kb < visible; kb += BLD_ATTENTION_KEY_BLOCK) {
    const size_t block_keys = visible - kb < BLD_ATTENTION_KEY_BLOCK ? visible - kb : BLD_ATTENTION_KEY_BLOCK;
    const float *kp_block = kp + kb * head_width, *v_block = v + kb * v_stride;
    for (size_t g0 = 0; g0 < slots; g0 += group) {
      const size_t last_row = row_begin + (g0 + group < rows ? g0 + group : rows) - 1;
      size_t keys = block_keys;  // keys of this block any row of the group sees
      if (causal) keys = last_row + 1 <= kb ? 0 : (last_row + 1 - kb < keys ? last_row + 1 - kb : keys);
      if (keys == 0) continue;
      const float *qr[4];
      for (size_t r = 0; r < group; ++r) {
        const size_t slot = g0 + r < rows ? g0 + r : rows - 1;
        qr[r] = q + (row_begin + slot) * width;
      }
      scores_scalar(qr, group, kp_block, BLD_ATTENTION_KEY_BLOCK, head_width, keys, scale, scores);
      // Online softmax: exp(s − m_new) in place, sum and earlier outputs rescaled by exp(m_old − m_new).
      for (size_t r = 0; r < group; ++r) {
        const size_t slot = g0 + r, row = row_begin + (slot < rows ? slot : rows - 1);
        float *s = scores + r * BLD_ATTENTION_KEY_BLOCK;
        if (causal && row < kb) {  // this row sees none of the block
          for (size_t j = 0; j < keys; ++j) s[j] = 0.0f;
          continue;
        }
        const size_t valid = causal && row + 1 - kb < keys ? row + 1 - kb : keys;
        const float block_max = bld_row_max_f32(s, valid);
        const float m_new = block_max > maxima[slot] ? block_max : maxima[slot];
        const float correction = maxima[slot] == -INFINITY ? 0.0f : expf(maxima[slot] - m_new);
        sums[slot] = sums[slot] * correction + (float)bld_exp_minus_row_f32(s, keys, valid, m_new);
        maxima[slot] = m_new;
        if (correction != 1.0f) {
          float *o = acc + slot * head_width;
          for (size_t c = 0; c < head_width; ++c) o[c] *= correction;
        }
      }
      float *acc_group = acc + g0 * head_width;
      values_scalar(scores, BLD_ATTENTION_KEY_BLOCK, group, keys, v_block, v_stride, head_width, acc_group);
    }
  }
  for (size_t slot = 0; slot < rows; ++slot) {
    const float inverse = 1.0f / sums[slot];
    const float *o = acc + slot * head_width;
    float *destination = out + (row_begin + slot) * width;
    for (size_t c = 0; c < head_width; ++c) destination[c] = o[c] * inverse;
  }
}
