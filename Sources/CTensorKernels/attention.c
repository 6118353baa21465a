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

/// out[r][:] = inv[r] · Σ_j s[r][j] · v[j][:] (s holds unnormalised softmax weights, inv their 1 / sum).
static void values_scalar(const float *restrict s, size_t key_count, size_t rows, size_t keys,
                          const float *restrict v, size_t width, size_t head_width, const float inv[4],
                          float *const out[4]) {
  for (size_t r = 0; r < rows; ++r) {
    float *o = out[r];
    for (size_t c = 0; c < head_width; ++c) o[c] = 0.0f;
    const float *p = s + r * key_count;
    for (size_t j = 0; j < keys; ++j) {
      const float w = p[j];
      const float *vj = v + j * width;
      for (size_t c = 0; c < head_width; ++c) o[c] += w * vj[c];
    }
    for (size_t c = 0; c < head_width; ++c) o[c] *= inv[r];
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

BLD_AVX2 static void values_avx2(const float *restrict s, size_t key_count, size_t keys, const float *restrict v,
                                 size_t width, size_t head_width, const float inv[4], float *const out[4]) {
  const float *p0 = s, *p1 = s + key_count, *p2 = s + 2 * key_count, *p3 = s + 3 * key_count;
  const __m256 i0 = _mm256_set1_ps(inv[0]), i1 = _mm256_set1_ps(inv[1]), i2 = _mm256_set1_ps(inv[2]),
               i3 = _mm256_set1_ps(inv[3]);
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
    _mm256_storeu_ps(out[0] + c, _mm256_mul_ps(a00, i0)); _mm256_storeu_ps(out[0] + c + 8, _mm256_mul_ps(a01, i0));
    _mm256_storeu_ps(out[1] + c, _mm256_mul_ps(a10, i1)); _mm256_storeu_ps(out[1] + c + 8, _mm256_mul_ps(a11, i1));
    _mm256_storeu_ps(out[2] + c, _mm256_mul_ps(a20, i2)); _mm256_storeu_ps(out[2] + c + 8, _mm256_mul_ps(a21, i2));
    _mm256_storeu_ps(out[3] + c, _mm256_mul_ps(a30, i3)); _mm256_storeu_ps(out[3] + c + 8, _mm256_mul_ps(a31, i3));
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
    _mm256_storeu_ps(out[0] + c, _mm256_mul_ps(a0, i0)); _mm256_storeu_ps(out[1] + c, _mm256_mul_ps(a1, i1));
    _mm256_storeu_ps(out[2] + c, _mm256_mul_ps(a2, i2)); _mm256_storeu_ps(out[3] + c, _mm256_mul_ps(a3, i3));
  }
  for (; c < head_width; ++c) {
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (size_t j = 0; j < keys; ++j) {
      const float vv = v[j * width + c];
      t0 += p0[j] * vv; t1 += p1[j] * vv; t2 += p2[j] * vv; t3 += p3[j] * vv;
    }
    out[0][c] = t0 * inv[0]; out[1][c] = t1 * inv[1]; out[2][c] = t2 * inv[2]; out[3][c] = t3 * inv[3];
  }
}

// Eight query rows at a time (AVX-512 only): each pass over a head's packed keys and values serves twice as
// many rows as the four-row kernels, halving the key/value traffic, which at 4096 keys × 40 floats (640 KB
// each) does not stay in L2.

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

/// Values for eight rows and `nv` ≤ 3 column vectors of 16 starting at column c (24 accumulators at most).
BLD_AVX512 __attribute__((always_inline)) static inline void values8_avx512_chunk(
    const float *const p[8], size_t keys, const float *restrict v, size_t width, size_t c, size_t count,
    const int nv, const float inv[8], float *const out[8]) {
  __mmask16 mask[3];
  for (int t = 0; t < 3; ++t) {
    const long left = (long)count - 16 * t;
    mask[t] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
  }
  __m512 acc[8][3];
  for (int r = 0; r < 8; ++r)
    for (int t = 0; t < 3; ++t) acc[r][t] = _mm512_setzero_ps();
  const float *vj = v + c;
  for (size_t j = 0; j < keys; ++j, vj += width) {
    __m512 x[3];
    for (int t = 0; t < nv; ++t) x[t] = _mm512_maskz_loadu_ps(mask[t], vj + 16 * t);
    for (int r = 0; r < 8; ++r) {
      const __m512 b = _mm512_set1_ps(p[r][j]);
      for (int t = 0; t < nv; ++t) acc[r][t] = _mm512_fmadd_ps(b, x[t], acc[r][t]);
    }
  }
  for (int r = 0; r < 8; ++r) {
    const __m512 scale = _mm512_set1_ps(inv[r]);
    for (int t = 0; t < nv; ++t) _mm512_mask_storeu_ps(out[r] + c + 16 * t, mask[t], _mm512_mul_ps(acc[r][t], scale));
  }
}

BLD_AVX512 static void values8_avx512(const float *restrict s, size_t stride, size_t keys, const float *restrict v,
                                      size_t width, size_t head_width, const float inv[8], float *const out[8]) {
  const float *p[8];
  for (int r = 0; r < 8; ++r) p[r] = s + r * stride;
  for (size_t c = 0; c < head_width; c += 48) {
    const size_t count = head_width - c < 48 ? head_width - c : 48;
    if (count > 32) values8_avx512_chunk(p, keys, v, width, c, count, 3, inv, out);
    else if (count > 16) values8_avx512_chunk(p, keys, v, width, c, count, 2, inv, out);
    else values8_avx512_chunk(p, keys, v, width, c, count, 1, inv, out);
  }
}
#endif

void bld_attention_head_f32(const float *restrict q, const float *restrict kp, const float *restrict v,
                            float *restrict out, size_t key_count, size_t width, size_t head_width,
                            size_t row_begin, size_t row_end, float scale, int causal, float *restrict scores) {
  const int simd = bld_has_avx2();
  const int wide = bld_has_avx512();
  const size_t stride = bld_padded_key_count(key_count);  // score rows cover whole key panels
  // AVX-512 takes eight query rows per pass, the other levels four.
#if BLD_X86_SIMD
  const size_t group = wide ? 8 : 4;
#else
  const size_t group = 4;
#endif
  for (size_t r0 = row_begin; r0 < row_end; r0 += group) {
    const size_t rows = row_end - r0 < group ? row_end - r0 : group;
    // Keys any row of this group may see; rows past the group's end repeat its last row (same result,
    // written twice) so the kernels always run full groups.
    size_t keys = key_count;
    if (causal && r0 + rows < keys) keys = r0 + rows;
    const float *qr[8];
    float *orow[8];
    for (size_t r = 0; r < group; ++r) {
      const size_t row = r0 + (r < rows ? r : rows - 1);
      qr[r] = q + row * width;
      orow[r] = out + row * width;
    }
#if BLD_X86_SIMD
    if (wide) scores8_avx512(qr, kp, stride, head_width, keys, scale, scores);
    else if (simd) scores_avx2(qr, kp, stride, head_width, keys, scale, scores);
    else scores_scalar(qr, rows, kp, stride, head_width, keys, scale, scores);
#else
    scores_scalar(qr, rows, kp, stride, head_width, keys, scale, scores);
#endif
    // The SIMD paths filled every score row of the group (duplicates included) and read them all back.
    // Unnormalised weights exp(s − max); the 1 / sum is applied to the output rows instead.
    const size_t filled = simd ? group : rows;
    float inv[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (size_t r = 0; r < filled; ++r) {
      const size_t row = r0 + (r < rows ? r : rows - 1);
      const size_t valid = causal && row + 1 < keys ? row + 1 : keys;
      inv[r] = (float)(1.0 / bld_exp_shifted_row_f32(scores + r * stride, keys, valid));
    }
#if BLD_X86_SIMD
    if (wide) values8_avx512(scores, stride, keys, v, width, head_width, inv, orow);
    else if (simd) values_avx2(scores, stride, keys, v, width, head_width, inv, orow);
    else values_scalar(scores, stride, rows, keys, v, width, head_width, inv, orow);
#else
    values_scalar(scores, stride, rows, keys, v, width, head_width, inv, orow);
#endif
  }
}
