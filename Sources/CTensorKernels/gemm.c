// The blocked single-precision GEMM driver (BLIS-style loop nest) and its plan: which micro-kernel family
// runs and how large the cache blocks are, derived at run time from what the CPU reports (cpu_info.c).
//
// C = op(A) * op(B) + beta * C, row-major operands with arbitrary leading dimensions, and a C addressed
// through a row stride and a column stride (so a caller can compute a transposed product).
//
// Loop nest (one call, single-threaded; the Swift wrapper partitions M or N across threads):
//   jc over N in NC blocks      B block (KC x NC) packed once into NR-wide panels, kept in L3 (or made here
//                               by a callback, e.g. im2col; with at most MC rows, in nc_generated-wide
//                               blocks kept in L2)
//     pc over K in KC blocks
//       ic over M in MC blocks  A block (MC x KC) packed into MR-tall panels, kept in L2
//         jr over NR panels     one B micro-panel (KC x NR) stays in L1
//           ir over MR panels   the micro-kernel: an MR x NR tile of C in registers
#include "gemm_kernels.h"

#include <stdint.h>
#include <string.h>

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

// MARK: - Plan

static const bld_gemm_family *family_of(const bld_gemm_plan *plan) {
  switch (plan->kernel) {
  case BLD_GEMM_AVX512: return &bld_gemm_family_avx512;
  case BLD_GEMM_AVX2: return &bld_gemm_family_avx2;
  default: return NULL;
  }
}

bld_gemm_plan bld_gemm_plan_for(int simd_level) {
  const bld_cpu_info *cpu = bld_cpu();
  bld_gemm_plan plan = {BLD_GEMM_NONE, 0, 0, 0, 0, 0, 0};
  if (simd_level >= 2 && cpu->has_avx512) {
    plan.kernel = BLD_GEMM_AVX512;
    plan.mr = 14;
    plan.nr = 32;
  } else if (simd_level >= 1 && cpu->has_avx2_fma) {
    plan.kernel = BLD_GEMM_AVX2;
    plan.mr = 6;
    plan.nr = 16;
  } else {
    return plan;
  }
  bld_gemm_blocking(cpu->l1d_bytes, cpu->l2_bytes, cpu->l3_bytes / max_size(cpu->l3_sharing, 1), &plan);
  return plan;
}

void bld_gemm_blocking(size_t l1_bytes, size_t l2_bytes, size_t l3_bytes_per_core, bld_gemm_plan *plan) {
  const size_t mr = plan->mr ? plan->mr : 1, nr = plan->nr ? plan->nr : 1;
  // KC: a 32-float-wide B micro-panel (KC x 32) fills L1 (BLIS's sgemm blockings do the same, 256 on 32 KiB);
  // the A panels stream from L2 past it. Measured on Zen 4 (32 KiB L1): against 3/4 of L1 (KC 192), KC 256 made
  // sgemm-2048 6 % faster and a UNet call 2–7 %, since C is re-read once per K block. The width is 32 for every
  // family, so KC — which alone sets the summation order — is the same whichever family runs on a machine: the
  // AVX2 and AVX-512 kernels give bit-identical products.
  size_t kc = l1_bytes / (32 * sizeof(float)) / 16 * 16;
  kc = kc < 64 ? 64 : kc > 512 ? 512 : kc;
  // MC: the A block (MC x KC) takes about a quarter of L2 (the B micro-panels and C lines pass through too).
  size_t mc = l2_bytes / 4 / (kc * sizeof(float));
  mc = max_size(mr, min_size(mc, 1024) / mr * mr);
  // NC: the B block (KC x NC) takes about half of this core's share of L3 (of L2 when there is no L3).
  const size_t outer = l3_bytes_per_core > l2_bytes ? l3_bytes_per_core : l2_bytes;
  size_t nc = outer / 2 / (kc * sizeof(float));
  nc = max_size(nr, min_size(nc, 4096) / nr * nr);
  // A generated B block (KC x nc_generated) takes about a third of L2: written there, read from there.
  const size_t nc_generated = max_size(nr, min_size(l2_bytes / 3 / (kc * sizeof(float)), nc) / nr * nr);
  plan->kc = kc;
  plan->mc = mc;
  plan->nc = nc;
  plan->nc_generated = nc_generated;
}

size_t bld_gemm_k_block(const bld_gemm_plan *plan, size_t k) {
  // Up to 5/4 of KC stays one block (k = 320 in a 288-KC plan would otherwise leave a 32-deep remainder that
  // reloads C for little work); longer reductions are cut into equal blocks of at most KC.
  if (k <= plan->kc + plan->kc / 4) return k;
  const size_t blocks = (k + plan->kc - 1) / plan->kc;
  const size_t kc = (k + blocks - 1) / blocks;
  return (kc + 7) / 8 * 8;
}

