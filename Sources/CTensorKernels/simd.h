// Private helpers for the x86-64 AVX2/FMA and AVX-512F paths of the kernels. Functions using them carry
// `BLD_AVX2` / `BLD_AVX512` (target attributes), so the package builds without -mavx2 and the caller picks the
// path at run time with bld_has_avx2() / bld_has_avx512(); every kernel keeps a portable scalar path.
#ifndef BLD_SIMD_H
#define BLD_SIMD_H

#include "CTensorKernels.h"
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define BLD_X86_SIMD 1
#include <immintrin.h>
#define BLD_AVX2 __attribute__((target("avx2,fma")))

/// Whether the AVX2 + FMA paths run (the CPU has them and bld_set_simd_limit allows them).
static inline int bld_has_avx2(void) { return bld_simd_level() >= 1; }

/// The core of bld_exp8 and bld_exp8_nonpositive for an already clamped x: n = round(x / ln 2) into *n and
/// the Cephes polynomial p ≈ exp(x − n ln 2) on [−ln2/2, ln2/2] returned, so exp(x) = p · 2^n.
BLD_AVX2 static inline __m256 bld_exp8_reduced(__m256 x, __m256i *n) {
  const __m256 rounded = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(rounded, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(rounded, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  *n = _mm256_cvtps_epi32(rounded);
  return _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
}

/// exp(x) for 8 floats (Cephes-style: 2^n · polynomial on [−ln2/2, ln2/2]); about 2 ulp, inputs clamped to
/// [−87.3, 88.7] (results below ~1e-38 flush towards zero, as in softmax they are negligible anyway).
BLD_AVX2 static inline __m256 bld_exp8(__m256 x) {
  __m256i e;
  const __m256 p =
      bld_exp8_reduced(_mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.72283f)), &e);
  // 2^n through the exponent bits; n ∈ [−126, 128] after the clamp, 2^128 is avoided by splitting.
  const __m256i half = _mm256_srai_epi32(e, 1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(e, half), _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/// bld_exp8 for inputs ≤ 0 (softmax's exp(s − max)), with the same results: no upper clamp, and 2^n in one
/// step, since n ∈ [−126, 0] has a normal power of two. Five operations fewer than bld_exp8.
BLD_AVX2 static inline __m256 bld_exp8_nonpositive(__m256 x) {
  __m256i e;
  const __m256 p = bld_exp8_reduced(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), &e);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23)));
}

#define BLD_AVX512 __attribute__((target("avx512f")))

/// Whether the AVX-512F paths run (the CPU has them and bld_set_simd_limit allows them).
static inline int bld_has_avx512(void) { return bld_simd_level() >= 2; }

/// exp(x) for 16 floats: the polynomial of bld_exp8, scaled by 2^n with vscalefps.
BLD_AVX512 static inline __m512 bld_exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

/// The sum of the 8 lanes.
BLD_AVX2 static inline float bld_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// The maximum of the 8 lanes.
BLD_AVX2 static inline float bld_hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
#define BLD_X86_SIMD 0
static inline int bld_has_avx2(void) { return 0; }
static inline int bld_has_avx512(void) { return 0; }
#endif

#endif
