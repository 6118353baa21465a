// The AVX-512 micro-kernel family of the blocked GEMM (gemm.c): 14 x 32 tiles in 28 zmm accumulators
// (broadcast A, two vector columns of B), packers that transpose 16 x 16 blocks in registers, and the bf16
// variant (vdpbf16ps on rounded operand pairs, fp32 accumulation). Every function that issues AVX-512
// instructions carries a `target` attribute, so the file compiles with the package's default flags; the
// driver selects this family only when bld_cpu() reports AVX-512.
#include "gemm_kernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define BLD_MR 14
#define BLD_NR 32

#define BLD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

// MARK: - Packing

// In-register transpose of a 16 x 16 block: on return r[j] holds column j of the input rows r[0..15].
BLD_AVX512 static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // r[4g + q], 128-bit lane L, holds rows 4g..4g+3 of column 4L + q.
  __m512 out[16];
  for (int q = 0; q < 4; ++q) {
    const __m512 u0 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88), u1 = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xdd);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);
    const __m512 u3 = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xdd);
    out[q] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    out[8 + q] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
    out[4 + q] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    out[12 + q] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
  }
  for (int j = 0; j < 16; ++j) r[j] = out[j];
}

static inline __mmask16 mask_below(size_t count) {
  return (__mmask16)(count >= 16 ? 0xFFFF : ((1u << count) - 1u));
}

