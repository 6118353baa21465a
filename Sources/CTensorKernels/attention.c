// Fused multi-head attention for one head and a block of query rows, flash-attention style: keys and values
// are visited in blocks of BLD_ATTENTION_KEY_BLOCK, each block serving every query row of the call before the
// next one is read, with an online softmax (running row maximum and sum; earlier partial outputs rescaled
// when the maximum grows). Only one key block of scores (group rows x block) exists at a time, and a block of
// keys and values (2 x 256 x d floats) stays in L1/L2 while up to 64 query rows use it — instead of every
// eight rows streaming all of a head's keys and values from L3 (4096 keys x 40 floats: 640 KB each).
#include "CTensorKernels.h"
#include "simd.h"
#include <math.h>
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

// MARK: - AVX2 path (four query rows at a time)

#if BLD_X86_SIMD
BLD_AVX2 static void scores_avx2(const float *const q[4], const float *restrict kp, size_t stride,
                                 size_t head_width, size_t keys, float scale, float *restrict s) {
  float *s0 = s, *s1 = s + stride, *s2 = s + 2 * stride, *s3 = s + 3 * stride;
  const __m256 f = _mm256_set1_ps(scale);
  for (size_t j = 0; j < keys; j += BLD_KEY_PANEL) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    const float *kc = kp + j * head_width;  // panel j / 16: [head_width][16], contiguous
    for (size_t c = 0; c < head_width; ++c, kc += BLD_KEY_PANEL) {
      const __m256 k0 = _mm256_loadu_ps(kc), k1 = _mm256_loadu_ps(kc + 8);
      __m256 b = _mm256_broadcast_ss(q[0] + c);
      a00 = _mm256_fmadd_ps(b, k0, a00);
      a01 = _mm256_fmadd_ps(b, k1, a01);
      b = _mm256_broadcast_ss(q[1] + c);
      a10 = _mm256_fmadd_ps(b, k0, a10);
      a11 = _mm256_fmadd_ps(b, k1, a11);
      b = _mm256_broadcast_ss(q[2] + c);
      a20 = _mm256_fmadd_ps(b, k0, a20);
      a21 = _mm256_fmadd_ps(b, k1, a21);
      b = _mm256_broadcast_ss(q[3] + c);
      a30 = _mm256_fmadd_ps(b, k0, a30);
      a31 = _mm256_fmadd_ps(b, k1, a31);
    }
    _mm256_storeu_ps(s0 + j, _mm256_mul_ps(a00, f)); _mm256_storeu_ps(s0 + j + 8, _mm256_mul_ps(a01, f));
    _mm256_storeu_ps(s1 + j, _mm256_mul_ps(a10, f)); _mm256_storeu_ps(s1 + j + 8, _mm256_mul_ps(a11, f));
    _mm256_storeu_ps(s2 + j, _mm256_mul_ps(a20, f)); _mm256_storeu_ps(s2 + j + 8, _mm256_mul_ps(a21, f));
    _mm256_storeu_ps(s3 + j, _mm256_mul_ps(a30, f)); _mm256_storeu_ps(s3 + j + 8, _mm256_mul_ps(a31, f));
  }
}

BLD_AVX2 static void values_avx2(const float *restrict s, size_t stride, size_t keys, const float *restrict v,
                                 size_t width, size_t head_width, float *restrict acc) {
  const float *p0 = s, *p1 = s + stride, *p2 = s + 2 * stride, *p3 = s + 3 * stride;
  float *o0 = acc, *o1 = acc + head_width, *o2 = acc + 2 * head_width, *o3 = acc + 3 * head_width;
  size_t c = 0;
  for (; c + 16 <= head_width; c += 16) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    const float *vj = v + c;
    for (size_t j = 0; j < keys; ++j, vj += width) {
      const __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8);
      __m256 b = _mm256_broadcast_ss(p0 + j);
      a00 = _mm256_fmadd_ps(b, v0, a00);
      a01 = _mm256_fmadd_ps(b, v1, a01);
      b = _mm256_broadcast_ss(p1 + j);
      a10 = _mm256_fmadd_ps(b, v0, a10);
      a11 = _mm256_fmadd_ps(b, v1, a11);
      b = _mm256_broadcast_ss(p2 + j);
      a20 = _mm256_fmadd_ps(b, v0, a20);
      a21 = _mm256_fmadd_ps(b, v1, a21);
      b = _mm256_broadcast_ss(p3 + j);
      a30 = _mm256_fmadd_ps(b, v0, a30);
      a31 = _mm256_fmadd_ps(b, v1, a31);
    }
