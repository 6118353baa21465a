// Packed single-precision GEMM with an AVX-512 micro-kernel (BLIS-style blocking).
//
// C = op(A) * op(B) + beta * C, row-major operands with arbitrary leading dimensions, and a C that is
// addressed through a row stride and a column stride (so the caller can compute a transposed product).
// Every function that issues AVX-512 instructions carries a `target` attribute, so the file compiles with
// the package's default flags; callers must check `bld_sgemm_avx512_supported()` first.
//
// Loop nest (for one call, single-threaded; the Swift wrapper partitions M or N across threads):
//   jc over N in NC blocks      B block (KC x NC) is packed once into NR-wide panels, lives in L3
//     pc over K in KC blocks
//       ic over M in MC blocks  A block (MC x KC) is packed into MR-tall panels, lives in L2
//         jr over NR panels     one B micro-panel (KC x NR) stays in L1
//           ir over MR panels   the micro-kernel: an MR x NR tile of C in 28 zmm accumulators
#include "CTensorKernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define BLD_MR BLD_SGEMM_AVX512_MR
#define BLD_NR BLD_SGEMM_AVX512_NR
#define BLD_KC BLD_SGEMM_AVX512_KC
#define BLD_MC BLD_SGEMM_AVX512_MC
#define BLD_NC BLD_SGEMM_AVX512_NC

#define BLD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

int bld_sgemm_avx512_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("fma");
}

size_t bld_sgemm_avx512_scratch_floats(void) {
  // Packed A block + packed B block, each rounded up to whole panels; +16 for 64-byte alignment.
  return (size_t)BLD_MC * BLD_KC + (size_t)BLD_KC * BLD_NC + 16;
}

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

// Writes the valid mr x nr part of a computed tile (row-major, NR wide, 64-byte aligned) into C (any
// strides): C = tile (beta == 0) or tile + beta * C.
BLD_AVX512 static void store_tile(const float *tile, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, size_t mr, size_t nr,
                                  float beta) {
  if (cs_c == 1) {
    const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : ((1u << nr) - 1u));
    const __mmask16 m1 = (__mmask16)(nr <= 16 ? 0 : ((1u << (nr - 16)) - 1u));
    const __m512 vb = _mm512_set1_ps(beta);
    for (size_t i = 0; i < mr; ++i) {
      float *row = c + (ptrdiff_t)i * rs_c;
      __m512 t0 = _mm512_load_ps(tile + i * BLD_NR), t1 = _mm512_load_ps(tile + i * BLD_NR + 16);
      if (beta != 0.0f) {
        t0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), t0);
        t1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), t1);
      }
      _mm512_mask_storeu_ps(row, m0, t0);
      _mm512_mask_storeu_ps(row + 16, m1, t1);
    }
    return;
  }
  if (rs_c == 1) {
    // Transposed C (the caller computes Cᵀ): column j of the tile is contiguous in memory.
    const __mmask16 m = mask_below(mr);
    const __m512 vb = _mm512_set1_ps(beta);
    for (size_t h = 0; h < nr; h += 16) {
      __m512 r[16];
      load_transposed(tile + h, BLD_NR, mr, min_size(16, nr - h), r);
      for (size_t j = 0; j < min_size(16, nr - h); ++j) {
        float *col = c + (ptrdiff_t)(h + j) * cs_c;
        __m512 v = r[j];
        if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, col), v);
        _mm512_mask_storeu_ps(col, m, v);
      }
    }
    return;
  }
  for (size_t j = 0; j < nr; ++j)
    for (size_t i = 0; i < mr; ++i) {
      float *dst = c + (ptrdiff_t)i * rs_c + (ptrdiff_t)j * cs_c;
      *dst = beta == 0.0f ? tile[i * BLD_NR + j] : tile[i * BLD_NR + j] + beta * *dst;
    }
}

// MARK: - bf16 operands (AVX512_BF16)
//
// Same blocking; the fp32 packers run first, then each pair of packed k-rows is rounded to bf16 (nearest
// even) and interleaved into 32-bit words (low half: even k, high half: odd k), the operand layout of
// vdpbf16ps. The micro-kernel accumulates in fp32. Inputs lose 16 mantissa bits, so results carry
// ~2^-9 relative rounding per product: a speed option, not a parity path.
#define BLD_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))