// Loads rows [0, rows) x columns [0, cols) (rows, cols <= 16) of a row-major block, zero elsewhere, and
// transposes it: r[j] then holds column j (16 row values, zero beyond rows).
BLD_AVX512 static inline void load_transposed(const float *src, size_t ld, size_t rows, size_t cols, __m512 r[16]) {
  const __mmask16 m = mask_below(cols);
  for (size_t i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(m, src + i * ld) : _mm512_setzero_ps();
  transpose16(r);
}

// Packs rows [0, mc) x columns [0, kc) of op(A) (already offset to the block origin) into MR-row panels:
// panel p holds, for each l in [0, kc), the MR values op(A)[p*MR + i][l], zero beyond mc.
BLD_AVX512 static void pack_a(int trans, size_t mc, size_t kc, const float *a, size_t lda, float *restrict out) {
  const __mmask16 panel_mask = mask_below(BLD_MR);
  for (size_t i0 = 0; i0 < mc; i0 += BLD_MR) {
    const size_t rows = min_size(BLD_MR, mc - i0);
    float *panel = out + i0 * kc;
    if (!trans) {
      // op(A)[i][l] = a[i * lda + l]: transpose 16-column strips of the MR rows.
      for (size_t l0 = 0; l0 < kc; l0 += 16) {
        const size_t cols = min_size(16, kc - l0);
        __m512 r[16];
        load_transposed(a + i0 * lda + l0, lda, rows, cols, r);
        for (size_t j = 0; j < cols; ++j) _mm512_mask_storeu_ps(panel + (l0 + j) * BLD_MR, panel_mask, r[j]);
      }
    } else {
      // op(A)[i][l] = a[l * lda + i]: contiguous in i.
      const __mmask16 m = mask_below(rows);
      for (size_t l = 0; l < kc; ++l)
        _mm512_mask_storeu_ps(panel + l * BLD_MR, panel_mask, _mm512_maskz_loadu_ps(m, a + l * lda + i0));
    }
  }
}

// Packs rows [0, kc) x columns [0, nc) of op(B) into NR-column panels: panel q holds, for each l, the NR
// values op(B)[l][q*NR + j], zero beyond nc.
BLD_AVX512 static void pack_b(int trans, size_t kc, size_t nc, const float *b, size_t ldb, float *restrict out) {
  for (size_t j0 = 0; j0 < nc; j0 += BLD_NR) {
    const size_t cols = min_size(BLD_NR, nc - j0);
    float *panel = out + j0 * kc;
    if (!trans) {
      // op(B)[l][j] = b[l * ldb + j]: contiguous in j.
      const __mmask16 m0 = mask_below(cols), m1 = mask_below(cols > 16 ? cols - 16 : 0);
      for (size_t l = 0; l < kc; ++l) {
        const float *src = b + l * ldb + j0;
        _mm512_store_ps(panel + l * BLD_NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(panel + l * BLD_NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {
      // op(B)[l][j] = b[j * ldb + l]: transpose 16 x 16 blocks (16 columns j by 16 steps l).
      for (size_t h = 0; h < BLD_NR; h += 16) {
        const size_t rows = cols > h ? min_size(16, cols - h) : 0;
        for (size_t l0 = 0; l0 < kc; l0 += 16) {
          const size_t steps = min_size(16, kc - l0);
          __m512 r[16];
          load_transposed(b + (j0 + h) * ldb + l0, ldb, rows, steps, r);
          for (size_t l = 0; l < steps; ++l) _mm512_store_ps(panel + (l0 + l) * BLD_NR + h, r[l]);
        }
      }
    }
  }
}

// MARK: - Micro-kernel

#define BLD_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

// The micro-kernels' epilogue: the MR x NR accumulators c<i>0 / c<i>1 go to C (row stride ldc) as
// C = acc (beta == 0, C never read) or C = acc + beta * C.
#define BLD_STORE_ROW(i) _mm512_storeu_ps(c + (i) * ldc, c##i##0); _mm512_storeu_ps(c + (i) * ldc + 16, c##i##1);
#define BLD_UPDATE_ROW(i) \
  _mm512_storeu_ps(c + (i) * ldc, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc), c##i##0)); \
  _mm512_storeu_ps(c + (i) * ldc + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + (i) * ldc + 16), c##i##1));
#define BLD_WRITE_ACCUMULATORS()              \
  if (beta == 0.0f) {                         \
    BLD_ROWS(BLD_STORE_ROW)                   \
  } else {                                    \
    const __m512 vb = _mm512_set1_ps(beta);   \
    BLD_ROWS(BLD_UPDATE_ROW)                  \
  }

// The MR x NR tile of C (row stride ldc, unit column stride) is set to pa·pb (beta == 0) or to
// pa·pb + beta·C. pa: kc x MR packed, pb: kc x NR packed (64-byte aligned).
BLD_AVX512 static void micro_kernel(size_t kc, const float *restrict pa, const float *restrict pb,
                                    float *c, size_t ldc, float beta) {
#define BLD_DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
  BLD_ROWS(BLD_DECL)
#undef BLD_DECL
#define BLD_PREFETCH_C(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0); \
                          _mm_prefetch((const char *)(c + (i) * ldc + 16), _MM_HINT_T0);
  BLD_ROWS(BLD_PREFETCH_C)
#undef BLD_PREFETCH_C
#define BLD_FMA(i) { const __m512 a = _mm512_set1_ps(pa[i]); \
                     c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0); c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1); }
  size_t l = 0;
  for (; l + 4 <= kc; l += 4) {
    _mm_prefetch((const char *)(pb + 8 * BLD_NR), _MM_HINT_T0);
    _mm_prefetch((const char *)(pb + 8 * BLD_NR + 16), _MM_HINT_T0);
    _mm_prefetch((const char *)(pa + 8 * BLD_MR), _MM_HINT_T0);
    for (int u = 0; u < 4; ++u) {
      const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
      BLD_ROWS(BLD_FMA)
      pa += BLD_MR;
      pb += BLD_NR;
    }
  }
  for (; l < kc; ++l) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
    BLD_ROWS(BLD_FMA)
    pa += BLD_MR;
    pb += BLD_NR;
  }
#undef BLD_FMA
  BLD_WRITE_ACCUMULATORS()
}

// Rows [0, N) of the tile from panels with the full kernel's MR stride, N < MR: one pair of B loads per l
// feeds the group's 2N accumulators, summed over l in micro_kernel's order.
#define BLD_EDGE_ROWS(N)                                                                                        \
  BLD_AVX512 static void edge_rows_##N(size_t kc, const float *restrict pa, const float *restrict pb, float *c, \
                                       size_t ldc) {                                                            \
    __m512 acc0[N], acc1[N];                                                                                    \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();    \
    for (size_t l = 0; l < kc; ++l) {                                                                           \
      const __m512 b0 = _mm512_load_ps(pb + l * BLD_NR), b1 = _mm512_load_ps(pb + l * BLD_NR + 16);             \
      _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) {                                          \
        const __m512 a = _mm512_set1_ps(pa[l * BLD_MR + i]);                                                    \
        acc0[i] = _mm512_fmadd_ps(a, b0, acc0[i]);                                                              \
        acc1[i] = _mm512_fmadd_ps(a, b1, acc1[i]);                                                              \
      }                                                                                                         \
    }                                                                                                           \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < N; ++i) {                                            \
      _mm512_storeu_ps(c + i * ldc, acc0[i]);                                                                   \
      _mm512_storeu_ps(c + i * ldc + 16, acc1[i]);                                                              \
    }                                                                                                           \
  }
