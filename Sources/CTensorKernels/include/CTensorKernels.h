// Hot loops of TensorCore. No stable API: only TensorCore calls these, through
// `internal import`. Kernels allocate nothing and validate nothing; the Swift
// wrappers check shapes and provide scratch memory.
#ifndef BLD_CTENSORKERNELS_H
#define BLD_CTENSORKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The vector extension level this CPU supports: 0 portable C, 1 AVX2 + FMA, 2 AVX-512F (x86-64 only).
int bld_detected_simd_level(void);
/// Caps the level the kernels use on the calling thread (for tests and diagnosis). Default: no cap (2).
void bld_set_simd_limit(int level);
/// The calling thread's cap (what bld_set_simd_limit set, 2 by default).
int bld_simd_limit(void);
/// The level in use on the calling thread: min(detected, limit).
int bld_simd_level(void);

/// Marks the calling thread as running (or no longer running) a chunk of a TensorCore parallel region.
void bld_parallel_region_enter(void);
void bld_parallel_region_leave(void);
/// Non-zero while the calling thread runs a parallel-region chunk (BLAS must not be called then).
int bld_in_parallel_region(void);

/// One worker's share of a parallel region: called with the caller's context and a worker index.
typedef void (*bld_task_fn)(void *context, size_t worker);

/// Runs fn(context, i) for i in [0, workers) concurrently: index 0 on the calling thread, the others on the
/// process's pool of worker threads (thread_pool.c), which spin for 2 ms after each region before sleeping.
/// Returns when all have finished. One region at a time: a caller that finds the pool busy runs every index
/// itself, in order.
void bld_parallel_run(size_t workers, bld_task_fn fn, void *context);

/// Counts one product handed to OpenBLAS on the calling thread / reads that thread's count.
void bld_note_blas_call(void);
unsigned long bld_blas_calls_on_this_thread(void);

/// Writes the im2col columns for output rows [row_begin, row_end) of one image.
/// input: [channels, height, width]; columns: [channels * kh * kw, (row_end - row_begin) * out_width].
void bld_im2col_f32(const float *restrict input, size_t channels, size_t height, size_t width,
                    size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                    size_t out_width, size_t row_begin, size_t row_end,
                    size_t channel_begin, size_t channel_end, float *restrict columns);

/// Group normalisation of one sample's groups [group_begin, group_end).
/// x, y: [channels, spatial]; gamma, beta: [channels] or NULL. silu != 0 applies SiLU after the affine.
void bld_group_norm_f32(const float *restrict x, float *restrict y, size_t channels, size_t spatial,
                        size_t groups, size_t group_begin, size_t group_end,
                        const float *gamma, const float *beta, float epsilon, int silu);

/// Layer normalisation over the last axis for rows [row_begin, row_end) of a [rows, width] matrix.
void bld_layer_norm_f32(const float *restrict x, float *restrict y, size_t width,
                        size_t row_begin, size_t row_end,
                        const float *gamma, const float *beta, float epsilon);

/// Numerically stable softmax of rows [row_begin, row_end) in place, after multiplying by `scale`.
/// With causal != 0, entries j > row + causal_offset are set to zero probability.
void bld_softmax_rows_f32(float *restrict x, size_t width, size_t row_begin, size_t row_end,
                          float scale, int causal, size_t causal_offset);

/// Softmax of one row in place: entries [0, valid) after multiplying by `scale`; entries [valid, width) set to 0.
void bld_softmax_row_f32(float *restrict row, size_t width, size_t valid, float scale);

/// The maximum of row[0, valid) (−∞ when valid is 0).
float bld_row_max_f32(const float *restrict row, size_t valid);

/// Replaces row[i] by exp(row[i] − shift) for i < valid and zeroes [valid, width); returns the sum of the
/// exponentials (accumulated in double).
double bld_exp_minus_row_f32(float *restrict row, size_t width, size_t valid, float shift);


/// Keys per panel of the packed key layout of bld_attention_head_f32.
#define BLD_KEY_PANEL 16

/// `key_count` rounded up to whole key panels.
static inline size_t bld_padded_key_count(size_t key_count) {
  return (key_count + BLD_KEY_PANEL - 1) / BLD_KEY_PANEL * BLD_KEY_PANEL;
}

/// Packs one head's keys (rows of stride `width` starting at `k`) into panels of BLD_KEY_PANEL keys:
/// packed[p][c][jj] = k[p * 16 + jj][c], zero past key_count. Size: padded_key_count * head_width floats.
void bld_pack_keys_f32(const float *restrict k, size_t key_count, size_t width, size_t head_width,
                       float *restrict packed);

