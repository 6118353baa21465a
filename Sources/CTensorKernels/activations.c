#include "CTensorKernels.h"
#include "simd.h"
#include <math.h>

static inline float gelu_erf(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

static void activation_scalar(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind) {
  switch (kind) {
  case 0:
    for (size_t i = begin; i < end; ++i) y[i] = x[i] / (1.0f + expf(-x[i]));
    break;
  case 1:
    for (size_t i = begin; i < end; ++i) y[i] = gelu_erf(x[i]);
    break;
  case 2:
    for (size_t i = begin; i < end; ++i) {
      const float v = x[i];
      y[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
    break;
  default:
    for (size_t i = begin; i < end; ++i) y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
    break;
  }
}

/// The group-norm affine map, then SiLU when `silu`, over [begin, count), one float at a time: the tail of the
/// vector loops and the portable path. The product and the sum are separate statements, so they are never
/// contracted into an FMA and every build rounds alike.
static inline void affine_silu_scalar(const float *restrict x, float *restrict y, size_t begin, size_t count,
                                      float m, float m_lo, float scale, float shift, int silu) {
  for (size_t i = begin; i < count; ++i) {
    const float scaled = ((x[i] - m) - m_lo) * scale;
    const float value = scaled + shift;
    y[i] = silu ? value / (1.0f + expf(-value)) : value;
  }
}

#if BLD_X86_SIMD
/// x · σ(a·x) for 16 floats.
BLD_AVX512 static inline __m512 sigmoid_gate16(__m512 x, float a) {
  const __m512 e = bld_exp16(_mm512_mul_ps(x, _mm512_set1_ps(-a)));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/// erf for 16 floats: for |x| < 0.5 an odd Taylor polynomial (relative error < 1e-7); otherwise
/// Abramowitz–Stegun 7.1.26 (absolute error < 1.5e-7), as PyTorch's vectorised erf.
BLD_AVX512 static inline __m512 erf16(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), ax, _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 e = bld_exp16(_mm512_mul_ps(_mm512_mul_ps(ax, ax), _mm512_set1_ps(-1.0f)));
  __m512 far = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
  far = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(far), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
  // Near zero: erf(x) = 2/√π (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216).
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 q = _mm512_set1_ps(1.0f / 216.0f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.0f / 42.0f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.0f / 10.0f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.0f / 3.0f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.0f));
  const __m512 near = _mm512_mul_ps(_mm512_mul_ps(q, x), _mm512_set1_ps(1.12837916709551257f));
  const __mmask16 small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.5f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(small, far, near);
}

BLD_AVX512 static inline __m512 gelu16(__m512 x) {
  const __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(half, erf16(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f))), half);
}

/// tanh(u) = sign(u) · (1 − e) / (1 + e) with e = exp(−2|u|) (no cancellation for large |u|).
BLD_AVX512 static inline __m512 gelu_tanh16(__m512 x) {
  const __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.79788456080286536f),
                                 _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), _mm512_mul_ps(x, x), x));
  const __m512 e = bld_exp16(_mm512_mul_ps(_mm512_abs_ps(u), _mm512_set1_ps(-2.0f)));
  __m512 th = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  th = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(th), _mm512_and_si512(_mm512_castps_si512(u), _mm512_set1_epi32((int)0x80000000u))));
  const __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(half, th, half);
}

BLD_AVX512 static void activation_avx512(const float *restrict x, float *restrict y, size_t begin, size_t end,
                                         int kind) {
  size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    __m512 r;
    switch (kind) {
    case 0: r = sigmoid_gate16(v, 1.0f); break;
    case 1: r = gelu16(v); break;
    case 2: r = gelu_tanh16(v); break;
    default: r = sigmoid_gate16(v, 1.702f); break;
    }
    _mm512_storeu_ps(y + i, r);
  }
  activation_scalar(x, y, i, end, kind);
}