int bld_gemm_bf16_supported(const bld_gemm_plan *plan) {
  return plan->kernel == BLD_GEMM_AVX512 && bld_cpu()->has_avx512_bf16;
}

size_t bld_gemm_scratch_floats(const bld_gemm_plan *plan) {
  // fp32 packed A and B blocks of the deepest K block (5/4 KC), bf16 pair panels of both (half the floats, k
  // rounded up to even), and 64-byte alignment slack for each of the four regions.
  const size_t kc = plan->kc + plan->kc / 4;
  const size_t a = plan->mc * kc, b = kc * plan->nc;
  const size_t pairs = (plan->mc * (kc + 1) + (kc + 1) * plan->nc) / 2;
  return a + b + pairs + 4 * 16;
}

size_t bld_gemm_packed_a_floats(const bld_gemm_plan *plan, size_t m, size_t k) {
  return (m + plan->mr - 1) / plan->mr * plan->mr * k;
}

// MARK: - Edges

static void scale_c(size_t m, size_t n, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float beta) {
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float *dst = c + (ptrdiff_t)i * rs_c + (ptrdiff_t)j * cs_c;
      *dst = beta == 0.0f ? 0.0f : beta * *dst;
    }
}

// Writes the valid mr x nr part of a computed tile (row-major, `width` wide) into C (any strides):
// C = tile (beta == 0) or tile + beta * C.
static void store_tile(const float *tile, size_t width, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, size_t mr,
                       size_t nr, float beta) {
  if (rs_c == 1) {
    // Transposed C: walk it column by column, so each store run is contiguous.
    for (size_t j = 0; j < nr; ++j)
      for (size_t i = 0; i < mr; ++i) {
        float *dst = c + (ptrdiff_t)i + (ptrdiff_t)j * cs_c;
        *dst = beta == 0.0f ? tile[i * width + j] : tile[i * width + j] + beta * *dst;
      }
    return;
  }
  for (size_t i = 0; i < mr; ++i)
    for (size_t j = 0; j < nr; ++j) {
      float *dst = c + (ptrdiff_t)i * rs_c + (ptrdiff_t)j * cs_c;
      *dst = beta == 0.0f ? tile[i * width + j] : tile[i * width + j] + beta * *dst;
    }
}

// MARK: - Driver

// One GEMM call: C rows [row_begin, row_end) of op(A)·op(B) + beta·C, with op(A) either packed per block
// from `a` or taken from a whole matrix pre-packed by bld_gemm_pack_a_f32 with the same plan.
typedef struct {
  int trans_a, trans_b;
  size_t m, n, k, row_begin, row_end;
  const float *a;
  size_t lda;
  const float *packed_a;
  // op(B) pre-packed as panels for all n columns, or made block by block by b_source, or neither (packed from
  // b); columns [column_begin, column_end) are computed.
  const float *packed_b;
  const bld_gemm_b_source *b_source;
  size_t column_begin, column_end;
  const float *b;
  size_t ldb;
  float beta;
  float *c;
  ptrdiff_t rs_c, cs_c;
} gemm_call;

