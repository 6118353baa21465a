// Hot loops of TensorCore. No stable API: only TensorCore calls these, through
// `internal import`. Kernels allocate nothing and validate nothing; the Swift
// wrappers check shapes and provide scratch memory.
#ifndef BLD_CTENSORKERNELS_H
#define BLD_CTENSORKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The vector extension level this CPU supports: 0 portable C, 1 AVX2 + FMA, 2 AVX-512F (x86-64 only).
int bld_detected_simd_level(void);
/// Caps the level the kernels use (process-wide; for tests and diagnosis). Default: no cap (2).
void bld_set_simd_limit(int level);
/// The level in use: min(detected, limit).
int bld_simd_level(void);

/// Marks the calling thread as running (or no longer running) a chunk of a TensorCore parallel region.
void bld_parallel_region_enter(void);
void bld_parallel_region_leave(void);
/// Non-zero while the calling thread runs a parallel-region chunk (BLAS must not be called then).
int bld_in_parallel_region(void);

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

/// Replaces row[i] by exp(row[i] − max) for i < valid (max over those entries) and zeroes [valid, width);
/// returns the sum of the exponentials (accumulated in double). Unnormalised softmax.
double bld_exp_shifted_row_f32(float *restrict row, size_t width, size_t valid);

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

/// Fused attention of one (batch, head) for query rows [row_begin, row_end): scores against all keys (or keys
/// 0...row when causal), softmax(scale · scores), times values. q, v, out point at the head's first element,
/// rows of stride `width`; kp holds the head's keys packed by bld_pack_keys_f32. scores: scratch of
/// 8 * bld_padded_key_count(key_count) floats (eight query rows at a time with AVX-512, four otherwise). No BLAS;
/// safe in a parallel region.
void bld_attention_head_f32(const float *restrict q, const float *restrict kp, const float *restrict v,
                            float *restrict out, size_t key_count, size_t width, size_t head_width,
                            size_t row_begin, size_t row_end, float scale, int causal, float *restrict scores);

/// Element-wise activations over [begin, end). kind: 0 SiLU, 1 GELU (erf), 2 GELU (tanh), 3 quick GELU.
void bld_activation_f32(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind);

/// SiLU in place over x[0, count).
void bld_silu_inplace_f32(float *restrict x, size_t count);

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

// MARK: - Packed GEMM (AVX-512) and Winograd convolution (appended block; see gemm_avx512.c, winograd.c)

/// Register tile of the AVX-512 GEMM micro-kernel (rows of op(A) x columns of op(B)) and cache blocks.
#define BLD_SGEMM_AVX512_MR 14
#define BLD_SGEMM_AVX512_NR 32
#define BLD_SGEMM_AVX512_KC 384
#define BLD_SGEMM_AVX512_MC 168
#define BLD_SGEMM_AVX512_NC 4096

/// Whether this CPU runs the AVX-512 kernels (avx512f/bw/vl/dq and fma).
int bld_sgemm_avx512_supported(void);

/// Floats of scratch one `bld_sgemm_avx512_f32` call needs (packed A and B blocks plus alignment slack).
size_t bld_sgemm_avx512_scratch_floats(void);

/// C = op(A) * op(B) + beta * C, single-threaded. op(A): m x k, op(B): k x n, row-major with leading
/// dimensions lda/ldb (trans_a: A is stored k x m; trans_b: B is stored n x k). Element (i, j) of C is
/// c[i * rs_c + j * cs_c]. beta == 0 never reads C. scratch: bld_sgemm_avx512_scratch_floats() floats.
/// Only call when bld_sgemm_avx512_supported() is non-zero.
void bld_sgemm_avx512_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          const float *a, size_t lda, const float *b, size_t ldb, float beta,
                          float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch);

/// Floats of a pre-packed op(A) of m x k (MR-row panels per KC block; see gemm_avx512.c).
size_t bld_sgemm_avx512_packed_a_floats(size_t m, size_t k);

/// Packs op(A) (m x k; trans_a: A is stored k x m) once, for bld_sgemm_avx512_prepacked_a_f32.
/// out: bld_sgemm_avx512_packed_a_floats(m, k) floats, 64-byte aligned. AVX-512 only.
void bld_sgemm_avx512_pack_a_f32(int trans_a, size_t m, size_t k, const float *a, size_t lda, float *out);

/// Rows [row_begin, row_end) of C = op(A) * op(B) + beta * C with op(A) (m x k) pre-packed by
/// bld_sgemm_avx512_pack_a_f32. row_begin must be a multiple of BLD_SGEMM_AVX512_MR. C and its strides
/// are as in bld_sgemm_avx512_f32 (c points at row 0). bf16 != 0 rounds both operands to bf16 as
/// bld_sgemm_bf16_avx512_f32 does (only when bld_sgemm_bf16_avx512_supported()). scratch:
/// bld_sgemm_avx512_scratch_floats() floats, or bld_sgemm_bf16_avx512_scratch_floats() with bf16.
void bld_sgemm_avx512_prepacked_a_f32(size_t m, size_t n, size_t k, const float *packed_a,
                                      size_t row_begin, size_t row_end, int trans_b,
                                      const float *b, size_t ldb, float beta,
                                      float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch, int bf16);

