// Hot loops of TensorCore. No stable API: only TensorCore calls these, through
// `internal import`. Kernels allocate nothing and validate nothing; the Swift
// wrappers check shapes and provide scratch memory.
#ifndef BLD_CTENSORKERNELS_H
#define BLD_CTENSORKERNELS_H

#include <stddef.h>

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
/// 4 * bld_padded_key_count(key_count) floats (four query rows at a time). No BLAS; safe in a parallel region.
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

#endif
