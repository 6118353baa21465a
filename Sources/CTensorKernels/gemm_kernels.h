// Private to CTensorKernels: the micro-kernel families behind the blocked GEMM driver of gemm.c.
//
// A family supplies packers for the MR-row panels of op(A) and the NR-column panels of op(B), and a
// micro-kernel that computes one MR x NR tile of C from a kc-long pair of panels. The driver owns the
// blocking (KC, MC, NC from the cache sizes) and the edges.
#ifndef BLD_GEMM_KERNELS_H
#define BLD_GEMM_KERNELS_H

#include "CTensorKernels.h"

/// Largest MR x NR of any family (the driver's edge-tile buffer).
#define BLD_GEMM_MAX_TILE (16 * 32)

typedef struct {
  /// Packs rows [0, mc) x columns [0, kc) of op(A) (already offset to the block) into MR-row panels: panel p
  /// holds, for each l, the MR values op(A)[p*MR + i][l], zero beyond mc.
  void (*pack_a)(int trans, size_t mc, size_t kc, const float *a, size_t lda, float *restrict out);
  /// Packs rows [0, kc) x columns [0, nc) of op(B) into NR-column panels (64-byte aligned `out`): panel q
  /// holds, for each l, the NR values op(B)[l][q*NR + j], zero beyond nc.
  void (*pack_b)(int trans, size_t kc, size_t nc, const float *b, size_t ldb, float *restrict out);
  /// Sets the MR x NR tile of C (row stride ldc, unit column stride) to pa·pb (beta == 0, C never read) or
  /// pa·pb + beta·C, from kc-long packed panels.
  void (*micro_kernel)(size_t kc, const float *restrict pa, const float *restrict pb, float *c, size_t ldc,
                       float beta);
  /// Sets the first `rows` (< MR) rows of the MR x NR tile of C (row stride ldc) to pa·pb: the bottom edge of
  /// a product whose M is not a multiple of MR then costs its rows, not MR. Each element sums over l in the
  /// order micro_kernel does, so both give bit-identical values.
  void (*micro_kernel_rows)(size_t rows, size_t kc, const float *restrict pa, const float *restrict pb, float *c,
                            size_t ldc);
} bld_gemm_family;

/// The AVX-512 family (MR 14, NR 32), its bf16 pair-panel conversion and bf16 micro-kernel.
extern const bld_gemm_family bld_gemm_family_avx512;
void bld_gemm_avx512_pair_panels(const float *restrict packed, size_t panels, size_t kc, size_t width,
                                 uint32_t *restrict out);
void bld_gemm_avx512_micro_kernel_bf16(size_t pairs, const uint32_t *restrict pa, const uint32_t *restrict pb,
                                       float *c, size_t ldc, float beta);

/// The AVX2 + FMA family (MR 6, NR 16).
extern const bld_gemm_family bld_gemm_family_avx2;

/// A right operand made block by block while the product runs: fill writes rows [pc, pc + kc) x columns
/// [jc, jc + nc) of op(B) (jc a multiple of NR) as NR-column panels, panel q (columns jc + q*NR ...) at
/// out + q * NR * kc, zero beyond the operand's last column: the layout pack_b writes.
typedef struct {
  void (*fill)(const void *context, size_t pc, size_t kc, size_t jc, size_t nc, float *restrict out);
  const void *context;
} bld_gemm_b_source;

/// Rows [row_begin, row_end) x columns [column_begin, column_end) (multiples of MR and NR) of
/// C = A * op(B) + beta * C, single-threaded, with A pre-packed by bld_gemm_pack_a_f32 and op(B) made by
/// `source` in blocks of plan->nc_generated columns (loops as in bld_gemm_f32).
void bld_gemm_generated_b_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, const float *packed_a,
                              const bld_gemm_b_source *source, size_t row_begin, size_t row_end,
                              size_t column_begin, size_t column_end, float beta, float *c, ptrdiff_t rs_c,
                              ptrdiff_t cs_c, float *scratch, int bf16);

#endif
