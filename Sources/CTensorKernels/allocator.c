// glibc allocator tuning for TensorCore's AllocatorTuning (see that type's documentation).
#include "CTensorKernels.h"

#include <stdlib.h>  // defines __GLIBC__ (through <features.h>) on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int bld_tune_malloc(size_t mmap_threshold, size_t trim_threshold) {
#if defined(__GLIBC__)
  const int mmap_set = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
  const int trim_set = mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
  return mmap_set == 1 && trim_set == 1;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return 0;
#endif
}

void bld_release_free_memory(void) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}