/// Copies one head's values (rows of stride `width` starting at `v`) into contiguous rows of head_width floats:
/// packed[j][c] = v[j][c]. Size: key_count * head_width floats.
void bld_pack_values_f32(const float *restrict v, size_t key_count, size_t width, size_t head_width,
                         float *restrict packed);

/// Keys per block of bld_attention_head_f32's four-row path (portable builds and CPUs without AVX2): a block's
/// scores, keys and values are used by every query row of the call before the next block is read.
#define BLD_ATTENTION_KEY_BLOCK 256

/// Keys per block of the lane paths (sixteen query rows per AVX-512 vector, eight per AVX2 one): a block of
/// keys and values (packed, 64 x d floats each) and transposed scores (64 x 16, or 64 x 8 for each of two groups) stay in L1 while every
/// group of the call uses them (measured on AVX-512: 64 beats 128 and 256 for heads of 40, 64 and 80).
#define BLD_ATTENTION_LANE_KEY_BLOCK 64

/// Scratch floats bld_attention_head_f32 needs for up to `rows` query rows of a `head_width`-wide head, whichever
/// path runs: the four-row path holds one key block of scores for eight rows and per row its output
/// accumulator, running max and sum; the lane paths one block of transposed scores for 16 rows (AVX-512, or AVX2's
/// two groups of eight) and per row its scaled query, output, max and sum (plus alignment slack).
static inline size_t bld_attention_scratch_floats(size_t rows, size_t head_width) {
  const size_t four_row = 8 * BLD_ATTENTION_KEY_BLOCK + (rows + 7) / 8 * 8 * (head_width + 2);
  const size_t lane = 16 * BLD_ATTENTION_LANE_KEY_BLOCK + (rows + 15) / 16 * 16 * (2 * head_width + 2) + 16;
  return four_row > lane ? four_row : lane;
}

/// Fused attention of one (batch, head) for query rows [row_begin, row_end): softmax(scale · q kᵀ) v over all
/// keys (or keys 0...row when causal), in key blocks with an online softmax. q and out point at the head's
/// first element, rows of stride `width`; kp holds the head's keys packed by bld_pack_keys_f32; v the head's
/// values, rows of stride `v_stride` (head_width when packed contiguously, which keeps every cache line useful).
/// scratch: bld_attention_scratch_floats(row_end - row_begin, head_width) floats. No BLAS; safe in a parallel
/// region.
void bld_attention_head_f32(const float *restrict q, const float *restrict kp, const float *restrict v,
                            size_t v_stride, float *restrict out, size_t key_count, size_t width, size_t head_width,
                            size_t row_begin, size_t row_end, float scale, int causal, float *restrict scratch);

/// Element-wise activations over [begin, end). kind: 0 SiLU, 1 GELU (erf), 2 GELU (tanh), 3 quick GELU.
void bld_activation_f32(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind);

/// SiLU in place over x[0, count).
void bld_silu_inplace_f32(float *restrict x, size_t count);

/// One channel of a group norm in one pass: y[i] = ((x[i] − m) − m_lo) · scale + shift (multiply, then add),
/// then SiLU when `silu` is nonzero, over [0, count); the same results as the affine loop followed by
/// bld_silu_inplace_f32.
void bld_affine_silu_f32(const float *restrict x, float *restrict y, size_t count, float m, float m_lo,
                         float scale, float shift, int silu);

/// GEGLU gate: y[r, j] = a[r, j] * gelu_erf(a[r, width + j]) for rows [row_begin, row_end) of [rows, 2*width].
void bld_geglu_f32(const float *restrict a, float *restrict y, size_t width, size_t row_begin, size_t row_end);

/// Nearest 2x upsampling of planes [plane_begin, plane_end): x [planes, h, w] -> y [planes, 2h, 2w].
void bld_upsample_nearest2x_f32(const float *restrict x, float *restrict y, size_t height, size_t width,
                                size_t plane_begin, size_t plane_end);

/// The adjoint of bld_im2col_f32: adds the columns for output rows [row_begin, row_end) back into
/// channels [channel_begin, channel_end) of one image. columns: [channels * kh * kw, (row_end - row_begin) * out_width];
/// input: [channels, height, width], accumulated into (not overwritten).
void bld_col2im_accumulate_f32(const float *restrict columns, size_t channels, size_t height, size_t width,
                               size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                               size_t out_width, size_t row_begin, size_t row_end,
                               size_t channel_begin, size_t channel_end, float *restrict input);

// MARK: - CPU facts (cpu_info.c)