#define BLD_ADD(o, x) _mm256_storeu_ps((o), _mm256_add_ps(_mm256_loadu_ps(o), (x)))
    BLD_ADD(o0 + c, a00); BLD_ADD(o0 + c + 8, a01); BLD_ADD(o1 + c, a10); BLD_ADD(o1 + c + 8, a11);
    BLD_ADD(o2 + c, a20); BLD_ADD(o2 + c + 8, a21); BLD_ADD(o3 + c, a30); BLD_ADD(o3 + c + 8, a31);
  }
  for (; c + 8 <= head_width; c += 8) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *vj = v + c;
    for (size_t j = 0; j < keys; ++j, vj += width) {
      const __m256 v0 = _mm256_loadu_ps(vj);
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(p0 + j), v0, a0);
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(p1 + j), v0, a1);
      a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(p2 + j), v0, a2);
      a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(p3 + j), v0, a3);
    }
    BLD_ADD(o0 + c, a0); BLD_ADD(o1 + c, a1); BLD_ADD(o2 + c, a2); BLD_ADD(o3 + c, a3);
#undef BLD_ADD
  }
  for (; c < head_width; ++c) {
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (size_t j = 0; j < keys; ++j) {
      const float vv = v[j * width + c];
      t0 += p0[j] * vv; t1 += p1[j] * vv; t2 += p2[j] * vv; t3 += p3[j] * vv;
    }
    o0[c] += t0; o1[c] += t1; o2[c] += t2; o3[c] += t3;
  }
}

// Eight query rows at a time (AVX-512 only): 32 registers hold 8 rows x 2-3 vectors of accumulators.

/// Scores for eight rows: two key panels (32 keys) × eight rows per step, 16 accumulators.
BLD_AVX512 static void scores8_avx512(const float *const q[8], const float *restrict kp, size_t stride,
                                      size_t head_width, size_t keys, float scale, float *restrict s) {
  const __m512 f = _mm512_set1_ps(scale);
  const size_t padded = bld_padded_key_count(keys);
  size_t j = 0;
  for (; j + 2 * BLD_KEY_PANEL <= padded; j += 2 * BLD_KEY_PANEL) {
    __m512 a[8][2];
    for (int r = 0; r < 8; ++r) a[r][0] = a[r][1] = _mm512_setzero_ps();
    const float *k0p = kp + j * head_width, *k1p = k0p + BLD_KEY_PANEL * head_width;
    for (size_t c = 0; c < head_width; ++c) {
      const __m512 k0 = _mm512_loadu_ps(k0p + c * BLD_KEY_PANEL), k1 = _mm512_loadu_ps(k1p + c * BLD_KEY_PANEL);
      for (int r = 0; r < 8; ++r) {
        const __m512 b = _mm512_set1_ps(q[r][c]);
        a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]);
        a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
      }
    }
    for (int r = 0; r < 8; ++r) {
      _mm512_storeu_ps(s + r * stride + j, _mm512_mul_ps(a[r][0], f));
      _mm512_storeu_ps(s + r * stride + j + 16, _mm512_mul_ps(a[r][1], f));
    }
  }
  if (j < keys) {  // one last panel
    __m512 a[8];
    for (int r = 0; r < 8; ++r) a[r] = _mm512_setzero_ps();
    const float *k0p = kp + j * head_width;
    for (size_t c = 0; c < head_width; ++c) {
      const __m512 k0 = _mm512_loadu_ps(k0p + c * BLD_KEY_PANEL);
      for (int r = 0; r < 8; ++r) a[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r][c]), k0, a[r]);
    }
    for (int r = 0; r < 8; ++r) _mm512_storeu_ps(s + r * stride + j, _mm512_mul_ps(a[r], f));
  }
}

