#include "CTensorKernels.h"
#include <stdatomic.h>

// The one piece of global state of the kernels: the highest vector extension the caller allows
// (ComputeOptions.setVectorExtensionLimit); detection is cached on first use.
static _Atomic int simd_limit = 2;
static _Atomic int simd_detected = -1;

int bld_detected_simd_level(void) {
  int detected = atomic_load_explicit(&simd_detected, memory_order_relaxed);
  if (detected < 0) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    detected = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      detected = __builtin_cpu_supports("avx512f") ? 2 : 1;
    }
#else
    detected = 0;
#endif
    atomic_store_explicit(&simd_detected, detected, memory_order_relaxed);
  }
  return detected;
}

void bld_set_simd_limit(int level) { atomic_store_explicit(&simd_limit, level < 0 ? 0 : level, memory_order_relaxed); }

int bld_simd_level(void) {
  const int detected = bld_detected_simd_level();
  const int limit = atomic_load_explicit(&simd_limit, memory_order_relaxed);
  return detected < limit ? detected : limit;
}