/// What the CPU reports about itself (cpuid, then Linux sysfs for cache sizes; defaults where neither says).
typedef struct {
  /// "GenuineIntel", "AuthenticAMD", … ("unknown" off x86-64).
  char vendor[16];
  /// The brand string, e.g. "Intel(R) Xeon(R) Platinum 8480+" ("unknown" when not reported).
  char brand[49];
  /// Display family and model (cpuid leaf 1, extended fields folded in).
  int family, model;
  /// Per-core L1 data and L2 cache sizes and the L3 size with the number of logical CPUs sharing it.
  size_t l1d_bytes, l2_bytes, l3_bytes, l3_sharing;
  /// Instruction sets the kernels use: AVX2 + FMA; AVX-512 F/BW/VL/DQ; AVX512_BF16.
  int has_avx2_fma, has_avx512, has_avx512_bf16;
} bld_cpu_info;

/// This CPU's facts, detected once per process.
const bld_cpu_info *bld_cpu(void);

/// Measured FMA throughput of the calling thread in GFLOP/s (12 independent FMA chains of the widest vectors
/// allowed by `simd_level`: 2 zmm, 1 ymm), best of repeated runs over about `seconds`, and at least one run of
/// ≥ 10 ms however short `seconds` is. Each chain feeds its result to a multiplicand (a = a·x + y), or with
/// `accumulating` to the addend (a = x·y + a, as a GEMM sums products). 0 without AVX2/FMA.
double bld_fma_peak_gflops(int simd_level, int accumulating, double seconds);

/// The CPUs this process may use (process_cpus.c): min(affinity mask count, ceil(cgroup CPU quota)), at least 1.
/// Writes the two parts (0 when unknown / no quota) through the non-NULL pointers.
int bld_process_cpu_limit(int *affinity, int *quota);

// MARK: - Blocked GEMM (gemm.c, gemm_avx2.c, gemm_avx512.c)

/// Micro-kernel families of the blocked GEMM.
enum { BLD_GEMM_NONE = 0, BLD_GEMM_AVX2 = 1, BLD_GEMM_AVX512 = 2 };

/// Which micro-kernel family runs and how the loops are blocked. A pre-packed left operand is only valid with
/// the plan that packed it.
typedef struct {
  /// BLD_GEMM_AVX2 (6 x 16 tiles), BLD_GEMM_AVX512 (14 x 32 tiles), or BLD_GEMM_NONE (no kernel: use BLAS).
  int kernel;
  /// Register tile (rows of op(A) x columns of op(B)) and the K, M and N cache blocks.
  size_t mr, nr, kc, mc, nc;
  /// The N block of a right operand made block by block as the product runs (im2col, bld_conv_gemm_f32): a
  /// KC x nc_generated block fills about a third of L2, so it is still there when the micro-kernels read it.
  size_t nc_generated;
} bld_gemm_plan;

/// The plan for this CPU with kernels up to `simd_level` (1 AVX2, 2 AVX-512): the widest family the CPU has
/// and blocking from its cache sizes (bld_gemm_blocking).
bld_gemm_plan bld_gemm_plan_for(int simd_level);

/// Sets plan->kc, mc, nc, nc_generated for the given cache sizes (bytes) and the plan's mr, nr: a 32-wide B
/// micro-panel filling L1 (the same KC for every family), the A block in a quarter of L2, the B block in half
/// of this core's share of L3, a generated B block in a third of L2.
void bld_gemm_blocking(size_t l1_bytes, size_t l2_bytes, size_t l3_bytes_per_core, bld_gemm_plan *plan);

/// The depth of the K blocks of a product with reduction length k: k itself up to 5/4 of plan->kc, otherwise
/// equal blocks of at most plan->kc (rounded up to a multiple of 8; the last block may be shorter).
size_t bld_gemm_k_block(const bld_gemm_plan *plan, size_t k);

/// Whether `plan` runs bf16 operands (AVX-512 family on a CPU with AVX512_BF16).
int bld_gemm_bf16_supported(const bld_gemm_plan *plan);

/// Rows [row_begin, row_end) (output channels; row_begin a multiple of plan->mr) x columns [column_begin,
/// column_end) (output positions of one image, row-major; column_begin a multiple of plan->nr) of the
/// convolution C = W * im2col(input) + beta * C, single-threaded, with W (m x channels * kh * kw) pre-packed by
/// bld_gemm_pack_a_f32. The im2col matrix is never stored: each KC x NC block of it is unfolded straight into
/// the GEMM's B panels (plan->nc_generated columns, so it stays in L2) just before the micro-kernels read it.
/// C: m rows of out_height * out_width, row stride ldc. scratch: bld_gemm_scratch_floats(plan) floats.
void bld_conv_gemm_f32(const bld_gemm_plan *plan, const float *restrict input, size_t channels, size_t height,
                       size_t width, size_t kernel_h, size_t kernel_w, size_t stride, size_t padding,
                       size_t out_height, size_t out_width, size_t m, const float *packed_a, size_t row_begin,
                       size_t row_end, size_t column_begin, size_t column_end, float beta, float *c, size_t ldc,
                       float *scratch, int bf16);

