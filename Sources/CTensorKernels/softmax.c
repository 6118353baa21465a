#include "CTensorKernels.h"
#include "simd.h"
#include <math.h>

/// Softmax of one row's first `valid` entries in place after scaling; the rest become 0.
static void softmax_row_scalar(float *restrict row, size_t width, size_t valid, float scale) {
  float maximum = -INFINITY;
  for (size_t i = 0; i < valid; ++i) {
    const float v = row[i] * scale;
    row[i] = v;
    if (v > maximum) maximum = v;
  }
  double sum = 0.0;  // double: a float running sum over thousands of keys loses ~1e-5
  for (size_t i = 0; i < valid; ++i) {
    const float e = expf(row[i] - maximum);
    row[i] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / sum);
  for (size_t i = 0; i < valid; ++i) row[i] *= inv;
  for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
}

#if BLD_X86_SIMD
BLD_AVX2 static void softmax_row_avx2(float *restrict row, size_t width, size_t valid, float scale) {
  const size_t vector_end = valid & ~(size_t)7;
  const __m256 scale8 = _mm256_set1_ps(scale);
  __m256 max8 = _mm256_set1_ps(-INFINITY);
  for (size_t i = 0; i < vector_end; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + i), scale8);
    _mm256_storeu_ps(row + i, v);
    max8 = _mm256_max_ps(max8, v);
  }
  float maximum = bld_hmax8(max8);
  for (size_t i = vector_end; i < valid; ++i) {
    row[i] *= scale;
    if (row[i] > maximum) maximum = row[i];
  }
  const __m256 m8 = _mm256_set1_ps(maximum);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();  // double sums, as the scalar path
  for (size_t i = 0; i < vector_end; i += 8) {
    const __m256 e = bld_exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(row + i), m8));
    _mm256_storeu_ps(row + i, e);
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (size_t i = vector_end; i < valid; ++i) {
    const float e = expf(row[i] - maximum);
    row[i] = e;
    sum += e;
  }
  const __m256 inv8 = _mm256_set1_ps((float)(1.0 / sum));
  for (size_t i = 0; i < vector_end; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), inv8));
  const float inv = (float)(1.0 / sum);
  for (size_t i = vector_end; i < valid; ++i) row[i] *= inv;
  for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
}
#endif

static float row_max_scalar(const float *restrict row, size_t valid) {
  float maximum = -INFINITY;
  for (size_t i = 0; i < valid; ++i) maximum = row[i] > maximum ? row[i] : maximum;
  return maximum;
}

static double exp_minus_scalar(float *restrict row, size_t width, size_t valid, float shift) {
  double sum = 0.0;
  for (size_t i = 0; i < valid; ++i) {
    row[i] = expf(row[i] - shift);
    sum += row[i];
  }
  for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
  return sum;
}

#if BLD_X86_SIMD
BLD_AVX2 static float row_max_avx2(const float *restrict row, size_t valid) {
  const size_t vector_end = valid & ~(size_t)7;
  __m256 max8 = _mm256_set1_ps(-INFINITY);
  for (size_t i = 0; i < vector_end; i += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(row + i));
  float maximum = bld_hmax8(max8);
  for (size_t i = vector_end; i < valid; ++i) maximum = row[i] > maximum ? row[i] : maximum;
  return maximum;
}

BLD_AVX2 static double exp_minus_avx2(float *restrict row, size_t width, size_t valid, float shift) {
  const size_t vector_end = valid & ~(size_t)7;
  const __m256 m8 = _mm256_set1_ps(shift);
  // Two double accumulators of 4 lanes: precise, and no serial dependency on one scalar sum.
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (size_t i = 0; i < vector_end; i += 8) {
    const __m256 e = bld_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), m8));
    _mm256_storeu_ps(row + i, e);
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (size_t i = vector_end; i < valid; ++i) {
    row[i] = expf(row[i] - shift);
    sum += row[i];
  }
  for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
  return sum;
}

BLD_AVX512 static float row_max_avx512(const float *restrict row, size_t valid) {
  const size_t vector_end = valid & ~(size_t)15;
  __m512 max16 = _mm512_set1_ps(-INFINITY);
  for (size_t i = 0; i < vector_end; i += 16) max16 = _mm512_max_ps(max16, _mm512_loadu_ps(row + i));
  float maximum = _mm512_reduce_max_ps(max16);
  for (size_t i = vector_end; i < valid; ++i) maximum = row[i] > maximum ? row[i] : maximum;
  return maximum;
}

BLD_AVX512 static double exp_minus_avx512(float *restrict row, size_t width, size_t valid, float shift) {
  const size_t vector_end = valid & ~(size_t)15;
  const __m512 m16 = _mm512_set1_ps(shift);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();  // double sums
  for (size_t i = 0; i < vector_end; i += 16) {
    const __m512 e = bld_exp16(_mm512_sub_ps(_mm512_loadu_ps(row + i), m16));
    _mm512_storeu_ps(row + i, e);
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  double sum = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
  for (size_t i = vector_end; i < valid; ++i) {
    row[i] = expf(row[i] - shift);
    sum += row[i];
  }
  for (size_t i = valid; i < width; ++i) row[i] = 0.0f;
  return sum;
}
#endif

float bld_row_max_f32(const float *restrict row, size_t valid) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) return row_max_avx512(row, valid);
  if (bld_has_avx2()) return row_max_avx2(row, valid);
#endif
  return row_max_scalar(row, valid);
}

double bld_exp_minus_row_f32(float *restrict row, size_t width, size_t valid, float shift) {
#if BLD_X86_SIMD
  if (bld_has_avx512()) return exp_minus_avx512(row, width, valid, shift);
  if (bld_has_avx2()) return exp_minus_avx2(row, width, valid, shift);
#endif
  return exp_minus_scalar(row, width, valid, shift);
}

void bld_softmax_row_f32(float *restrict row, size_t width, size_t valid, float scale) {
#if BLD_X86_SIMD
  if (bld_has_avx2()) {
    softmax_row_avx2(row, width, valid, scale);
    return;
  }
#endif
  softmax_row_scalar(row, width, valid, scale);
}

void bld_softmax_rows_f32(float *restrict x, size_t width, size_t row_begin, size_t row_end,
                          float scale, int causal, size_t causal_offset) {
  for (size_t r = row_begin; r < row_end; ++r) {
    size_t valid = width;
    if (causal) {
      valid = r + causal_offset + 1;
      if (valid > width) valid = width;
    }
    bld_softmax_row_f32(x + r * width, width, valid, scale);
  }
}
