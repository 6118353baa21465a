// Winograd F(4x4, 3x3) transforms for 3x3, stride-1, padding-1 convolutions (Lavin & Gray 2015).
//
// Each 4x4 output tile is computed from a 6x6 input tile: Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A. The 36
// element-wise products summed over input channels are 36 independent GEMMs, done by the caller:
//   M[ξ] (O x T) = U[ξ] (O x C) · V[ξ] (C x T),  ξ in [0, 36), T tiles of the current block.
// Tiles are numbered t = (n * tiles_y + ty) * tiles_x + tx over the whole batch. Transforms work on runs of
// up to RUN consecutive tiles of one tile row, laid out so the per-tile arithmetic vectorises across tiles.
// Every kernel is compiled twice (default target and AVX-512) from one always-inline body.
#include "CTensorKernels.h"

#include <string.h>

#define RUN 64
#define BLD_INLINE static inline __attribute__((always_inline))
#define BLD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

// MARK: - Weight transform

void bld_winograd_f4_weights_f32(const float *restrict weight, size_t out_channels, size_t in_channels,
                                 size_t o_begin, size_t o_end, float *restrict u) {
  static const double g[6][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1},
  };
  for (size_t o = o_begin; o < o_end; ++o) {
    for (size_t c = 0; c < in_channels; ++c) {
      const float *w = weight + (o * in_channels + c) * 9;
      double tmp[6][3];  // G · w
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 3; ++j) tmp[i][j] = g[i][0] * w[j] + g[i][1] * w[3 + j] + g[i][2] * w[6 + j];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          const double value = tmp[i][0] * g[j][0] + tmp[i][1] * g[j][1] + tmp[i][2] * g[j][2];
          u[((size_t)(i * 6 + j) * out_channels + o) * in_channels + c] = (float)value;
        }
    }
  }
}

// MARK: - Input transform

BLD_INLINE void input_run(const float *restrict plane, size_t height, size_t width, size_t ty, size_t tx0,
                          size_t count, float *restrict v, size_t plane_stride) {
  float d[36][RUN];
  // Gather the 6x6 patches (zero outside the image) so element (r, j) of every tile is contiguous.
  for (int r = 0; r < 6; ++r) {
    const long y = (long)(ty * 4 + r) - 1;
    if (y < 0 || y >= (long)height) {
      for (int j = 0; j < 6; ++j) memset(d[r * 6 + j], 0, count * sizeof(float));
      continue;
    }
    const float *row = plane + (size_t)y * width;
    for (size_t s = 0; s < count; ++s) {
      const long x0 = (long)((tx0 + s) * 4) - 1;
      if (x0 >= 0 && x0 + 6 <= (long)width) {
        for (int j = 0; j < 6; ++j) d[r * 6 + j][s] = row[x0 + j];
      } else {
        for (int j = 0; j < 6; ++j) {
          const long x = x0 + j;
          d[r * 6 + j][s] = (x >= 0 && x < (long)width) ? row[x] : 0.0f;
        }
      }
    }
  }
  for (size_t s = 0; s < count; ++s) {
    float t[6][6];  // Bᵀ d, column by column
    for (int j = 0; j < 6; ++j) {
      const float d0 = d[j][s], d1 = d[6 + j][s], d2 = d[12 + j][s], d3 = d[18 + j][s], d4 = d[24 + j][s],
                  d5 = d[30 + j][s];
      t[0][j] = 4.0f * d0 - 5.0f * d2 + d4;
      t[1][j] = -4.0f * (d1 + d2) + d3 + d4;
      t[2][j] = 4.0f * (d1 - d2) - d3 + d4;
      t[3][j] = 2.0f * (d3 - d1) - d2 + d4;
      t[4][j] = 2.0f * (d1 - d3) - d2 + d4;
      t[5][j] = 4.0f * d1 - 5.0f * d3 + d5;
    }
    for (int i = 0; i < 6; ++i) {  // (Bᵀ d) B, row by row
      const float e0 = t[i][0], e1 = t[i][1], e2 = t[i][2], e3 = t[i][3], e4 = t[i][4], e5 = t[i][5];
      float *out = v + (size_t)(i * 6) * plane_stride + s;
      out[0] = 4.0f * e0 - 5.0f * e2 + e4;
      out[plane_stride] = -4.0f * (e1 + e2) + e3 + e4;
      out[2 * plane_stride] = 4.0f * (e1 - e2) - e3 + e4;
      out[3 * plane_stride] = 2.0f * (e3 - e1) - e2 + e4;
      out[4 * plane_stride] = 2.0f * (e1 - e3) - e2 + e4;
      out[5 * plane_stride] = 4.0f * e1 - 5.0f * e3 + e5;
    }
  }
}

BLD_INLINE void input_body(const float *restrict input, size_t channels, size_t height, size_t width,
                           size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                           size_t channel_begin, size_t channel_end, float *restrict v) {
  const size_t block = tile_end - tile_begin;
  const size_t plane_stride = channels * block;  // distance between consecutive ξ planes of V
  for (size_t c = channel_begin; c < channel_end; ++c) {
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t tx = t % tiles_x, row = t / tiles_x, ty = row % tiles_y, n = row / tiles_y;
      size_t count = tiles_x - tx;
      if (count > tile_end - t) count = tile_end - t;
      if (count > RUN) count = RUN;
      const float *plane = input + (n * channels + c) * height * width;
      input_run(plane, height, width, ty, tx, count, v + c * block + (t - tile_begin), plane_stride);
      t += count;
    }
  }
}