/// Floats of a whole op(B) (k x n) packed by bld_gemm_pack_b_f32.
size_t bld_gemm_packed_b_floats(const bld_gemm_plan *plan, size_t k, size_t n);

/// Packs the NR-column panels [panel_begin, panel_end) of op(B) (k x n; trans_b: B is stored n x k) into the
/// layout bld_gemm_packed_b_f32 reads (for the K block starting at pc, panel q at out + pc * round_up(n, NR) +
/// q * NR * kc), so one packing serves every piece of a product split by rows. out: 64-byte aligned.
void bld_gemm_pack_b_f32(const bld_gemm_plan *plan, int trans_b, size_t k, size_t n, const float *b, size_t ldb,
                         size_t panel_begin, size_t panel_end, float *out);

/// bld_gemm_pack_b_f32 with trans_b for a weight stored at half width: op(B) = Bᵀ with B n x k rows of IEEE
/// half (bfloat16 == 0) or bfloat16 bits, widened panel by panel into `staging` (plan->nr * k floats, this
/// caller's own) and packed from there, so the weight is never widened whole.
void bld_gemm_pack_b_half_transposed(const bld_gemm_plan *plan, size_t k, size_t n, const uint16_t *b,
                                     int bfloat16, size_t panel_begin, size_t panel_end, float *staging, float *out);

/// Rows [row_begin, row_end) x columns [column_begin, column_end) (beginnings multiples of plan->mr and
/// plan->nr) of C = op(A) * B + beta * C with B pre-packed as panels (bld_gemm_pack_b_f32's layout) and op(A)
/// either pre-packed by bld_gemm_pack_a_f32 (packed_a) or given
/// (a, lda, trans_a; packed block by block, when packed_a is NULL), all with `plan`. Element (i, j) of C is
/// c[i * rs_c + j * cs_c].
void bld_gemm_packed_b_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, int trans_a, const float *a,
                           size_t lda, const float *packed_a, const float *packed_b, size_t row_begin, size_t row_end,
                           size_t column_begin, size_t column_end, float beta, float *c, ptrdiff_t rs_c,
                           ptrdiff_t cs_c, float *scratch, int bf16);

/// Floats of scratch one GEMM call with `plan` needs (fp32 or bf16), including 64-byte alignment slack.
size_t bld_gemm_scratch_floats(const bld_gemm_plan *plan);

/// C = op(A) * op(B) + beta * C, single-threaded. op(A): m x k, op(B): k x n, row-major with leading
/// dimensions lda/ldb (trans_a: A is stored k x m; trans_b: B is stored n x k). Element (i, j) of C is
/// c[i * rs_c + j * cs_c]. beta == 0 never reads C. bf16 != 0 rounds both operands to bf16 and multiplies
/// with vdpbf16ps (fp32 accumulation) when bld_gemm_bf16_supported(plan); ignored otherwise.
/// plan->kernel must not be BLD_GEMM_NONE.
void bld_gemm_f32(const bld_gemm_plan *plan, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                  const float *a, size_t lda, const float *b, size_t ldb, float beta,
                  float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch, int bf16);

/// Floats of a pre-packed op(A) of m x k under `plan` (MR-row panels per KC block; see gemm.c).
size_t bld_gemm_packed_a_floats(const bld_gemm_plan *plan, size_t m, size_t k);

/// Packs the MR-row panels [panel_begin, panel_end) of op(A) (m x k; trans_a: A is stored k x m), for
/// bld_gemm_prepacked_a_f32 with the same plan; disjoint panel ranges can be packed concurrently.
/// out: bld_gemm_packed_a_floats(plan, m, k) floats.
void bld_gemm_pack_a_f32(const bld_gemm_plan *plan, int trans_a, size_t m, size_t k, const float *a, size_t lda,
                         size_t panel_begin, size_t panel_end, float *out);

/// bld_gemm_pack_a_f32 without transposition for a matrix stored at half width: A is m x k rows of IEEE half
/// (bfloat16 == 0) or bfloat16 bits, widened panel by panel into `staging` (plan->mr * k floats, this caller's
/// own) and packed from there, so it is never widened whole. Same packed floats as widening A first.
void bld_gemm_pack_a_half(const bld_gemm_plan *plan, size_t m, size_t k, const uint16_t *a, int bfloat16,
                          size_t panel_begin, size_t panel_end, float *staging, float *out);