/// Values for eight rows and `nv` ≤ 3 column vectors of 16 starting at column c (24 accumulators at most),
/// added to the rows of `acc` (head_width apart).
BLD_AVX512 __attribute__((always_inline)) static inline void values8_avx512_chunk(
    const float *const p[8], size_t keys, const float *restrict v, size_t width, size_t c, size_t count,
    const int nv, size_t head_width, float *restrict acc) {
  __mmask16 mask[3];
  for (int t = 0; t < 3; ++t) {
    const long left = (long)count - 16 * t;
    mask[t] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
  }
  __m512 sum[8][3];
  for (int r = 0; r < 8; ++r)
    for (int t = 0; t < 3; ++t) sum[r][t] = _mm512_setzero_ps();
  const float *vj = v + c;
  for (size_t j = 0; j < keys; ++j, vj += width) {
    __m512 x[3];
    for (int t = 0; t < nv; ++t) x[t] = _mm512_maskz_loadu_ps(mask[t], vj + 16 * t);
    for (int r = 0; r < 8; ++r) {
      const __m512 b = _mm512_set1_ps(p[r][j]);
      for (int t = 0; t < nv; ++t) sum[r][t] = _mm512_fmadd_ps(b, x[t], sum[r][t]);
    }
  }
  for (int r = 0; r < 8; ++r) {
    float *o = acc + r * head_width + c;
    for (int t = 0; t < nv; ++t)
      _mm512_mask_storeu_ps(o + 16 * t, mask[t], _mm512_add_ps(_mm512_maskz_loadu_ps(mask[t], o + 16 * t), sum[r][t]));
  }
}

BLD_AVX512 static void values8_avx512(const float *restrict s, size_t stride, size_t keys, const float *restrict v,
                                      size_t width, size_t head_width, float *restrict acc) {
  const float *p[8];
  for (int r = 0; r < 8; ++r) p[r] = s + r * stride;
  for (size_t c = 0; c < head_width; c += 48) {
    const size_t count = head_width - c < 48 ? head_width - c : 48;
    if (count > 32) values8_avx512_chunk(p, keys, v, width, c, count, 3, head_width, acc);
    else if (count > 16) values8_avx512_chunk(p, keys, v, width, c, count, 2, head_width, acc);
    else values8_avx512_chunk(p, keys, v, width, c, count, 1, head_width, acc);
  }
}
#endif

void bld_attention_head_f32(const float *restrict q, const float *restrict kp, const float *restrict v,
                            float *restrict out, size_t key_count, size_t width, size_t head_width,
                            size_t row_begin, size_t row_end, float scale, int causal, float *restrict scratch) {
  if (row_begin >= row_end) return;
  const int simd = bld_has_avx2();
  const int wide = bld_has_avx512();
  // AVX-512 takes eight query rows per kernel pass, the other levels four. Rows past the block's end repeat
  // its last row in their own accumulator slots (computed, never written out), so kernels run full groups.
  const size_t group = wide ? 8 : 4;
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
    const float *kp_block = kp + kb * head_width, *v_block = v + kb * width;
    for (size_t g0 = 0; g0 < slots; g0 += group) {
      const size_t last_row = row_begin + (g0 + group < rows ? g0 + group : rows) - 1;
      size_t keys = block_keys;  // keys of this block any row of the group sees
      if (causal) keys = last_row + 1 <= kb ? 0 : (last_row + 1 - kb < keys ? last_row + 1 - kb : keys);
      if (keys == 0) continue;
      const float *qr[8];
      for (size_t r = 0; r < group; ++r) {
        const size_t slot = g0 + r < rows ? g0 + r : rows - 1;
        qr[r] = q + (row_begin + slot) * width;
      }
#if BLD_X86_SIMD
      if (wide) scores8_avx512(qr, kp_block, BLD_ATTENTION_KEY_BLOCK, head_width, keys, scale, scores);
      else if (simd) scores_avx2(qr, kp_block, BLD_ATTENTION_KEY_BLOCK, head_width, keys, scale, scores);
      else scores_scalar(qr, group, kp_block, BLD_ATTENTION_KEY_BLOCK, head_width, keys, scale, scores);
#else
      scores_scalar(qr, group, kp_block, BLD_ATTENTION_KEY_BLOCK, head_width, keys, scale, scores);
#endif
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
#if BLD_X86_SIMD
      if (wide) values8_avx512(scores, BLD_ATTENTION_KEY_BLOCK, keys, v_block, width, head_width, acc_group);
      else if (simd) values_avx2(scores, BLD_ATTENTION_KEY_BLOCK, keys, v_block, width, head_width, acc_group);
      else values_scalar(scores, BLD_ATTENTION_KEY_BLOCK, group, keys, v_block, width, head_width, acc_group);
#else
      values_scalar(scores, BLD_ATTENTION_KEY_BLOCK, group, keys, v_block, width, head_width, acc_group);
#endif
    }
  }
  for (size_t slot = 0; slot < rows; ++slot) {
    const float inverse = 1.0f / sums[slot];
    const float *o = acc + slot * head_width;
    float *destination = out + (row_begin + slot) * width;
    for (size_t c = 0; c < head_width; ++c) destination[c] = o[c] * inverse;
  }
}
