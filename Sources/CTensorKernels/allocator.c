// glibc allocator tuning and transparent huge page advice for TensorCore's AllocatorTuning (see that type's
// documentation).
#include "CTensorKernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>  // defines __GLIBC__ (through <features.h>) on glibc systems
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <pthread.h>
#include <sys/mman.h>
#endif

int bld_tune_malloc(size_t mmap_threshold) {
#if defined(__GLIBC__)
  const int mmap_set = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
  const int trim_set = mallopt(M_TRIM_THRESHOLD, -1);  // -1: never trim the top on free (mallopt(3))
  return mmap_set == 1 && trim_set == 1;
#else
  (void)mmap_threshold;
  return 0;
#endif
}

void bld_release_free_memory(void) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

#if defined(__linux__) && defined(MADV_HUGEPAGE)
static size_t huge_page_bytes;
static pthread_once_t huge_page_once = PTHREAD_ONCE_INIT;

static void read_huge_page_bytes(void) {
  char mode[128] = {0};
  FILE *enabled = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!enabled) return;
  const size_t length = fread(mode, 1, sizeof mode - 1, enabled);
  fclose(enabled);
  mode[length] = 0;
  // The selected mode is the bracketed word: "always [madvise] never".
  if (!strstr(mode, "[always]") && !strstr(mode, "[madvise]")) return;
  FILE *size = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
  unsigned long long bytes = 0;
  if (size) {
    if (fscanf(size, "%llu", &bytes) != 1) bytes = 0;
    fclose(size);
  }
  // A power of two of at least one base page, or no advice at all.
  if (bytes >= 4096 && (bytes & (bytes - 1)) == 0) huge_page_bytes = (size_t)bytes;
}

size_t bld_transparent_huge_page_bytes(void) {
  pthread_once(&huge_page_once, read_huge_page_bytes);
  return huge_page_bytes;
}

void bld_advise_huge_pages(void *address, size_t bytes) {
  const size_t page = bld_transparent_huge_page_bytes();
  if (page == 0) return;
  const uintptr_t begin = ((uintptr_t)address + page - 1) & ~(uintptr_t)(page - 1);
  const uintptr_t end = ((uintptr_t)address + bytes) & ~(uintptr_t)(page - 1);
  if (end > begin) madvise((void *)begin, end - begin, MADV_HUGEPAGE);  // advice: a failure changes nothing
}
#else
size_t bld_transparent_huge_page_bytes(void) { return 0; }

void bld_advise_huge_pages(void *address, size_t bytes) {
  (void)address;
  (void)bytes;
}
#endif