int bld_sgemm_bf16_avx512_supported(void) {
  __builtin_cpu_init();
  return bld_sgemm_avx512_supported() && __builtin_cpu_supports("avx512bf16");
}

size_t bld_sgemm_bf16_avx512_scratch_floats(void) {
  // fp32 staging (as the fp32 GEMM) + bf16 pair panels (half the floats, k rounded up to even) + alignment.
  return bld_sgemm_avx512_scratch_floats() + ((size_t)BLD_MC * (BLD_KC + 1) + (size_t)(BLD_KC + 1) * BLD_NC) / 2 + 32;
}

// Rounds two fp32 vectors to bf16 and packs them as words (bf16(lo) | bf16(hi) << 16).
BLD_AVX512_BF16 static inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
  __m512i a = _mm512_castps_si512(lo), b = _mm512_castps_si512(hi);
  a = _mm512_add_epi32(a, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(a, 16), one)));
  b = _mm512_add_epi32(b, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(b, 16), one)));
  return _mm512_or_si512(_mm512_srli_epi32(a, 16), _mm512_and_si512(b, _mm512_set1_epi32((int)0xFFFF0000u)));
}

// Converts fp32 panels (`panels` panels of kc x width floats) into pair panels of ceil(kc/2) x width words.
BLD_AVX512_BF16 static void pair_panels(const float *restrict packed, size_t panels, size_t kc, size_t width,
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

BLD_AVX512_BF16 static void micro_kernel_bf16(size_t pairs, const uint32_t *restrict pa, const uint32_t *restrict pb,
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

// MARK: - Driver

static void scale_c(size_t m, size_t n, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float beta) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float *dst = c + (ptrdiff_t)i * rs_c + (ptrdiff_t)j * cs_c;
      *dst = beta == 0.0f ? 0.0f : beta * *dst;
    }
}
// One GEMM call: C rows [row_begin, row_end) of op(A)·op(B) + beta·C, with op(A) either packed per block
// from `a` or taken from a pre-packed whole matrix `packed_a` (bld_sgemm_avx512_pack_a_f32's layout).
typedef struct {
  int trans_a, trans_b;
  size_t m, n, k, row_begin, row_end;
  const float *a;
  size_t lda;
  const float *packed_a;
  const float *b;
  size_t ldb;
  float beta;
  float *c;
  ptrdiff_t rs_c, cs_c;
} gemm_call;

// The blocked loop nest shared by the fp32 and bf16, packed and pre-packed entry points. Runs on the calling
// thread; bf16 != 0 only when bld_sgemm_bf16_avx512_supported().
static void gemm_blocked(const gemm_call *g, int bf16, float *scratch) {
  if (g->row_begin >= g->row_end || g->n == 0) return;
  if (g->k == 0) {
    scale_c(g->row_end - g->row_begin, g->n, g->c + (ptrdiff_t)g->row_begin * g->rs_c, g->rs_c, g->cs_c, g->beta);
    return;
  }
  float *aligned = (float *)(((size_t)scratch + 63) & ~(size_t)63);
  float *packed_a = aligned;
  float *packed_b = aligned + (size_t)BLD_MC * BLD_KC;
  uint32_t *pairs_a = (uint32_t *)(packed_b + (size_t)BLD_KC * BLD_NC);
  uint32_t *pairs_b = (uint32_t *)(((size_t)(pairs_a + (size_t)BLD_MC * (BLD_KC + 1) / 2 + 16) + 63) & ~(size_t)63);
  const size_t padded_m = (g->m + BLD_MR - 1) / BLD_MR * BLD_MR;
  for (size_t jc = 0; jc < g->n; jc += BLD_NC) {
    const size_t nc = min_size(BLD_NC, g->n - jc);
    for (size_t pc = 0; pc < g->k; pc += BLD_KC) {
      const size_t kc = min_size(BLD_KC, g->k - pc), pairs = (kc + 1) / 2;
      const float block_beta = pc == 0 ? g->beta : 1.0f;
      pack_b(g->trans_b, kc, nc, g->trans_b ? g->b + jc * g->ldb + pc : g->b + pc * g->ldb + jc, g->ldb, packed_b);
      if (bf16) pair_panels(packed_b, (nc + BLD_NR - 1) / BLD_NR, kc, BLD_NR, pairs_b);
      for (size_t ic = g->row_begin; ic < g->row_end; ic += BLD_MC) {
        const size_t mc = min_size(BLD_MC, g->row_end - ic);
        const float *a_block = packed_a;
        if (g->packed_a) {
          a_block = g->packed_a + pc * padded_m + ic * kc;
        } else {
          pack_a(g->trans_a, mc, kc, g->trans_a ? g->a + pc * g->lda + ic : g->a + ic * g->lda + pc, g->lda, packed_a);
        }
        if (bf16) pair_panels(a_block, (mc + BLD_MR - 1) / BLD_MR, kc, BLD_MR, pairs_a);
        for (size_t jr = 0; jr < nc; jr += BLD_NR) {
          const size_t nr = min_size(BLD_NR, nc - jr);
          for (size_t ir = 0; ir < mc; ir += BLD_MR) {
            const size_t mr = min_size(BLD_MR, mc - ir);
            float *tile = g->c + (ptrdiff_t)(ic + ir) * g->rs_c + (ptrdiff_t)(jc + jr) * g->cs_c;
            const int full = mr == BLD_MR && nr == BLD_NR && g->cs_c == 1;
            float buffer[BLD_MR * BLD_NR] __attribute__((aligned(64)));
            if (bf16) {
              const uint32_t *pa = pairs_a + (ir / BLD_MR) * pairs * BLD_MR, *pb = pairs_b + (jr / BLD_NR) * pairs * BLD_NR;
              if (full) {
                micro_kernel_bf16(pairs, pa, pb, tile, (size_t)g->rs_c, block_beta);
                continue;
              }
              micro_kernel_bf16(pairs, pa, pb, buffer, BLD_NR, 0.0f);
            } else {
              const float *pa = a_block + ir * kc, *pb = packed_b + jr * kc;
              if (full) {
                micro_kernel(kc, pa, pb, tile, (size_t)g->rs_c, block_beta);
                continue;
              }
              micro_kernel(kc, pa, pb, buffer, BLD_NR, 0.0f);
            }
            store_tile(buffer, tile, g->rs_c, g->cs_c, mr, nr, block_beta);
          }
        }
      }
    }
  }
}

