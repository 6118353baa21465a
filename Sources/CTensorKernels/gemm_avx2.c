// The AVX2 + FMA micro-kernel family of the blocked GEMM (gemm.c), for x86-64 CPUs without AVX-512 (AMD
// Zen 2/3, Intel client cores, Haswell-era servers): 6 x 16 tiles in 12 ymm accumulators (broadcast A,
// two vector columns of B). It replaces OpenBLAS on those CPUs, so no hot path depends on OpenBLAS's core
// detection (Debian's 0.3.21 misidentifies CPUs newer than itself and falls back to SSE kernels).
#include "gemm_kernels.h"

#include <immintrin.h>
#include <string.h>

#define BLD_MR 6
#define BLD_NR 16
#define BLD_AVX2 __attribute__((target("avx2,fma")))

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

// In-register transpose of an 8 x 8 block: on return r[j] holds column j of the input rows r[0..7].
BLD_AVX2 static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

// Loads rows [0, rows) x columns [0, cols) (both <= 8) of a row-major block, zero elsewhere, transposed:
// r[j] then holds column j.
BLD_AVX2 static inline void load_transposed8(const float *src, size_t ld, size_t rows, size_t cols, __m256 r[8]) {
  for (size_t i = 0; i < 8; ++i) {
    if (i < rows && cols == 8) {
      r[i] = _mm256_loadu_ps(src + i * ld);
    } else {
      float row[8] = {0};
      if (i < rows) memcpy(row, src + i * ld, cols * sizeof(float));
      r[i] = _mm256_loadu_ps(row);
    }
  }
  transpose8(r);
}

BLD_AVX2 static void pack_a(int trans, size_t mc, size_t kc, const float *a, size_t lda, float *restrict out) {
  for (size_t i0 = 0; i0 < mc; i0 += BLD_MR) {
    const size_t rows = min_size(BLD_MR, mc - i0);
    float *panel = out + i0 * kc;
    if (!trans) {
      // op(A)[i][l] = a[i * lda + l]: transpose 8-column strips of the MR rows.
      for (size_t l0 = 0; l0 < kc; l0 += 8) {
        const size_t cols = min_size(8, kc - l0);
        __m256 r[8];
        load_transposed8(a + i0 * lda + l0, lda, rows, cols, r);
        for (size_t j = 0; j < cols; ++j) {
          float lanes[8];
          _mm256_storeu_ps(lanes, r[j]);
          memcpy(panel + (l0 + j) * BLD_MR, lanes, BLD_MR * sizeof(float));
        }
      }
    } else {
      // op(A)[i][l] = a[l * lda + i]: contiguous in i.
      for (size_t l = 0; l < kc; ++l) {
        float *dst = panel + l * BLD_MR;
        const float *src = a + l * lda + i0;
        for (size_t i = 0; i < BLD_MR; ++i) dst[i] = i < rows ? src[i] : 0.0f;
      }
    }
  }
}

BLD_AVX2 static void pack_b(int trans, size_t kc, size_t nc, const float *b, size_t ldb, float *restrict out) {
  for (size_t j0 = 0; j0 < nc; j0 += BLD_NR) {
    const size_t cols = min_size(BLD_NR, nc - j0);
    float *panel = out + j0 * kc;
    if (!trans) {
      // op(B)[l][j] = b[l * ldb + j]: contiguous in j.
      for (size_t l = 0; l < kc; ++l) {
        const float *src = b + l * ldb + j0;
        float *dst = panel + l * BLD_NR;
        if (cols == BLD_NR) {
          _mm256_store_ps(dst, _mm256_loadu_ps(src));
          _mm256_store_ps(dst + 8, _mm256_loadu_ps(src + 8));
        } else {
          for (size_t j = 0; j < BLD_NR; ++j) dst[j] = j < cols ? src[j] : 0.0f;
        }
      }
    } else {
      // op(B)[l][j] = b[j * ldb + l]: transpose 8 x 8 blocks (8 columns j by 8 steps l).
      for (size_t h = 0; h < BLD_NR; h += 8) {
        const size_t rows = cols > h ? min_size(8, cols - h) : 0;
        for (size_t l0 = 0; l0 < kc; l0 += 8) {
          const size_t steps = min_size(8, kc - l0);
          __m256 r[8];
          load_transposed8(b + (j0 + h) * ldb + l0, ldb, rows, steps, r);
          for (size_t l = 0; l < steps; ++l) _mm256_store_ps(panel + (l0 + l) * BLD_NR + h, r[l]);
        }
      }
    }
  }
}