BLD_EDGE_ROWS(1)
BLD_EDGE_ROWS(2)
BLD_EDGE_ROWS(3)
BLD_EDGE_ROWS(4)
BLD_EDGE_ROWS(5)
BLD_EDGE_ROWS(6)
BLD_EDGE_ROWS(7)
#undef BLD_EDGE_ROWS

// The bottom edge (rows < MR) in groups of at most seven rows.
BLD_AVX512 static void micro_kernel_rows(size_t rows, size_t kc, const float *restrict pa, const float *restrict pb,
                                         float *c, size_t ldc) {
  for (size_t r = 0; r < rows; r += 7) {
    const float *group = pa + r;
    float *out = c + r * ldc;
    switch (min_size(7, rows - r)) {
    case 1: edge_rows_1(kc, group, pb, out, ldc); break;
    case 2: edge_rows_2(kc, group, pb, out, ldc); break;
    case 3: edge_rows_3(kc, group, pb, out, ldc); break;
    case 4: edge_rows_4(kc, group, pb, out, ldc); break;
    case 5: edge_rows_5(kc, group, pb, out, ldc); break;
    case 6: edge_rows_6(kc, group, pb, out, ldc); break;
    default: edge_rows_7(kc, group, pb, out, ldc); break;
    }
  }
}

// MARK: - bf16 operands (AVX512_BF16)
//
// Same blocking; the fp32 packers run first, then each pair of packed k-rows is rounded to bf16 (nearest
// even) and interleaved into 32-bit words (low half: even k, high half: odd k), the operand layout of
// vdpbf16ps. The micro-kernel accumulates in fp32. Inputs lose 16 mantissa bits, so results carry
// ~2^-9 relative rounding per product: a speed option, not a parity path.
#define BLD_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))

// Rounds two fp32 vectors to bf16 and packs them as words (bf16(lo) | bf16(hi) << 16).
BLD_AVX512_BF16 static inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
  __m512i a = _mm512_castps_si512(lo), b = _mm512_castps_si512(hi);
  a = _mm512_add_epi32(a, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(a, 16), one)));
  b = _mm512_add_epi32(b, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(b, 16), one)));
  return _mm512_or_si512(_mm512_srli_epi32(a, 16), _mm512_and_si512(b, _mm512_set1_epi32((int)0xFFFF0000u)));
}

// Converts fp32 panels (`panels` panels of kc x width floats) into pair panels of ceil(kc/2) x width words.
BLD_AVX512_BF16 void bld_gemm_avx512_pair_panels(const float *restrict packed, size_t panels, size_t kc, size_t width,
                                        uint32_t *restrict out) {
  const size_t pairs = (kc + 1) / 2;
  const __mmask16 m = mask_below(width < 16 ? width : 16);
  for (size_t q = 0; q < panels; ++q) {
    const float *src = packed + q * kc * width;
    uint32_t *dst = out + q * pairs * width;
    for (size_t p = 0; p < pairs; ++p) {
      for (size_t h = 0; h < width; h += 16) {
        const __mmask16 mh = width - h >= 16 ? (__mmask16)0xFFFF : mask_below(width - h);
        const __m512 lo = _mm512_maskz_loadu_ps(mh & m, src + 2 * p * width + h);
        const __m512 hi = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(mh & m, src + (2 * p + 1) * width + h)
                                         : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(dst + p * width + h, mh, bf16_pairs(lo, hi));
      }
    }
  }
}

BLD_AVX512_BF16 void bld_gemm_avx512_micro_kernel_bf16(size_t pairs, const uint32_t *restrict pa, const uint32_t *restrict pb,
                                              float *c, size_t ldc, float beta) {
#define BLD_DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
  BLD_ROWS(BLD_DECL)
#undef BLD_DECL
#define BLD_DOT(i) { const __m512bh a = (__m512bh)_mm512_set1_epi32((int)pa[i]); \
                     c##i##0 = _mm512_dpbf16_ps(c##i##0, a, b0); c##i##1 = _mm512_dpbf16_ps(c##i##1, a, b1); }
  for (size_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(pb), b1 = (__m512bh)_mm512_load_si512(pb + 16);
    BLD_ROWS(BLD_DOT)
    pa += BLD_MR;
    pb += BLD_NR;
  }
#undef BLD_DOT
  BLD_WRITE_ACCUMULATORS()
}

// MARK: - Family

const bld_gemm_family bld_gemm_family_avx512 = {pack_a, pack_b, micro_kernel, micro_kernel_rows};
