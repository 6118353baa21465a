// Sums of float arrays in double precision, vectorised: the reductions of the group- and layer-norm statistics and
// of the bias gradients.
#include "simd.h"

static double sum_scalar(const float *restrict x, size_t n, double center, int squared) {
  double total = 0.0;
  if (squared) {
    for (size_t i = 0; i < n; ++i) {
      const double d = x[i] - center;
      total += d * d;
    }
  } else {
    for (size_t i = 0; i < n; ++i) total += x[i];
  }
  return total;
}

#if BLD_X86_SIMD
/// Eight floats per step, widened to two vectors of four doubles.
BLD_AVX2 static double sum_avx2(const float *restrict x, size_t n, double center, int squared) {
  const __m256d vc = _mm256_set1_pd(center);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    if (squared) {
      lo = _mm256_sub_pd(lo, vc);
      hi = _mm256_sub_pd(hi, vc);
      a0 = _mm256_fmadd_pd(lo, lo, a0);
      a1 = _mm256_fmadd_pd(hi, hi, a1);
    } else {
      a0 = _mm256_add_pd(a0, lo);
      a1 = _mm256_add_pd(a1, hi);
    }
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + sum_scalar(x + i, n - i, center, squared);
}

/// Sixteen floats per step, widened to two vectors of eight doubles (the order of the additions differs from the
/// scalar loop's, by rounding in double precision only).
BLD_AVX512 static double sum_avx512(const float *restrict x, size_t n, double center, int squared) {
  const __m512d vc = _mm512_set1_pd(center);
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    if (squared) {
      lo = _mm512_sub_pd(lo, vc);
      hi = _mm512_sub_pd(hi, vc);
      a0 = _mm512_fmadd_pd(lo, lo, a0);
      a1 = _mm512_fmadd_pd(hi, hi, a1);
    } else {
      a0 = _mm512_add_pd(a0, lo);
      a1 = _mm512_add_pd(a1, hi);
    }
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)) + sum_scalar(x + i, n - i, center, squared);
}
#endif

double bld_sum_f32(const float *restrict x, size_t n, double center, int squared) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) return sum_avx512(x, n, center, squared);
  if (bld_has_avx2()) return sum_avx2(x, n, center, squared);
#endif
  return sum_scalar(x, n, center, squared);
}