/// Rows [row_begin, row_end) of C = op(A) * op(B) + beta * C with op(A) (m x k) pre-packed by
/// bld_gemm_pack_a_f32 with the same plan. row_begin must be a multiple of plan->mr. C and its strides are as
/// in bld_gemm_f32 (c points at row 0).
void bld_gemm_prepacked_a_f32(const bld_gemm_plan *plan, size_t m, size_t n, size_t k, const float *packed_a,
                              size_t row_begin, size_t row_end, int trans_b, const float *b, size_t ldb,
                              float beta, float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch, int bf16);

/// Sets glibc's mmap threshold (bytes, at most INT_MAX) with mallopt and turns its automatic trimming of the
/// heap's top off. Returns 1 when both took effect, 0 otherwise (or on non-glibc platforms, where it does
/// nothing).
int bld_tune_malloc(size_t mmap_threshold);

/// The kernel's transparent huge page size in bytes when it can back advised memory with them
/// (`/sys/kernel/mm/transparent_hugepage/enabled` is `always` or `madvise`), 0 otherwise. Read once.
size_t bld_transparent_huge_page_bytes(void);

/// Asks the kernel to back the whole huge pages inside [address, address + bytes) with transparent huge
/// pages (`madvise(MADV_HUGEPAGE)`): pages touched afterwards fault in 2 MiB at a time and need far fewer TLB
/// entries. Does nothing when the range holds no whole huge page or the kernel has none to give.
void bld_advise_huge_pages(void *address, size_t bytes);

/// Returns the allocator's free memory to the system (glibc `malloc_trim(0)`; nothing elsewhere).
void bld_release_free_memory(void);

/// Winograd F(m x m, 3x3) weight transform (m = `tile`, 4 or 6; n = m + 2 below) fused with the GEMM packing:
/// for the MR-row panels [panel_begin, panel_end) of the O output channels, writes the n² matrices U[ξ] (O x C)
/// in the layout of bld_gemm_pack_a_f32 under `plan` at packed + ξ * point_stride
/// (point_stride >= bld_gemm_packed_a_floats(plan, O, C)). plan->kernel must not be BLD_GEMM_NONE.
/// With tile 7 the weight is [O, C, 2, 2] and the transform F(7x7, 2x2)'s (n = 8; the upsampling convolution's
/// phase kernels, bld_winograd_output_upsampling_f32).
void bld_winograd_weights_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict weight,
                                     size_t out_channels, size_t in_channels, size_t panel_begin, size_t panel_end,
                                     float *restrict packed, size_t point_stride);

/// bld_winograd_weights_packed_f32 for a weight stored at half width ([O, C, 3, 3] IEEE half bits, or bfloat16
/// when bfloat16 != 0): each panel's MR output channels are widened into `staging` (plan->mr * C * 9 floats, this
/// caller's own) and transformed from there. Same floats as widening the weight first.
void bld_winograd_weights_packed_half(const bld_gemm_plan *plan, size_t tile, const uint16_t *restrict weight,
                                      int bfloat16, size_t out_channels, size_t in_channels, size_t panel_begin,
                                      size_t panel_end, float *restrict staging, float *restrict packed,
                                      size_t point_stride);

/// Floats of the `staging` buffer of bld_winograd_products_streaming_weights (one panel's taps of one K block).
size_t bld_winograd_streaming_staging_floats(const bld_gemm_plan *plan, size_t in_channels);

/// Floats of the `u` buffer of bld_winograd_products_streaming_weights (one panel's transformed K block, every
/// point), for F(m x m, 3x3) with m = `tile`.
size_t bld_winograd_streaming_block_floats(const bld_gemm_plan *plan, size_t tile, size_t in_channels);

/// The Winograd products M[ξ] = U[ξ] · V[ξ] (F(m x m, 3x3), m = `tile`, 4 or 6) for the rows of the MR-row panels
/// [panel_begin, panel_end) of the O output channels, with U transformed from the [O, C, 3, 3] weight inside the
/// products: each panel's weights one K block (bld_gemm_k_block(plan, C) input channels) at a time into `u`, used
/// by every point's product at once. The weight is `weight` (fp32) when `half` is NULL, else `half` (IEEE half
/// bits, or bfloat16 when bfloat16 != 0), widened block by block into `staging`. v: the points' packed right
/// operands as bld_winograd_input_packed_f32 writes them for `tiles` tiles, matrix ξ at v + ξ * v_stride;
/// products: matrix ξ (O x tiles, row-major) at products + ξ * m_stride. staging, u, scratch
/// (bld_winograd_streaming_staging_floats, bld_winograd_streaming_block_floats, bld_gemm_scratch_floats floats):
/// this caller's own. Same products as transforming the weights first with bld_winograd_weights_packed_f32 (the
/// same K blocks and summation order). plan->kernel must not be BLD_GEMM_NONE.
void bld_winograd_products_streaming_weights(const bld_gemm_plan *plan, size_t tile, const float *weight,
                                             const uint16_t *half, int bfloat16, size_t out_channels,
                                             size_t in_channels, size_t tiles, const float *v, size_t v_stride,
                                             size_t panel_begin, size_t panel_end, float *products,
                                             size_t m_stride, float *staging, float *u, float *scratch);