/// Whether this CPU also runs the bf16 GEMM (AVX512_BF16).
int bld_sgemm_bf16_avx512_supported(void);

/// Floats of scratch one `bld_sgemm_bf16_avx512_f32` call needs.
size_t bld_sgemm_bf16_avx512_scratch_floats(void);

/// As bld_sgemm_avx512_f32, but op(A) and op(B) are rounded to bf16 (nearest even) and multiplied with
/// vdpbf16ps, accumulating in fp32. Only call when bld_sgemm_bf16_avx512_supported() is non-zero.
void bld_sgemm_bf16_avx512_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                               const float *a, size_t lda, const float *b, size_t ldb, float beta,
                               float *c, ptrdiff_t rs_c, ptrdiff_t cs_c, float *scratch);

/// Sets glibc's mmap and trim thresholds (bytes; at most INT_MAX) with mallopt. Returns 1 when both took
/// effect, 0 otherwise (or on non-glibc platforms, where it does nothing).
int bld_tune_malloc(size_t mmap_threshold, size_t trim_threshold);

/// Returns the allocator's free memory to the system (glibc `malloc_trim(0)`; nothing elsewhere).
void bld_release_free_memory(void);

/// Winograd F(4x4, 3x3) weight transform fused with the GEMM packing: for the MR-row panels
/// [panel_begin, panel_end) of the O output channels, writes U[ξ] (O x C) in the layout of
/// bld_sgemm_avx512_pack_a_f32 at packed + ξ * point_stride (point_stride >= bld_sgemm_avx512_packed_a_floats(O, C)).
/// Requires AVX-512 (bld_sgemm_avx512_supported()).
void bld_winograd_f4_weights_packed_f32(const float *restrict weight, size_t out_channels, size_t in_channels,
                                        size_t panel_begin, size_t panel_end, float *restrict packed,
                                        size_t point_stride);

/// Winograd F(4x4, 3x3) weight transform for output channels [o_begin, o_end): weight [O, C, 3, 3] ->
/// u [36][O][C] (u[ξ] = (G g Gᵀ)[ξ], computed in fp32, vectorised across input channels).
void bld_winograd_f4_weights_f32(const float *restrict weight, size_t out_channels, size_t in_channels,
                                 size_t o_begin, size_t o_end, float *restrict u);

/// Winograd input transform (stride 1, padding 1) of tiles [tile_begin, tile_end) and channels
/// [channel_begin, channel_end). input: [N, C, H, W]; tiles are numbered (n * ceil(H/4) + ty) * ceil(W/4) + tx.
/// v: 36 matrices [C][tile_end - tile_begin], matrix ξ at v + ξ * point_stride (pad the stride to avoid
/// cache-set aliasing between the 36 matrices).
void bld_winograd_f4_input_f32(const float *restrict input, size_t channels, size_t height, size_t width,
                               size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,
                               float *restrict v, size_t point_stride);

/// Winograd output transform of tiles [tile_begin, tile_end) for output channels [o_begin, o_end), adding
/// bias (or nothing when NULL). m: 36 matrices [O][tile_end - tile_begin], matrix ξ at m + ξ * point_stride;
/// output: [N, O, H, W] (same H, W as the input).
void bld_winograd_f4_output_f32(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                size_t tile_begin, size_t tile_end, const float *bias,
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

/// Backward of y = [SiLU](GroupNorm(x)) for one sample's groups [group_begin, group_end), in two passes per group
/// (∂L/∂h through SiLU with the per-channel sums, then ∂L/∂x). dy: ∂L/∂y; dx: ∂L/∂x (written, and used as
/// scratch). frozen != 0 treats the statistics as constants (∂L/∂x = r·γ·∂L/∂h). gamma_gradient, beta_gradient:
/// [channels] of this sample, written for the groups' channels.
void bld_group_norm_silu_backward_f32(const float *restrict x, const float *restrict dy, float *restrict dx,
                                      size_t channels, size_t spatial, size_t groups, size_t group_begin,
                                      size_t group_end, const double *mean, const double *inverse_std,
                                      const float *gamma, const float *beta, int silu, int frozen,
                                      double *restrict gamma_gradient, double *restrict beta_gradient);

// MARK: - Winograd weight gradient (appended block; see winograd_backward.c)

/// The adjoint of bld_winograd_f4_output_f32 (without bias): ∂M = A ∂Y Aᵀ of tiles [tile_begin, tile_end) and
/// channels [channel_begin, channel_end) of an output gradient dy [N, C, H, W] (zero outside the image), written as
/// 36 matrices [C][tile_end - tile_begin], matrix ξ at m + ξ * point_stride (the layout of bld_winograd_f4_input_f32).
void bld_winograd_f4_output_gradient_f32(const float *restrict dy, size_t channels, size_t height, size_t width,
                                         size_t tile_begin, size_t tile_end, size_t channel_begin,
                                         size_t channel_end, float *restrict m, size_t point_stride);

// MARK: - Sums in double precision (appended block; see sums.c)

/// Σ x[i] (squared == 0) or Σ (x[i] − center)² (squared != 0) over n floats, accumulated in double precision
/// (vectorised where the CPU allows; the order of the additions is unspecified).
double bld_sum_f32(const float *restrict x, size_t n, double center, int squared);

#endif