static inline float *align64(void *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static void gemm_blocked(const bld_gemm_plan *plan, const gemm_call *g, int bf16, float *scratch) {
  if (g->row_begin >= g->row_end || g->column_begin >= g->column_end) return;
  if (g->k == 0) {
    scale_c(g->row_end - g->row_begin, g->column_end - g->column_begin,
            g->c + (ptrdiff_t)g->row_begin * g->rs_c + (ptrdiff_t)g->column_begin * g->cs_c, g->rs_c, g->cs_c, g->beta);
    return;
  }
  const bld_gemm_family *family = family_of(plan);
  const size_t MR = plan->mr, NR = plan->nr, KC = bld_gemm_k_block(plan, g->k), MC = plan->mc;
  // A generated B block stays in L2 (nc_generated columns) when the rows fit one M block: C's block (at most
  // MC x nc_generated) then stays there too across the K blocks. With more rows, C's block cannot, and a
  // narrower B block would only re-read all of A once more per block.
  const size_t NC = g->b_source && g->row_end - g->row_begin <= MC ? plan->nc_generated : plan->nc;
  bf16 = bf16 && bld_gemm_bf16_supported(plan);
  float *packed_a = align64(scratch);
  float *packed_b = align64(packed_a + MC * KC);
  uint32_t *pairs_a = (uint32_t *)align64(packed_b + KC * NC);
  uint32_t *pairs_b = (uint32_t *)align64(pairs_a + MC * (KC + 1) / 2);
  const size_t padded_m = (g->m + MR - 1) / MR * MR, padded_n = (g->n + NR - 1) / NR * NR;
  float buffer[BLD_GEMM_MAX_TILE] __attribute__((aligned(64)));
  for (size_t jc = g->column_begin; jc < g->column_end; jc += NC) {
    const size_t nc = min_size(NC, g->column_end - jc);
    for (size_t pc = 0; pc < g->k; pc += KC) {
      const size_t kc = min_size(KC, g->k - pc), pairs = (kc + 1) / 2;
      const float block_beta = pc == 0 ? g->beta : 1.0f;
      const float *b_block = packed_b;
      if (g->packed_b) {
        b_block = g->packed_b + pc * padded_n + jc * kc;
      } else if (g->b_source) {
        g->b_source->fill(g->b_source->context, pc, kc, jc, nc, packed_b);
      } else {
        family->pack_b(g->trans_b, kc, nc, g->trans_b ? g->b + jc * g->ldb + pc : g->b + pc * g->ldb + jc, g->ldb,
                       packed_b);
      }
      if (bf16) bld_gemm_avx512_pair_panels(b_block, (nc + NR - 1) / NR, kc, NR, pairs_b);
      for (size_t ic = g->row_begin; ic < g->row_end; ic += MC) {
        const size_t mc = min_size(MC, g->row_end - ic);
        const float *a_block = packed_a;
        if (g->packed_a) {
          a_block = g->packed_a + pc * padded_m + ic * kc;
        } else {
          family->pack_a(g->trans_a, mc, kc, g->trans_a ? g->a + pc * g->lda + ic : g->a + ic * g->lda + pc, g->lda,
                         packed_a);
        }
        if (bf16) bld_gemm_avx512_pair_panels(a_block, (mc + MR - 1) / MR, kc, MR, pairs_a);
        for (size_t jr = 0; jr < nc; jr += NR) {
          const size_t nr = min_size(NR, nc - jr);
          for (size_t ir = 0; ir < mc; ir += MR) {
            const size_t mr = min_size(MR, mc - ir);
            float *tile = g->c + (ptrdiff_t)(ic + ir) * g->rs_c + (ptrdiff_t)(jc + jr) * g->cs_c;
            const int full = mr == MR && nr == NR && g->cs_c == 1;
            float *out = full ? tile : buffer;
            const size_t ldc = full ? (size_t)g->rs_c : NR;
            const float out_beta = full ? block_beta : 0.0f;
            if (bf16) {
              bld_gemm_avx512_micro_kernel_bf16(pairs, pairs_a + (ir / MR) * pairs * MR, pairs_b + (jr / NR) * pairs * NR,
                                                out, ldc, out_beta);
            } else if (mr < MR) {
              family->micro_kernel_rows(mr, kc, a_block + ir * kc, b_block + jr * kc, out, ldc);
            } else {
              family->micro_kernel(kc, a_block + ir * kc, b_block + jr * kc, out, ldc, out_beta);
            }
            if (!full) store_tile(buffer, NR, tile, g->rs_c, g->cs_c, mr, nr, block_beta);
          }
        }
      }
    }
  }
}

void bld_gemm_f32(const bld_gemm_plan *plan, int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a,
                  size_t lda, const float *b, size_t ldb, float beta, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c,
                  float *scratch, int bf16) {
  const gemm_call g = {trans_a, trans_b, m, n, k, 0, m, a, lda, NULL, NULL, NULL, 0, n, b, ldb, beta, c, rs_c, cs_c};
  gemm_blocked(plan, &g, bf16, scratch);
}

// MARK: - Pre-packed A (weights packed once)
//
// Layout of a pre-packed op(A) (m x k): for each K block of k (bld_gemm_k_block) starting at pc, the block's
// MR-row panels over all m rows (as the family's pack_a writes them), at offset pc * round_up(m, MR). A panel
// starting at row i within that block sits at + i * kc.

void bld_gemm_pack_a_f32(const bld_gemm_plan *plan, int trans_a, size_t m, size_t k, const float *a, size_t lda,
                         size_t panel_begin, size_t panel_end, float *out) {
  const size_t mr = plan->mr, padded = (m + mr - 1) / mr * mr, block = bld_gemm_k_block(plan, k);
  const size_t i0 = panel_begin * mr, i1 = min_size(m, panel_end * mr);
  if (i0 >= i1) return;
  for (size_t pc = 0; pc < k; pc += block) {
    const size_t kc = min_size(block, k - pc);
    family_of(plan)->pack_a(trans_a, i1 - i0, kc, trans_a ? a + pc * lda + i0 : a + i0 * lda + pc, lda,
                            out + pc * padded + i0 * kc);
  }
}

void bld_gemm_pack_a_half(const bld_gemm_plan *plan, size_t m, size_t k, const uint16_t *a, int bfloat16,
                          size_t panel_begin, size_t panel_end, float *staging, float *out) {
  const size_t mr = plan->mr, padded = (m + mr - 1) / mr * mr, block = bld_gemm_k_block(plan, k);
  for (size_t q = panel_begin; q < panel_end && q * mr < m; ++q) {
    const size_t i0 = q * mr, rows = min_size(mr, m - i0);
    // The panel's rows are consecutive in A: widen them in one run, then pack each K block from there.
    if (bfloat16) bld_convert_bf16_f32(a + i0 * k, staging, rows * k);
    else bld_convert_f16_f32(a + i0 * k, staging, rows * k);
    for (size_t pc = 0; pc < k; pc += block) {
      const size_t kc = min_size(block, k - pc);
      family_of(plan)->pack_a(0, rows, kc, staging + pc, k, out + pc * padded + i0 * kc);
    }
  }
}

void bld_gemm_prepacked_a_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, const float *packed_a,
                              size_t row_begin, size_t row_end, int trans_b, const float *b, size_t ldb, float beta,
                              float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch, int bf16) {
  const gemm_call g = {0, trans_b, m, n, k, row_begin, row_end < m ? row_end : m, NULL, 0, packed_a,
                       NULL, NULL, 0, n, b, ldb, beta, c, rs_c, cs_c};
  gemm_blocked(plan, &g, bf16, scratch);
}

