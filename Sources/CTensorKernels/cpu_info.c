// What the CPU reports about itself: vendor, brand string, family/model, cache sizes, and a measured FMA peak.
//
// Cache sizes come from cpuid (deterministic cache parameters: leaf 4 on Intel, 0x8000001D on AMD), falling
// back to Linux sysfs (/sys/devices/system/cpu/cpu0/cache) and finally to conservative defaults. The GEMM's
// blocking is derived from them (gemm.c), so it follows the machine it runs on rather than the one it was
// tuned on.
#include "CTensorKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>
#define BLD_HAS_CPUID 1
#else
#define BLD_HAS_CPUID 0
#endif

// MARK: - cpuid

#if BLD_HAS_CPUID
static void cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) { __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]); }

// Walks the deterministic cache parameter leaf (4 or 0x8000001D): records the data/unified caches by level.
static void caches_from_leaf(unsigned leaf, bld_cpu_info *info) {
  for (unsigned index = 0; index < 16; ++index) {
    unsigned r[4];
    cpuid(leaf, index, r);
    const unsigned type = r[0] & 0x1F;
    if (type == 0) break;
    if (type != 1 && type != 3) continue;  // 1 data, 3 unified; skip instruction caches
    const unsigned level = (r[0] >> 5) & 0x7;
    const size_t ways = ((r[1] >> 22) & 0x3FF) + 1, partitions = ((r[1] >> 12) & 0x3FF) + 1;
    const size_t line = (r[1] & 0xFFF) + 1, sets = (size_t)r[2] + 1;
    const size_t bytes = ways * partitions * line * sets;
    const size_t sharing = ((r[0] >> 14) & 0xFFF) + 1;
    if (level == 1) info->l1d_bytes = bytes;
    if (level == 2) info->l2_bytes = bytes;
    if (level == 3) {
      info->l3_bytes = bytes;
      info->l3_sharing = sharing;
    }
  }
}
#endif

// Reads one line of /sys/devices/system/cpu/cpu0/cache/indexN/NAME into `text`; 0 when absent.
static int sysfs_cache_field(int index, const char *name, char *text, size_t size) {
  char path[96];
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index, name);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  const int ok = fgets(text, (int)size, f) != NULL;
  fclose(f);
  return ok;
}

// Fills the cache sizes cpuid did not report from sysfs ("48K", "2048K", "260M").
static void caches_from_sysfs(bld_cpu_info *info) {
  for (int index = 0; index < 8; ++index) {
    char size_text[32], type_text[32], level_text[8];
    if (!sysfs_cache_field(index, "size", size_text, sizeof size_text) ||
        !sysfs_cache_field(index, "type", type_text, sizeof type_text) ||
        !sysfs_cache_field(index, "level", level_text, sizeof level_text))
      continue;
    if (strncmp(type_text, "Instruction", 11) == 0) continue;
    unsigned long value = 0;
    char unit = 0;
    if (sscanf(size_text, "%lu%c", &value, &unit) < 1) continue;
    const size_t bytes = (size_t)value * (unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1);
    const int level = atoi(level_text);
    if (level == 1 && info->l1d_bytes == 0) info->l1d_bytes = bytes;
    if (level == 2 && info->l2_bytes == 0) info->l2_bytes = bytes;
    if (level == 3 && info->l3_bytes == 0) info->l3_bytes = bytes;
  }
}

static void detect(bld_cpu_info *info) {
  memset(info, 0, sizeof *info);
  strcpy(info->vendor, "unknown");
  strcpy(info->brand, "unknown");
#if BLD_HAS_CPUID
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  memcpy(info->vendor, &r[1], 4);
  memcpy(info->vendor + 4, &r[3], 4);
  memcpy(info->vendor + 8, &r[2], 4);
  info->vendor[12] = 0;
  cpuid(1, 0, r);
  const unsigned base_family = (r[0] >> 8) & 0xF, base_model = (r[0] >> 4) & 0xF;
  info->family = (int)(base_family == 0xF ? base_family + ((r[0] >> 20) & 0xFF) : base_family);
  info->model = (int)(base_family == 0x6 || base_family == 0xF ? base_model | (((r[0] >> 16) & 0xF) << 4) : base_model);
  cpuid(0x80000000, 0, r);
  const unsigned max_extended = r[0];
  if (max_extended >= 0x80000004) {
    unsigned brand[12];
    for (unsigned i = 0; i < 3; ++i) cpuid(0x80000002 + i, 0, brand + 4 * i);
    memcpy(info->brand, brand, 48);
    info->brand[48] = 0;
    // Trim the leading and trailing spaces some CPUs pad the brand string with.
    char *start = info->brand;
    while (*start == ' ') ++start;
    memmove(info->brand, start, strlen(start) + 1);
    for (size_t n = strlen(info->brand); n > 0 && info->brand[n - 1] == ' '; --n) info->brand[n - 1] = 0;
  }
  if (strcmp(info->vendor, "AuthenticAMD") == 0 || strcmp(info->vendor, "HygonGenuine") == 0) {
    if (max_extended >= 0x8000001D) caches_from_leaf(0x8000001D, info);
  } else if (max_leaf >= 4) {
    caches_from_leaf(4, info);
  }
  __builtin_cpu_init();
  info->has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  info->has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && info->has_avx2_fma;
  info->has_avx512_bf16 = info->has_avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  caches_from_sysfs(info);
  // Conservative defaults for whatever neither source reported.
  if (info->l1d_bytes == 0) info->l1d_bytes = 32 * 1024;
  if (info->l2_bytes == 0) info->l2_bytes = 256 * 1024;
  if (info->l3_bytes == 0) info->l3_bytes = 4 * 1024 * 1024;
  if (info->l3_sharing == 0) info->l3_sharing = 1;
}