static void input_default(const float *restrict input, size_t channels, size_t height, size_t width,
                          size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                          size_t channel_begin, size_t channel_end, float *restrict v) {
  input_body(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v);
}

BLD_AVX512 static void input_avx512(const float *restrict input, size_t channels, size_t height, size_t width,
                                    size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                    size_t channel_begin, size_t channel_end, float *restrict v) {
  input_body(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v);
}

void bld_winograd_f4_input_f32(const float *restrict input, size_t channels, size_t height, size_t width,
                               size_t tile_begin, size_t tile_end, size_t channel_begin, size_t channel_end,
                               float *restrict v) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  if (bld_sgemm_avx512_supported())
    input_avx512(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v);
  else
    input_default(input, channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, channel_begin, channel_end, v);
}

// MARK: - Output transform

BLD_INLINE void output_run(const float *restrict m, size_t plane_stride, size_t count, float bias,
                           float *restrict plane, size_t height, size_t width, size_t ty, size_t tx0) {
  float y[16][RUN];
  for (size_t s = 0; s < count; ++s) {
    float t[4][6];  // Aᵀ m, column by column
    for (int j = 0; j < 6; ++j) {
      const float *col = m + (size_t)j * plane_stride + s;
      const float m0 = col[0], m1 = col[6 * plane_stride], m2 = col[12 * plane_stride],
                  m3 = col[18 * plane_stride], m4 = col[24 * plane_stride], m5 = col[30 * plane_stride];
      const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
      t[0][j] = m0 + a + c;
      t[1][j] = b + 2.0f * d;
      t[2][j] = a + 4.0f * c;
      t[3][j] = b + 8.0f * d + m5;
    }
    for (int i = 0; i < 4; ++i) {  // (Aᵀ m) A, row by row
      const float e0 = t[i][0], e1 = t[i][1], e2 = t[i][2], e3 = t[i][3], e4 = t[i][4], e5 = t[i][5];
      const float a = e1 + e2, b = e1 - e2, c = e3 + e4, d = e3 - e4;
      y[i * 4 + 0][s] = e0 + a + c + bias;
      y[i * 4 + 1][s] = b + 2.0f * d + bias;
      y[i * 4 + 2][s] = a + 4.0f * c + bias;
      y[i * 4 + 3][s] = b + 8.0f * d + e5 + bias;
    }
  }
  for (int i = 0; i < 4; ++i) {
    const size_t yy = ty * 4 + (size_t)i;
    if (yy >= height) break;
    float *row = plane + yy * width;
    for (size_t s = 0; s < count; ++s) {
      const size_t x0 = (tx0 + s) * 4;
      if (x0 + 4 <= width) {
        for (int j = 0; j < 4; ++j) row[x0 + (size_t)j] = y[i * 4 + j][s];
      } else {
        for (int j = 0; j < 4 && x0 + (size_t)j < width; ++j) row[x0 + (size_t)j] = y[i * 4 + j][s];
      }
    }
  }
}

BLD_INLINE void output_body(const float *restrict m, size_t out_channels, size_t height, size_t width,
                            size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                            const float *bias, size_t o_begin, size_t o_end, float *restrict output) {
  const size_t block = tile_end - tile_begin;
  const size_t plane_stride = out_channels * block;
  for (size_t o = o_begin; o < o_end; ++o) {
    const float b = bias ? bias[o] : 0.0f;
    size_t t = tile_begin;
    while (t < tile_end) {
      const size_t tx = t % tiles_x, row = t / tiles_x, ty = row % tiles_y, n = row / tiles_y;
      size_t count = tiles_x - tx;
      if (count > tile_end - t) count = tile_end - t;
      if (count > RUN) count = RUN;
      float *plane = output + (n * out_channels + o) * height * width;
      output_run(m + o * block + (t - tile_begin), plane_stride, count, b, plane, height, width, ty, tx);
      t += count;
    }
  }
}

static void output_default(const float *restrict m, size_t out_channels, size_t height, size_t width,
                           size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                           const float *bias, size_t o_begin, size_t o_end, float *restrict output) {
  output_body(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output);
}

BLD_AVX512 static void output_avx512(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                     size_t tiles_y, size_t tiles_x, size_t tile_begin, size_t tile_end,
                                     const float *bias, size_t o_begin, size_t o_end, float *restrict output) {
  output_body(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output);
}

void bld_winograd_f4_output_f32(const float *restrict m, size_t out_channels, size_t height, size_t width,
                                size_t tile_begin, size_t tile_end, const float *bias,
                                size_t o_begin, size_t o_end, float *restrict output) {
  const size_t tiles_y = (height + 3) / 4, tiles_x = (width + 3) / 4;
  if (bld_sgemm_avx512_supported())
    output_avx512(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output);
  else
    output_default(m, out_channels, height, width, tiles_y, tiles_x, tile_begin, tile_end, bias, o_begin, o_end, output);
}
