#include "CTensorKernels.h"
#include <stdatomic.h>

// The highest vector extension the calling thread allows (ComputeOptions.withVectorExtensionLimit). It is
// per thread, not per process: a scoped limit on one thread never changes the kernels of another, and the
// parallel loops hand the caller's limit to their workers (bld_simd_limit / bld_set_simd_limit). Detection is
// cached on first use.
static _Thread_local int simd_limit = 2;
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

void bld_set_simd_limit(int level) { simd_limit = level < 0 ? 0 : level; }

int bld_simd_limit(void) { return simd_limit; }

int bld_simd_level(void) {
  const int detected = bld_detected_simd_level();
  return detected < simd_limit ? detected : simd_limit;
}