BLD_AVX512 static void geglu_avx512(const float *restrict a, float *restrict y, size_t width, size_t row_begin,
                                    size_t row_end) {
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *hidden = a + r * 2 * width;
    const float *gate = hidden + width;
    float *dst = y + r * width;
    size_t j = 0;
    for (; j + 16 <= width; j += 16)
      _mm512_storeu_ps(dst + j, _mm512_mul_ps(_mm512_loadu_ps(hidden + j), gelu16(_mm512_loadu_ps(gate + j))));
    for (; j < width; ++j) dst[j] = hidden[j] * gelu_erf(gate[j]);
  }
}

BLD_AVX512 static void bld_silu_inplace_avx512(float *restrict x, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) _mm512_storeu_ps(x + i, sigmoid_gate16(_mm512_loadu_ps(x + i), 1.0f));
  for (; i < count; ++i) x[i] = x[i] / (1.0f + expf(-x[i]));
}

/// The group-norm affine map, then SiLU when `silu`, 16 floats at a time (multiply and add kept separate, as
/// the scalar loop rounds).
BLD_AVX512 static void affine_silu_avx512(const float *restrict x, float *restrict y, size_t count, float m,
                                          float m_lo, float scale, float shift, int silu) {
  const __m512 vm = _mm512_set1_ps(m), vm_lo = _mm512_set1_ps(m_lo);
  const __m512 vscale = _mm512_set1_ps(scale), vshift = _mm512_set1_ps(shift);
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 centred = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vm_lo);
    const __m512 value = _mm512_add_ps(_mm512_mul_ps(centred, vscale), vshift);
    _mm512_storeu_ps(y + i, silu ? sigmoid_gate16(value, 1.0f) : value);
  }
  affine_silu_scalar(x, y, i, count, m, m_lo, scale, shift, silu);
}

/// x · σ(a·x) for 8 floats.
BLD_AVX2 static inline __m256 sigmoid_gate8(__m256 x, float a) {
  const __m256 e = bld_exp8(_mm256_mul_ps(x, _mm256_set1_ps(-a)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/// erf16's two approximations for 8 floats.
BLD_AVX2 static inline __m256 erf8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 e = bld_exp8(_mm256_mul_ps(_mm256_mul_ps(ax, ax), _mm256_set1_ps(-1.0f)));
  const __m256 far = _mm256_or_ps(_mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f)), _mm256_and_ps(x, sign));
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 q = _mm256_set1_ps(1.0f / 216.0f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.0f / 42.0f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.0f / 10.0f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.0f / 3.0f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.0f));
  const __m256 near = _mm256_mul_ps(_mm256_mul_ps(q, x), _mm256_set1_ps(1.12837916709551257f));
  return _mm256_blendv_ps(far, near, _mm256_cmp_ps(ax, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
}

BLD_AVX2 static inline __m256 gelu8(__m256 x) {
  const __m256 half = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(half, erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f))), half);
}

/// gelu_tanh16 for 8 floats.
BLD_AVX2 static inline __m256 gelu_tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
                                 _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), _mm256_mul_ps(x, x), x));
  const __m256 e = bld_exp8(_mm256_mul_ps(_mm256_andnot_ps(sign, u), _mm256_set1_ps(-2.0f)));
  const __m256 th = _mm256_or_ps(
      _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e), _mm256_add_ps(_mm256_set1_ps(1.0f), e)),
      _mm256_and_ps(u, sign));
  const __m256 half = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(half, th, half);
}

BLD_AVX2 static void activation_avx2(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind) {
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256 r;
    switch (kind) {
    case 0: r = sigmoid_gate8(v, 1.0f); break;
    case 1: r = gelu8(v); break;
    case 2: r = gelu_tanh8(v); break;
    default: r = sigmoid_gate8(v, 1.702f); break;
    }
    _mm256_storeu_ps(y + i, r);
  }
  activation_scalar(x, y, i, end, kind);
}