#define BLD_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

BLD_AVX2 static void micro_kernel(size_t kc, const float *restrict pa, const float *restrict pb, float *c,
                                  size_t ldc, float beta) {
#define BLD_DECL(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
  BLD_ROWS(BLD_DECL)
#undef BLD_DECL
  // The C tile's lines (six rows of 64 bytes, two lines each when unaligned) are requested now, so the loads or
  // stores at the end do not wait on L3 or memory after the reduction.
#define BLD_PREFETCH_C(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0); \
                          _mm_prefetch((const char *)(c + (i) * ldc + 15), _MM_HINT_T0);
  BLD_ROWS(BLD_PREFETCH_C)
#undef BLD_PREFETCH_C
#define BLD_FMA(i) { const __m256 a = _mm256_broadcast_ss(pa + (i)); \
                     c##i##0 = _mm256_fmadd_ps(a, b0, c##i##0); c##i##1 = _mm256_fmadd_ps(a, b1, c##i##1); }
  size_t l = 0;
  for (; l + 4 <= kc; l += 4) {
    _mm_prefetch((const char *)(pb + 8 * BLD_NR), _MM_HINT_T0);
    for (int u = 0; u < 4; ++u) {
      const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
      BLD_ROWS(BLD_FMA)
      pa += BLD_MR;
      pb += BLD_NR;
    }
  }
  for (; l < kc; ++l) {
    const __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
    BLD_ROWS(BLD_FMA)
    pa += BLD_MR;
    pb += BLD_NR;
  }
#undef BLD_FMA
  if (beta == 0.0f) {
#define BLD_STORE(i) _mm256_storeu_ps(c + (i) * ldc, c##i##0); _mm256_storeu_ps(c + (i) * ldc + 8, c##i##1);
    BLD_ROWS(BLD_STORE)
#undef BLD_STORE
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#define BLD_UPDATE(i) \
  _mm256_storeu_ps(c + (i) * ldc, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc), c##i##0)); \
  _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + (i) * ldc + 8), c##i##1));
    BLD_ROWS(BLD_UPDATE)
#undef BLD_UPDATE
  }
}

// Rows [0, N) of the tile from panels with the full kernel's MR stride, N < MR: one pair of B loads per l
// feeds the 2N accumulators, summed over l in micro_kernel's order.
#define BLD_EDGE_ROWS(N)                                                                                      \
  BLD_AVX2 static void edge_rows_##N(size_t kc, const float *restrict pa, const float *restrict pb, float *c, \
                                     size_t ldc) {                                                            \
    __m256 acc0[N], acc1[N];                                                                                  \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();  \
    for (size_t l = 0; l < kc; ++l) {                                                                         \
      const __m256 b0 = _mm256_load_ps(pb + l * BLD_NR), b1 = _mm256_load_ps(pb + l * BLD_NR + 8);            \
      _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) {                                        \
        const __m256 a = _mm256_broadcast_ss(pa + l * BLD_MR + i);                                            \
        acc0[i] = _mm256_fmadd_ps(a, b0, acc0[i]);                                                            \
        acc1[i] = _mm256_fmadd_ps(a, b1, acc1[i]);                                                            \
      }                                                                                                       \
    }                                                                                                         \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) {                                          \
      _mm256_storeu_ps(c + i * ldc, acc0[i]);                                                                 \
      _mm256_storeu_ps(c + i * ldc + 8, acc1[i]);                                                             \
    }                                                                                                         \
  }
BLD_EDGE_ROWS(1)
BLD_EDGE_ROWS(2)
BLD_EDGE_ROWS(3)
BLD_EDGE_ROWS(4)
BLD_EDGE_ROWS(5)
#undef BLD_EDGE_ROWS

// The bottom edge (rows < MR = 6) in one group.
BLD_AVX2 static void micro_kernel_rows(size_t rows, size_t kc, const float *restrict pa, const float *restrict pb,
                                       float *c, size_t ldc) {
  switch (rows) {
  case 1: edge_rows_1(kc, pa, pb, c, ldc); break;
  case 2: edge_rows_2(kc, pa, pb, c, ldc); break;
  case 3: edge_rows_3(kc, pa, pb, c, ldc); break;
  case 4: edge_rows_4(kc, pa, pb, c, ldc); break;
  default: edge_rows_5(kc, pa, pb, c, ldc); break;
  }
}

const bld_gemm_family bld_gemm_family_avx2 = {pack_a, pack_b, micro_kernel, micro_kernel_rows};