/// Winograd F(4x4, 3x3) weight transform for output channels [o_begin, o_end): weight [O, C, 3, 3] ->
/// u [36][O][C] (u[ξ] = (G g Gᵀ)[ξ], computed in fp32, vectorised across input channels).
void bld_winograd_f4_weights_f32(const float *restrict weight, size_t out_channels, size_t in_channels,
                                 size_t o_begin, size_t o_end, float *restrict u);

/// Winograd F(m x m, 3x3) input transform (m = `tile`, 4 or 6; stride 1, padding 1) of tiles [tile_begin,
/// tile_end) and channels [channel_begin, channel_end). input: [N, C, H, W]; tiles are numbered
/// (n * ceil(H/m) + ty) * ceil(W/m) + tx. v: (m + 2)² matrices [C][tile_end - tile_begin], matrix ξ at
/// v + ξ * point_stride (pad the stride to avoid cache-set aliasing between the matrices). upsampled != 0: the
/// convolved image is the nearest 2x upsampling of input ([N, C, H/2, W/2]; H and W even), read from it directly.
/// tile 7: the 8 x 8 windows of F(7x7, 2x2), (H / 7 + 1) x (W / 7 + 1) tiles per image, 64 matrices
/// (bld_winograd_output_upsampling_f32), starting one row and column before their tiles; or with upsampled 2,
/// the phases of an upsampling convolution's output gradient: input is [N, C/4, 2H, 2W] and image channel
/// 4 c + 2 a + b is its channel c's phase (a, b) (element (y, x) at row 2 y + a, column 2 x + b), whose windows
/// start a rows and b columns before their tiles (the input gradient's correlation with the flipped phase kernels).
void bld_winograd_input_f32(size_t tile, const float *restrict input, size_t channels, size_t height, size_t width,
                            int upsampled, size_t tile_begin, size_t tile_end, size_t channel_begin,
                            size_t channel_end, float *restrict v, size_t point_stride);

/// bld_winograd_input_f32 writing each point's matrix V[ξ] (C x T, T = tile_end - tile_begin) straight in
/// the packed-B layout of `plan` (bld_gemm_pack_b_f32's: K blocks of bld_gemm_k_block(plan, C) rows, panels of
/// plan->nr columns), ready for bld_gemm_packed_b_f32 with no packing pass. point_stride ≥ C · round_up(T,
/// plan->nr); panel columns past T are zero, as bld_gemm_pack_b_f32 leaves them. plan must have a
/// kernel family (not BLD_GEMM_NONE).
void bld_winograd_input_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict input,
                                   size_t channels, size_t height, size_t width, int upsampled, size_t tile_begin,
                                   size_t tile_end, size_t channel_begin, size_t channel_end, float *restrict v,
                                   size_t point_stride);

/// Winograd F(m x m, 3x3) output transform (m = `tile`, 4 or 6) of tiles [tile_begin, tile_end) for output
/// channels [o_begin, o_end), adding bias (or nothing when NULL), then addend (NULL, or a tensor of the output's
/// shape, summed 0: each output is (transform + bias) + addend, a residual connection's sum in the order of adding
/// it afterwards). m: (m + 2)² matrices [O][tile_end -
/// tile_begin], matrix ξ at m + ξ * point_stride, each followed by at least 15 readable floats (rows are read in
/// whole 16-float vectors; point_stride ≥ O · (tile_end − tile_begin) + 15); output: [N, O, H, W] (same H, W
/// as the input), or with summed != 0 [N, O, H/2, W/2] (H, W even), each 2 x 2 block of outputs summed into one
/// element as upsampleNearest2xBackward sums them (the bias, if any, is added to each output first). tile 7:
/// F(7x7, 2x2)'s 64 matrices and tiles (bld_winograd_input_f32), summed 0.
void bld_winograd_output_f32(size_t tile, const float *restrict m, size_t out_channels, size_t height, size_t width,
                             int summed, size_t tile_begin, size_t tile_end, const float *bias, const float *addend,
                             size_t o_begin, size_t o_end, float *restrict output, size_t point_stride);