BLD_AVX2 static void geglu_avx2(const float *restrict a, float *restrict y, size_t width, size_t row_begin,
                                size_t row_end) {
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *hidden = a + r * 2 * width;
    const float *gate = hidden + width;
    float *dst = y + r * width;
    size_t j = 0;
    for (; j + 8 <= width; j += 8)
      _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_loadu_ps(hidden + j), gelu8(_mm256_loadu_ps(gate + j))));
    for (; j < width; ++j) dst[j] = hidden[j] * gelu_erf(gate[j]);
  }
}

BLD_AVX2 static void bld_silu_inplace_avx2(float *restrict x, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(x + i, sigmoid_gate8(_mm256_loadu_ps(x + i), 1.0f));
  for (; i < count; ++i) x[i] = x[i] / (1.0f + expf(-x[i]));
}

/// affine_silu_avx512 with 8 floats at a time.
BLD_AVX2 static void affine_silu_avx2(const float *restrict x, float *restrict y, size_t count, float m,
                                      float m_lo, float scale, float shift, int silu) {
  const __m256 vm = _mm256_set1_ps(m), vm_lo = _mm256_set1_ps(m_lo);
  const __m256 vscale = _mm256_set1_ps(scale), vshift = _mm256_set1_ps(shift);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 centred = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vm_lo);
    const __m256 value = _mm256_add_ps(_mm256_mul_ps(centred, vscale), vshift);
    _mm256_storeu_ps(y + i, silu ? sigmoid_gate8(value, 1.0f) : value);
  }
  affine_silu_scalar(x, y, i, count, m, m_lo, scale, shift, silu);
}
#endif

void bld_affine_silu_f32(const float *restrict x, float *restrict y, size_t count, float m, float m_lo,
                         float scale, float shift, int silu) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) {
    affine_silu_avx512(x, y, count, m, m_lo, scale, shift, silu);
    return;
  }
  if (bld_has_avx2()) {
    affine_silu_avx2(x, y, count, m, m_lo, scale, shift, silu);
    return;
  }
#endif
  affine_silu_scalar(x, y, 0, count, m, m_lo, scale, shift, silu);
}

void bld_activation_f32(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) {
    activation_avx512(x, y, begin, end, kind);
    return;
  }
  if (bld_has_avx2()) {
    activation_avx2(x, y, begin, end, kind);
    return;
  }
#endif
  activation_scalar(x, y, begin, end, kind);
}

void bld_geglu_f32(const float *restrict a, float *restrict y, size_t width, size_t row_begin, size_t row_end) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) {
    geglu_avx512(a, y, width, row_begin, row_end);
    return;
  }
  if (bld_has_avx2()) {
    geglu_avx2(a, y, width, row_begin, row_end);
    return;
  }
#endif
  for (size_t r = row_begin; r < row_end; ++r) {
    const float *hidden = a + r * 2 * width;
    const float *gate = hidden + width;
    float *dst = y + r * width;
    for (size_t j = 0; j < width; ++j) dst[j] = hidden[j] * gelu_erf(gate[j]);
  }
}

void bld_silu_inplace_f32(float *restrict x, size_t count) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) {
    bld_silu_inplace_avx512(x, count);
    return;
  }
  if (bld_has_avx2()) {
    bld_silu_inplace_avx2(x, count);
    return;
  }
#endif
  for (size_t i = 0; i < count; ++i) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void bld_upsample_nearest2x_f32(const float *restrict x, float *restrict y, size_t height, size_t width,
                                size_t plane_begin, size_t plane_end) {
  for (size_t p = plane_begin; p < plane_end; ++p) {
    const float *src = x + p * height * width;
    float *dst = y + p * 4 * height * width;
    for (size_t i = 0; i < height; ++i) {
      float *row = dst + 2 * i * 2 * width;
      for (size_t j = 0; j < width; ++j) {
        const float v = src[i * width + j];
        row[2 * j] = v;
        row[2 * j + 1] = v;
      }
      for (size_t j = 0; j < 2 * width; ++j) row[2 * width + j] = row[j];
    }
  }
}
