// The Adam update of one parameter tensor, in place: PyTorch's single-tensor order of operations, each product,
// sum, square root and quotient rounded on its own (no FMA contraction), so every vector level gives the bits
// the scalar formula gives.
#include "CTensorKernels.h"
#include "simd.h"
#include <math.h>

#pragma STDC FP_CONTRACT OFF

/// Elements [begin, end) one at a time: the tail of the vector loops and the portable path.
static void adam_scalar(float *restrict theta, const float *restrict g, float *restrict m, float *restrict v,
                        size_t begin, size_t end, float beta1, float beta2, float step_size, float correction2_root,
                        float epsilon) {
  const float keep1 = 1.0f - beta1, keep2 = 1.0f - beta2;
  for (size_t i = begin; i < end; ++i) {
    const float decayed1 = beta1 * m[i], added1 = keep1 * g[i];
    m[i] = decayed1 + added1;
    const float scaled = keep2 * g[i], added2 = scaled * g[i], decayed2 = beta2 * v[i];
    v[i] = decayed2 + added2;
    const float root = sqrtf(v[i]) / correction2_root;
    const float denominator = root + epsilon;
    const float step = step_size * m[i];
    theta[i] -= step / denominator;
  }
}

#if BLD_X86_SIMD
BLD_AVX512 static size_t adam_avx512(float *restrict theta, const float *restrict g, float *restrict m,
                                     float *restrict v, size_t count, float beta1, float beta2, float step_size,
                                     float correction2_root, float epsilon) {
  const __m512 b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2);
  const __m512 k1 = _mm512_set1_ps(1.0f - beta1), k2 = _mm512_set1_ps(1.0f - beta2);
  const __m512 lr = _mm512_set1_ps(step_size), c2 = _mm512_set1_ps(correction2_root), eps = _mm512_set1_ps(epsilon);
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(k1, gi));
    const __m512 vi =
        _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)), _mm512_mul_ps(_mm512_mul_ps(k2, gi), gi));
    const __m512 denominator = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), c2), eps);
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    _mm512_storeu_ps(theta + i,
                     _mm512_sub_ps(_mm512_loadu_ps(theta + i), _mm512_div_ps(_mm512_mul_ps(lr, mi), denominator)));
  }
  return i;
}

BLD_AVX2 static size_t adam_avx2(float *restrict theta, const float *restrict g, float *restrict m, float *restrict v,
                                 size_t count, float beta1, float beta2, float step_size, float correction2_root,
                                 float epsilon) {
  const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
  const __m256 k1 = _mm256_set1_ps(1.0f - beta1), k2 = _mm256_set1_ps(1.0f - beta2);
  const __m256 lr = _mm256_set1_ps(step_size), c2 = _mm256_set1_ps(correction2_root), eps = _mm256_set1_ps(epsilon);
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(k1, gi));
    const __m256 vi =
        _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(k2, gi), gi));
    const __m256 denominator = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), c2), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(theta + i,
                     _mm256_sub_ps(_mm256_loadu_ps(theta + i), _mm256_div_ps(_mm256_mul_ps(lr, mi), denominator)));
  }
  return i;
}
#endif

void bld_adam_update_f32(float *restrict theta, const float *restrict gradient, float *restrict first_moment,
                         float *restrict second_moment, size_t count, float beta1, float beta2, float step_size,
                         float correction2_root, float epsilon) {
  size_t done = 0;
#if BLD_X86_SIMD
  if (bld_has_avx512())
    done = adam_avx512(theta, gradient, first_moment, second_moment, count, beta1, beta2, step_size,
                       correction2_root, epsilon);
  else if (bld_has_avx2())
    done = adam_avx2(theta, gradient, first_moment, second_moment, count, beta1, beta2, step_size,
                     correction2_root, epsilon);
#endif
  adam_scalar(theta, gradient, first_moment, second_moment, done, count, beta1, beta2, step_size, correction2_root,
              epsilon);
}
