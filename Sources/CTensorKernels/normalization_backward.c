// Group normalisation for training: statistics kept apart from the normalisation (so a backward pass, or a
// frozen-statistics forward, reuses them) and the fused backward of group norm followed by SiLU.
#include "simd.h"

void bld_group_norm_statistics_f32(const float *restrict x, size_t channels, size_t spatial, size_t groups,
                                   size_t group_begin, size_t group_end, float epsilon,
                                   double *restrict mean, double *restrict inverse_std) {
  const size_t per_group = channels / groups;
  for (size_t g = group_begin; g < group_end; ++g) {
    const float *src = x + g * per_group * spatial;
    const size_t n = per_group * spatial;
    const double sum = bld_sum_f32(src, n, 0.0, 0);
    const double squares = bld_sum_f32(src, n, sum / (double)n, 1);
    mean[g] = sum / (double)n;
    inverse_std[g] = 1.0 / sqrt(squares / (double)n + (double)epsilon);
  }
}

void bld_group_norm_apply_f32(const float *restrict x, float *restrict y, size_t channels, size_t spatial,
                              size_t groups, size_t group_begin, size_t group_end,
                              const double *mean, const double *inverse_std,
                              const float *gamma, const float *beta, int silu) {
  const size_t per_group = channels / groups;
  for (size_t g = group_begin; g < group_end; ++g) {
    // The same float arithmetic as bld_group_norm_f32, so both give identical results for the same statistics.
    const float inv = (float)inverse_std[g];
    const float m = (float)mean[g];
    const float m_lo = (float)(mean[g] - (double)m);
    for (size_t c = 0; c < per_group; ++c) {
      const size_t channel = g * per_group + c;
      const float scale = inv * (gamma ? gamma[channel] : 1.0f);
      const float shift = beta ? beta[channel] : 0.0f;
      bld_affine_silu_f32(x + channel * spatial, y + channel * spatial, spatial, m, m_lo, scale, shift, silu);
    }
  }
}

/// Pass 1 over one channel: g = ∂L/∂h (through SiLU when `silu`) written to `out` times `out_scale`, and Σ g,
/// Σ g · x̂ (of g itself).
static void channel_gradient_scalar(const float *restrict x, const float *restrict dy, float *restrict out,
                                    size_t spatial, float m, float m_lo, float inv, float gamma, float beta,
                                    int silu, float out_scale, double *sum_g, double *sum_gx) {
  double sg = 0.0, sgx = 0.0;
  for (size_t i = 0; i < spatial; ++i) {
    const float normalized = ((x[i] - m) - m_lo) * inv;
    float g = dy[i];
    if (silu) {
      const float h = normalized * gamma + beta;
      const float s = 1.0f / (1.0f + expf(-h));
      g *= s * (1.0f + h * (1.0f - s));
    }
    out[i] = g * out_scale;
    sg += g;
    sgx += (double)g * normalized;
  }
  *sum_g = sg;
  *sum_gx = sgx;
}

#if BLD_X86_SIMD
BLD_AVX512 static void channel_gradient_avx512(const float *restrict x, const float *restrict dy,
                                               float *restrict out, size_t spatial, float m, float m_lo,
                                               float inv, float gamma, float beta, int silu, float out_scale,
                                               double *sum_g, double *sum_gx) {
  const __m512 vm = _mm512_set1_ps(m), vlo = _mm512_set1_ps(m_lo), vinv = _mm512_set1_ps(inv);
  const __m512 vscale = _mm512_set1_ps(out_scale);
  const __m512 vgamma = _mm512_set1_ps(gamma), vbeta = _mm512_set1_ps(beta), one = _mm512_set1_ps(1.0f);
  double sg = 0.0, sgx = 0.0;
  size_t i = 0;
  // Float partial sums per block of 1024 elements (64 per lane), folded into double after each block.
  while (i + 16 <= spatial) {
    const size_t block_end = i + 1024 <= spatial ? i + 1024 : spatial;
    __m512 ag = _mm512_setzero_ps(), agx = _mm512_setzero_ps();
    for (; i + 16 <= block_end; i += 16) {
      const __m512 normalized =
          _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm), vlo), vinv);
      __m512 g = _mm512_loadu_ps(dy + i);
      if (silu) {
        const __m512 h = _mm512_fmadd_ps(normalized, vgamma, vbeta);
        const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, bld_exp16(_mm512_sub_ps(_mm512_setzero_ps(), h))));
        g = _mm512_mul_ps(g, _mm512_mul_ps(s, _mm512_fmadd_ps(h, _mm512_sub_ps(one, s), one)));
      }
      _mm512_storeu_ps(out + i, _mm512_mul_ps(g, vscale));
      ag = _mm512_add_ps(ag, g);
      agx = _mm512_fmadd_ps(g, normalized, agx);
    }
    sg += _mm512_reduce_add_ps(ag);
    sgx += _mm512_reduce_add_ps(agx);
  }
  double tail_g = 0.0, tail_gx = 0.0;
  if (i < spatial) {
    channel_gradient_scalar(x + i, dy + i, out + i, spatial - i, m, m_lo, inv, gamma, beta, silu, out_scale,
                            &tail_g, &tail_gx);
  }
  *sum_g = sg + tail_g;
  *sum_gx = sgx + tail_gx;
}

/// The sum of the 8 lanes.
BLD_AVX2 static inline float sum8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  return _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)));
}