/// The output transform of the sub-pixel form of an upsampler's convolution (a 3x3, padding-1 convolution of the
/// nearest 2x upsampling of a [N, C, H, W] image X): F(7x7, 2x2) tiles of X ((H / 7 + 1) x (W / 7 + 1) per image,
/// numbered as bld_winograd_input_f32's, whose input transform with tile 7 gives their V[ξ]), products of 4 O
/// rows (row 4 o + 2 a + b: output channel o, output row parity a, column parity b; the phase kernels of
/// winograd.c's "Upsampling convolution" transformed with tile 7), 64 matrices [4 O][tile_end - tile_begin] at
/// matrices + ξ * point_stride, each followed by at least 15 readable floats. Writes the output channels
/// [o_begin, o_end) of output [N, O, 2H, 2W] that those tiles give, adding bias (none when NULL).
void bld_winograd_output_upsampling_f32(const float *restrict matrices, size_t out_channels, size_t height,
                                        size_t width, size_t tile_begin, size_t tile_end, const float *bias,
                                        size_t o_begin, size_t o_end, float *restrict output, size_t point_stride);

/// Widens `count` IEEE half-precision values (bit patterns) to float32 (F16C when the CPU has it).
void bld_convert_f16_f32(const uint16_t *restrict x, float *restrict y, size_t count);

/// Widens `count` bfloat16 values (bit patterns) to float32.
void bld_convert_bf16_f32(const uint16_t *restrict x, float *restrict y, size_t count);

// MARK: - Group normalisation for training (appended block; see normalization_backward.c)

/// Mean and 1/√(σ² + ε) (double precision, biased variance) of one sample's groups [group_begin, group_end).
/// x: [channels, spatial]; mean, inverse_std: indexed by group.
void bld_group_norm_statistics_f32(const float *restrict x, size_t channels, size_t spatial, size_t groups,
                                   size_t group_begin, size_t group_end, float epsilon,
                                   double *restrict mean, double *restrict inverse_std);

/// Group normalisation of one sample's groups [group_begin, group_end) with given statistics (indexed by group),
/// in the float arithmetic of bld_group_norm_f32. gamma, beta: [channels] or NULL; silu != 0 applies SiLU.
void bld_group_norm_apply_f32(const float *restrict x, float *restrict y, size_t channels, size_t spatial,
                              size_t groups, size_t group_begin, size_t group_end,
                              const double *mean, const double *inverse_std,
                              const float *gamma, const float *beta, int silu);

/// One Adam step over `count` parameters, in place (PyTorch's `torch.optim.Adam`, no weight decay): m ← β₁m +
/// (1 − β₁)g, v ← β₂v + (1 − β₂)g·g, θ ← θ − (step_size·m) / (√v / correction2_root + ε), every operation rounded
/// on its own (no FMA), so all vector levels give the same bits.
void bld_adam_update_f32(float *restrict theta, const float *restrict gradient, float *restrict first_moment,
                         float *restrict second_moment, size_t count, float beta1, float beta2, float step_size,
                         float correction2_root, float epsilon);

/// Backward of y = [SiLU](GroupNorm(x)) for one sample's groups [group_begin, group_end), in two passes per group
/// (∂L/∂h through SiLU with the per-channel sums, then ∂L/∂x). dy: ∂L/∂y; dx: ∂L/∂x (written, and used as
/// scratch); added: NULL, or a gradient of x's shape added to ∂L/∂x as the second pass writes it (a residual
/// branch's). frozen != 0 treats the statistics as constants (∂L/∂x = r·γ·∂L/∂h, written by the first pass, so
/// there is no second; `added` then takes a pass of its own). gamma_gradient, beta_gradient:
/// [channels] of this sample, written for the groups' channels.
void bld_group_norm_silu_backward_f32(const float *restrict x, const float *restrict dy,
                                      const float *restrict added, float *restrict dx, size_t channels,
                                      size_t spatial, size_t groups, size_t group_begin, size_t group_end,
                                      const double *mean, const double *inverse_std, const float *gamma,
                                      const float *beta, int silu, int frozen, double *restrict gamma_gradient,
                                      double *restrict beta_gradient);

// MARK: - Winograd weight gradient (appended block; see winograd_backward.c)

/// Floats of the scratch buffer each concurrent call of bld_winograd_input_transposed_packed_f32 or
/// bld_winograd_output_gradient_packed_f32 needs (one channel group's transformed points for a run of 64 tiles).
#define BLD_WINOGRAD_GROUP_SCRATCH_FLOATS 65536