const bld_cpu_info *bld_cpu(void) {
  static bld_cpu_info info;
  static int done;  // detection is idempotent, so a benign race only repeats it
  if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
    bld_cpu_info detected;
    detect(&detected);
    info = detected;
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
  }
  return &info;
}

// MARK: - FMA peak

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if BLD_HAS_CPUID
// One FMA loop per vector width and chain: `iterations` rounds of 12 independent chains (enough to cover a 4-cycle
// latency on two pipes, which needs 8), then their sum, returned so the loop is not optimised away. STEP is one
// link: a = a·x + y feeds each result to a multiplicand; a = x·y + a to the addend, as a GEMM micro-kernel sums
// its products (on Zen 4 the second sustains ≈ 0.92 of the first's rate, with 8 to 28 chains alike).
#define BLD_SCALING_STEP(fmadd, a, x, y) fmadd(a, x, y)
#define BLD_ACCUMULATING_STEP(fmadd, a, x, y) fmadd(x, y, a)
#define BLD_FMA_LOOP(name, isa, vector, set1, fmadd, add, first_lane, STEP) \
  __attribute__((target(isa))) static double name(long iterations) {         \
    vector a[12];                                                             \
    for (int i = 0; i < 12; ++i) a[i] = set1(0.01f * (float)i);               \
    const vector x = set1(0.999999f), y = set1(1e-7f);                        \
    for (long n = 0; n < iterations; ++n) {                                   \
      for (int i = 0; i < 12; ++i) a[i] = STEP(fmadd, a[i], x, y);            \
      __asm__ volatile("");                                                   \
    }                                                                         \
    vector s = set1(0.0f);                                                    \
    for (int i = 0; i < 12; ++i) s = add(s, a[i]);                            \
    return (double)first_lane(s);                                             \
  }

BLD_FMA_LOOP(fma_loop_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32,
             BLD_SCALING_STEP)
BLD_FMA_LOOP(fma_loop_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32,
             BLD_SCALING_STEP)
BLD_FMA_LOOP(fma_sum_loop_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
             _mm512_cvtss_f32, BLD_ACCUMULATING_STEP)
BLD_FMA_LOOP(fma_sum_loop_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32,
             BLD_ACCUMULATING_STEP)

static double fma_loop(int wide, int accumulating, long iterations) {
  if (accumulating) return wide ? fma_sum_loop_avx512(iterations) : fma_sum_loop_avx2(iterations);
  return wide ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations);
}
#endif

double bld_fma_peak_gflops(int simd_level, int accumulating, double seconds) {
#if BLD_HAS_CPUID
  const bld_cpu_info *cpu = bld_cpu();
  const int wide = simd_level >= 2 && cpu->has_avx512;
  if (!wide && !(simd_level >= 1 && cpu->has_avx2_fma)) return 0;
  const double flops_per_iteration = 12.0 * (wide ? 16 : 8) * 2;
  long iterations = 1 << 16;
  double best = 0, sink = 0;
  const double start = seconds_now();
  // Grow the loop until one run takes ≥ 10 ms, then keep the best of the runs that fit `seconds`. The loop goes on
  // until one run has counted, however short `seconds` is: the doubling runs alone can take 20 ms or more of a
  // busy or slow CPU's wall time, and a peak of 0 would read as a machine without FMAs.
  while (best == 0 || seconds_now() - start < seconds) {
    const double t0 = seconds_now();
    sink += fma_loop(wide, accumulating, iterations);
    const double elapsed = seconds_now() - t0;
    if (elapsed < 0.01) {
      iterations *= 2;
      continue;
    }
    const double rate = flops_per_iteration * (double)iterations / elapsed * 1e-9;
    if (rate > best) best = rate;
  }
  return sink == 12345.678 ? -best : best;
#else
  (void)simd_level;
  (void)accumulating;
  (void)seconds;
  return 0;
#endif
}