static void gemm_packing_a(int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a, size_t lda,
                           const float *b, size_t ldb, float beta, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c,
                           float *scratch, int bf16) {
  const gemm_call g = {trans_a, trans_b, m, n, k, 0, m, a, lda, NULL, b, ldb, beta, c, rs_c, cs_c};
  gemm_blocked(&g, bf16, scratch);
}

void bld_sgemm_avx512_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a, size_t lda,
                          const float *b, size_t ldb, float beta, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c,
                          float *scratch) {
  gemm_packing_a(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, rs_c, cs_c, scratch, 0);
}

void bld_sgemm_bf16_avx512_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a,
                               size_t lda, const float *b, size_t ldb, float beta, float *c, ptrdiff_t rs_c,
                               ptrdiff_t cs_c, float *scratch) {
  gemm_packing_a(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, rs_c, cs_c, scratch, 1);
}

// MARK: - Pre-packed A (weights packed once)
//
// Layout of a pre-packed op(A) (m x k): for each KC block of k starting at pc, the block's MR-row panels
// over all m rows (as pack_a writes them), at offset pc * round_up(m, MR). A panel starting at row i
// within that block sits at + i * kc.

size_t bld_sgemm_avx512_packed_a_floats(size_t m, size_t k) {
  return (m + BLD_MR - 1) / BLD_MR * BLD_MR * k;
}

BLD_AVX512 void bld_sgemm_avx512_pack_a_f32(int trans_a, size_t m, size_t k, const float *a, size_t lda,
                                            float *out) {
  const size_t padded = (m + BLD_MR - 1) / BLD_MR * BLD_MR;
  for (size_t pc = 0; pc < k; pc += BLD_KC) {
    const size_t kc = min_size(BLD_KC, k - pc);
    pack_a(trans_a, m, kc, trans_a ? a + pc * lda : a + pc, lda, out + pc * padded);
  }
}

void bld_sgemm_avx512_prepacked_a_f32(size_t m, size_t n, size_t k, const float *packed_a, size_t row_begin,
                                      size_t row_end, int trans_b, const float *b, size_t ldb, float beta,
                                      float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch, int bf16) {
  const gemm_call g = {0, trans_b, m, n, k, row_begin, row_end < m ? row_end : m, NULL, 0, packed_a,
                       b, ldb, beta, c, rs_c, cs_c};
  gemm_blocked(&g, bf16, scratch);
}
