// Half-precision weight storage → float32, for weights kept in their file dtype and widened per use.
#include "CTensorKernels.h"
#include <immintrin.h>
#include <string.h>

static float f16_to_f32_scalar(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        exponent--;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

__attribute__((target("f16c,avx2"))) static void f16_to_f32_f16c(const uint16_t *restrict x, float *restrict y,
                                                                  size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
  }
  for (; i < count; ++i) y[i] = f16_to_f32_scalar(x[i]);
}

void bld_convert_f16_f32(const uint16_t *restrict x, float *restrict y, size_t count) {
  if (__builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2")) {
    f16_to_f32_f16c(x, y, count);
    return;
  }
  for (size_t i = 0; i < count; ++i) y[i] = f16_to_f32_scalar(x[i]);
}

void bld_convert_bf16_f32(const uint16_t *restrict x, float *restrict y, size_t count) {
  uint32_t *out = (uint32_t *)y;
  for (size_t i = 0; i < count; ++i) out[i] = (uint32_t)x[i] << 16;
}