size_t bld_gemm_packed_b_floats(const bld_gemm_plan *plan, size_t k, size_t n) {
  return (n + plan->nr - 1) / plan->nr * plan->nr * k;
}

void bld_gemm_pack_b_f32(const bld_gemm_plan *plan, int trans_b, size_t k, size_t n, const float *b, size_t ldb,
                         size_t panel_begin, size_t panel_end, float *out) {
  const size_t nr = plan->nr, padded = (n + nr - 1) / nr * nr, block = bld_gemm_k_block(plan, k);
  const size_t j0 = panel_begin * nr, j1 = min_size(n, panel_end * nr);
  if (j0 >= j1) return;
  for (size_t pc = 0; pc < k; pc += block) {
    const size_t kc = min_size(block, k - pc);
    family_of(plan)->pack_b(trans_b, kc, j1 - j0, trans_b ? b + j0 * ldb + pc : b + pc * ldb + j0, ldb,
                            out + pc * padded + j0 * kc);
  }
}

void bld_gemm_pack_b_half_transposed(const bld_gemm_plan *plan, size_t k, size_t n, const uint16_t *b,
                                     int bfloat16, size_t panel_begin, size_t panel_end, float *staging, float *out) {
  const size_t nr = plan->nr, padded = (n + nr - 1) / nr * nr, block = bld_gemm_k_block(plan, k);
  for (size_t q = panel_begin; q < panel_end && q * nr < n; ++q) {
    const size_t j0 = q * nr, columns = min_size(nr, n - j0);
    // The panel's columns of op(B) are rows j0 ... of B: widen them, then pack as a transposed fp32 operand.
    for (size_t j = 0; j < columns; ++j) {
      if (bfloat16) bld_convert_bf16_f32(b + (j0 + j) * k, staging + j * k, k);
      else bld_convert_f16_f32(b + (j0 + j) * k, staging + j * k, k);
    }
    for (size_t pc = 0; pc < k; pc += block) {
      const size_t kc = min_size(block, k - pc);
      family_of(plan)->pack_b(1, kc, columns, staging + pc, k, out + pc * padded + j0 * kc);
    }
  }
}

void bld_gemm_packed_b_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, int trans_a, const float *a,
                           size_t lda, const float *packed_a, const float *packed_b, size_t row_begin, size_t row_end,
                           size_t column_begin, size_t column_end, float beta, float *c, ptrdiff_t rs_c,
                           ptrdiff_t cs_c, float *scratch, int bf16) {
  // Panel offsets use the full m and n; only rows [row_begin, row_end) x columns [column_begin, column_end).
  const gemm_call g = {trans_a, 0, m, n, k, row_begin, row_end < m ? row_end : m, a, lda, packed_a, packed_b,
                       NULL, column_begin, column_end < n ? column_end : n, NULL, 0, beta, c, rs_c, cs_c};
  gemm_blocked(plan, &g, bf16, scratch);
}

void bld_gemm_generated_b_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, const float *packed_a,
                              const bld_gemm_b_source *source, size_t row_begin, size_t row_end,
                              size_t column_begin, size_t column_end, float beta, float *c, ptrdiff_t rs_c,
                              ptrdiff_t cs_c, float *scratch, int bf16) {
  const gemm_call g = {0, 0, m, n, k, row_begin, row_end < m ? row_end : m, NULL, 0, packed_a, NULL, source,
                       column_begin, column_end < n ? column_end : n, NULL, 0, beta, c, rs_c, cs_c};
  gemm_blocked(plan, &g, bf16, scratch);
}
