// Hot loops of TensorCore. No stable API: only TensorCore calls these, through
// `internal import`. Kernels allocate nothing and validate nothing; the Swift
// wrappers check shapes and provide scratch memory.
#ifndef BLD_CTENSORKERNELS_H
#define BLD_CTENSORKERNELS_H

#include <stddef.h>

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

/// Element-wise activations over [begin, end). kind: 0 SiLU, 1 GELU (erf), 2 GELU (tanh), 3 quick GELU.
void bld_activation_f32(const float *restrict x, float *restrict y, size_t begin, size_t end, int kind);

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

#endif