/// channel_gradient_avx512 in 8-float lanes (blocks of 512 elements, 64 per lane).
BLD_AVX2 static void channel_gradient_avx2(const float *restrict x, const float *restrict dy, float *restrict out,
                                           size_t spatial, float m, float m_lo, float inv, float gamma, float beta,
                                           int silu, float out_scale, double *sum_g, double *sum_gx) {
  const __m256 vm = _mm256_set1_ps(m), vlo = _mm256_set1_ps(m_lo), vinv = _mm256_set1_ps(inv);
  const __m256 vscale = _mm256_set1_ps(out_scale);
  const __m256 vgamma = _mm256_set1_ps(gamma), vbeta = _mm256_set1_ps(beta), one = _mm256_set1_ps(1.0f);
  double sg = 0.0, sgx = 0.0;
  size_t i = 0;
  while (i + 8 <= spatial) {
    const size_t block_end = i + 512 <= spatial ? i + 512 : spatial;
    __m256 ag = _mm256_setzero_ps(), agx = _mm256_setzero_ps();
    for (; i + 8 <= block_end; i += 8) {
      const __m256 normalized =
          _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vlo), vinv);
      __m256 g = _mm256_loadu_ps(dy + i);
      if (silu) {
        const __m256 h = _mm256_fmadd_ps(normalized, vgamma, vbeta);
        const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, bld_exp8(_mm256_sub_ps(_mm256_setzero_ps(), h))));
        g = _mm256_mul_ps(g, _mm256_mul_ps(s, _mm256_fmadd_ps(h, _mm256_sub_ps(one, s), one)));
      }
      _mm256_storeu_ps(out + i, _mm256_mul_ps(g, vscale));
      ag = _mm256_add_ps(ag, g);
      agx = _mm256_fmadd_ps(g, normalized, agx);
    }
    sg += sum8(ag);
    sgx += sum8(agx);
  }
  double tail_g = 0.0, tail_gx = 0.0;
  if (i < spatial) {
    channel_gradient_scalar(x + i, dy + i, out + i, spatial - i, m, m_lo, inv, gamma, beta, silu, out_scale,
                            &tail_g, &tail_gx);
  }
  *sum_g = sg + tail_g;
  *sum_gx = sgx + tail_gx;
}
#endif

void bld_group_norm_silu_backward_f32(const float *restrict x, const float *restrict dy,
                                      const float *restrict added, float *restrict dx, size_t channels,
                                      size_t spatial, size_t groups, size_t group_begin, size_t group_end,
                                      const double *mean, const double *inverse_std, const float *gamma,
                                      const float *beta, int silu, int frozen, double *restrict gamma_gradient,
                                      double *restrict beta_gradient) {
  const size_t per_group = channels / groups;
  const double count = (double)(per_group * spatial);
  for (size_t g = group_begin; g < group_end; ++g) {
    const float inv = (float)inverse_std[g];
    const float m = (float)mean[g];
    const float m_lo = (float)(mean[g] - (double)m);
    double mean_g = 0.0, mean_gx = 0.0;
    for (size_t c = 0; c < per_group; ++c) {
      const size_t channel = g * per_group + c;
      const size_t offset = channel * spatial;
      const float scale = gamma ? gamma[channel] : 1.0f;
      const float shift = beta ? beta[channel] : 0.0f;
      double sum_g, sum_gx;
      // With constant statistics ∂L/∂x = r · γ · g: pass 1 writes it directly and there is no pass 2.
      const float out_scale = frozen ? scale * inv : 1.0f;
#if BLD_X86_SIMD
      if (bld_has_avx512()) {
        channel_gradient_avx512(x + offset, dy + offset, dx + offset, spatial, m, m_lo, inv, scale, shift, silu,
                                out_scale, &sum_g, &sum_gx);
      } else if (bld_has_avx2()) {
        channel_gradient_avx2(x + offset, dy + offset, dx + offset, spatial, m, m_lo, inv, scale, shift, silu,
                              out_scale, &sum_g, &sum_gx);
      } else
#endif
      {
        channel_gradient_scalar(x + offset, dy + offset, dx + offset, spatial, m, m_lo, inv, scale, shift, silu,
                                out_scale, &sum_g, &sum_gx);
      }
      beta_gradient[channel] = sum_g;
      gamma_gradient[channel] = sum_gx;
      mean_g += sum_g * scale / count;
      mean_gx += sum_gx * scale / count;
    }
    if (frozen) {
      if (added)
        for (size_t i = g * per_group * spatial; i < (g + 1) * per_group * spatial; ++i) dx[i] += added[i];
      continue;
    }
    // Pass 2: ∂L/∂x = r · (γ g − mean(γ g) − x̂ · mean(γ g x̂)).
    const float shift_term = (float)(mean_g * inverse_std[g]);
    const float slope = (float)(mean_gx * inverse_std[g]);
    for (size_t c = 0; c < per_group; ++c) {
      const size_t channel = g * per_group + c;
      const float scale = (gamma ? gamma[channel] : 1.0f) * inv;
      const float *s = x + channel * spatial;
      float *d = dx + channel * spatial;
      if (added) {
        const float *a = added + channel * spatial;
        for (size_t i = 0; i < spatial; ++i) {
          const float normalized = ((s[i] - m) - m_lo) * inv;
          d[i] = (d[i] * scale - shift_term - normalized * slope) + a[i];
        }
        continue;
      }
      for (size_t i = 0; i < spatial; ++i) {
        const float normalized = ((s[i] - m) - m_lo) * inv;
        d[i] = d[i] * scale - shift_term - normalized * slope;
      }
    }
  }
}