/// The transformed input V[ξ] of the Winograd F(m x m, 3x3) weight gradient (m = `tile`, 4 or 6; the transform of
/// bld_winograd_input_f32) for tiles [tile_begin, tile_end) and the 16-channel groups [group_begin, group_end)
/// (channels 16·group_begin …), written as the packed right operand of ∂U[ξ] = ∂M[ξ] · V[ξ]ᵀ under `plan`: op(B)
/// = V[ξ]ᵀ, K = T = tile_end − tile_begin rows in K blocks of bld_gemm_k_block(plan, T), N = C columns in panels of
/// plan->nr (a multiple of 16), as bld_gemm_pack_b_f32 would leave it, with the columns past C zero; matrix ξ at
/// v + ξ * point_stride (point_stride ≥ T · round_up(C, plan->nr)). Groups cover round_up(C, plan->nr) / 16 in
/// all. scratch: BLD_WINOGRAD_GROUP_SCRATCH_FLOATS floats of this caller's own. plan must have a kernel family.
/// upsampled != 0: as for bld_winograd_input_f32 (input [N, C, H/2, W/2] read as its 2x nearest upsampling).
/// tile 7: F(7x7, 2x2)'s windows, as bld_winograd_input_f32's (upsampled 0).
void bld_winograd_input_transposed_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict input,
                                              size_t channels, size_t height, size_t width, int upsampled,
                                              size_t tile_begin, size_t tile_end, size_t group_begin,
                                              size_t group_end, float *restrict v, size_t point_stride,
                                              float *restrict scratch);

/// The output channels in one group of bld_winograd_output_gradient_packed_f32: the whole plan->mr-row panels
/// that fit 16 (14 for the AVX-512 family, 12 for AVX2).
size_t bld_winograd_output_gradient_group_channels(const bld_gemm_plan *plan);

/// The adjoint of bld_winograd_output_f32 (without bias) for F(m x m, 3x3), m = `tile` (4 or 6): ∂M = A ∂Y Aᵀ
/// of tiles [tile_begin, tile_end) and the channel groups [group_begin, group_end) (of
/// bld_winograd_output_gradient_group_channels each) of an output gradient dy [N, O, H, W] (zero outside the
/// image), written as the packed left operand of ∂U[ξ] = ∂M[ξ] · V[ξ]ᵀ under `plan`: M = O rows in
/// plan->mr-row panels, K = T = tile_end − tile_begin in K blocks of bld_gemm_k_block(plan, T), as
/// bld_gemm_pack_a_f32 would leave it (rows past O hold anything); matrix ξ at a + ξ * point_stride
/// (point_stride ≥ round_up(O, plan->mr) · T + 16). When bias is not NULL, bias[o] (double) gains the sum of dy
/// over the block's tiles for the group's channels o (∂M at the point (1, 1): the bias gradient). scratch:
/// BLD_WINOGRAD_GROUP_SCRATCH_FLOATS floats of this caller's own. plan must have a kernel family.
/// dy_channels: dy's channels per image (its image stride; channels for the whole gradient). tile 7: the adjoint
/// of bld_winograd_output_upsampling_f32's transform: dy is [N, dy_channels, 2H, 2W] and the O = `channels`
/// channels (and bias entries) are product rows 4 o + 2 a + b, phase (a, b) of dy's channel o (tiles as there).
void bld_winograd_output_gradient_packed_f32(const bld_gemm_plan *plan, size_t tile, const float *restrict dy,
                                             size_t channels, size_t dy_channels, size_t height, size_t width,
                                             size_t tile_begin, size_t tile_end, size_t group_begin, size_t group_end,
                                             float *restrict a, size_t point_stride, double *restrict bias,
                                             float *restrict scratch);

/// The last step of the Winograd F(m x m, 3x3) weight gradient (m = `tile`, 4 or 6), ∂g = Gᵀ ∂U G, for (output,
/// input) channel pairs [pair_begin, pair_end): du holds the (m + 2)² matrices ∂U[ξ] as [points][pairs] (pair
/// o · C + c), dg the result as [pairs][9] (the [O, C, 3, 3] weight gradient). tile 7: F(7x7, 2x2)'s G, dg
/// [pairs][4] (2 x 2 kernels).
void bld_winograd_weight_gradient_finish_f32(size_t tile, const float *restrict du, size_t pairs, size_t pair_begin,
                                             size_t pair_end, float *restrict dg);

// MARK: - Sums in double precision (appended block; see sums.c)

/// Σ x[i] (squared == 0) or Σ (x[i] − center)² (squared != 0) over n floats, accumulated in double precision
/// (vectorised where the CPU allows; the order of the additions is unspecified).
double bld_sum_f32(const float *restrict x, size_t n, double center, int squared);

#endif
