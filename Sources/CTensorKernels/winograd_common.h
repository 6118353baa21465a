// Private to winograd.c and winograd_backward.c: the vector type, the tile-run layout and the AVX-512 patch
// gather the Winograd transforms share.
#ifndef BLD_WINOGRAD_COMMON_H
#define BLD_WINOGRAD_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/// Tiles per run: the consecutive tiles of one tile row transformed together.
#define RUN 64
/// The most transform points (F(6x6, 3x3): 8 x 8).
#define MAX_POINTS 64

/// 16 floats as one GCC/Clang vector (unaligned): zmm arithmetic in the AVX-512 build, SSE otherwise.
typedef float v16f __attribute__((vector_size(64), aligned(4)));
#define load16(p) (*(const v16f *)(p))
#define store16(p, x) (*(v16f *)(p) = (x))
#define BLD_INLINE static inline __attribute__((always_inline))
#define BLD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define BLD_AVX2 __attribute__((target("avx2,fma")))

/// The points along each side of a tile's transform: m + 2 for F(m x m, 3x3) (m = 4 or 6), 8 for the upsampler's
/// F(7x7, 2x2) (m = 7, winograd.c's "Upsampling convolution"), whose input transform is F(6x6, 3x3)'s.
BLD_INLINE size_t tile_points(size_t m) { return m == 7 ? 8 : m + 2; }

/// The tiles along an image side of `extent` outputs: ceil(extent / m), and for F(7x7, 2x2) ceil((extent + 1) / 7),
/// since its odd phases' tiles start one position before the even ones'.
BLD_INLINE size_t tiles_along(size_t m, size_t extent) { return m == 7 ? extent / 7 + 1 : (extent + m - 1) / m; }

// AVX-512 gather of one row of 16 consecutive tiles' patches into registers: d[j] lane s = row[xb + m s + j] for
// j < n (n ≤ m + 2), zero outside [0, width). Lane s needs element e = m s + j of the 15 m + n floats loaded from
// row[xb ...] (masked loads zero the border), picked from consecutive pairs of loaded vectors with two-source
// permutes (which read the index's low five bits) and blended by e / 32.
BLD_AVX512 static inline void gather_row_group_avx512(size_t m, size_t n, const float *row, size_t width, long xb,
                                                      v16f *d) {
  const size_t vectors = (15 * m + n + 15) / 16;  // at most 8 (F(7x7, 2x2) input patches)
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i stride = _mm512_mullo_epi32(lanes, _mm512_set1_epi32((int)m));
  __m512 r[9];
  for (size_t q = 0; q < vectors; ++q) {
    const __m512i x = _mm512_add_epi32(_mm512_set1_epi32((int)(xb + 16 * (long)q)), lanes);
    const __mmask16 inside = _mm512_cmpge_epi32_mask(x, _mm512_setzero_si512()) &
                             _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32((int)width));
    r[q] = _mm512_maskz_loadu_ps(inside, row + xb + 16 * (long)q);
  }
  r[vectors] = r[vectors - 1];  // the second source of an odd last pair (never selected)
  for (size_t j = 0; j < n; ++j) {
    const __m512i e = _mm512_add_epi32(stride, _mm512_set1_epi32((int)j));
    __m512 value = _mm512_permutex2var_ps(r[0], e, r[1]);
    for (size_t q = 2; q < vectors; q += 2)
      value = _mm512_mask_blend_ps(_mm512_cmpge_epi32_mask(e, _mm512_set1_epi32((int)(16 * q))), value,
                                   _mm512_permutex2var_ps(r[q], e, r[q + 1]));
    d[j] = (v16f)value;
  }
}

// AVX-512 gather of one row of `count` tiles' patches: d[j · d_stride + s] = row[m (tx0 + s) - offset + j] for
// j < n (n ≤ m + 2, offset 0 or 1), zero outside [0, width), 16 tiles at a time (gather_row_group_avx512).
BLD_AVX512 static inline void gather_row_avx512(size_t m, size_t n, size_t offset, const float *row, size_t width,
                                                size_t tx0, size_t count, float *d, size_t d_stride) {
  for (size_t s0 = 0; s0 < count; s0 += 16) {
    v16f group[8];
    gather_row_group_avx512(m, n, row, width, (long)((tx0 + s0) * m) - (long)offset, group);
    for (size_t j = 0; j < n; ++j) store16(d + j * d_stride + s0, group[j]);
  }
}

/// How an input transform reads its image (`read`): as stored; as its nearest 2x upsampling; or, for F(7x7,
/// 2x2), as the four phase images of a 2x larger one (winograd.c's input_tiles).
enum { READ_PLAIN = 0, READ_UPSAMPLED = 1, READ_PHASES = 2 };

/// Floats of one phase row segment that 16 F(7x7, 2x2) tiles' patches span (15 · 7 + 8 = 113), rounded up to
/// whole vectors.
#define PHASE_SEGMENT 128

/// out[i] = row[2 (x0 + i) + b] (the phase-b element x0 + i of a row 2 width floats long), zero where x0 + i is
/// outside [0, width), for i < PHASE_SEGMENT: each 16 outputs are the even lanes of two masked loads.
BLD_AVX512 static inline void compress_phase_row_avx512(const float *row, size_t width, long x0, size_t b,
                                                        float *out) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i limit = _mm512_set1_epi32((int)(2 * width));
  for (long q = 0; q < PHASE_SEGMENT / 16; ++q) {
    const long p = 2 * (x0 + 16 * q) + (long)b;
    const __m512i low = _mm512_add_epi32(_mm512_set1_epi32((int)p), lanes);
    const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(16));
    const __mmask16 low_inside =
        _mm512_cmpge_epi32_mask(low, _mm512_setzero_si512()) & _mm512_cmplt_epi32_mask(low, limit);
    const __mmask16 high_inside =
        _mm512_cmpge_epi32_mask(high, _mm512_setzero_si512()) & _mm512_cmplt_epi32_mask(high, limit);
    const __m512 first = _mm512_maskz_loadu_ps(low_inside, row + p);
    const __m512 second = _mm512_maskz_loadu_ps(high_inside, row + p + 16);
    _mm512_storeu_ps(out + 16 * q, _mm512_permutex2var_ps(first, evens, second));
  }
}

/// The patches of `count` (≤ 16) F(7x7, 2x2) tiles along one row of phase b of a 2x wider image: d[j · 16 + s] =
/// row[2 (x0 + 7 s + j) + b] for j < n, zero where x0 + 7 s + j is outside [0, width) (`row` holds 2 width floats).
BLD_INLINE void gather_phase_row(int level, size_t n, const float *row, size_t width, long x0, size_t b,
                                 size_t count, float *d) {
  float segment[PHASE_SEGMENT] __attribute__((aligned(64)));
  if (level == 2) {
    compress_phase_row_avx512(row, width, x0, b, segment);
    gather_row_avx512(7, n, 0, segment, PHASE_SEGMENT, 0, count, d, 16);
    return;
  }
  for (long i = 0; i < PHASE_SEGMENT; ++i)
    segment[i] = x0 + i >= 0 && x0 + i < (long)width ? row[2 * (x0 + i) + (long)b] : 0.0f;
  for (size_t s = 0; s < count; ++s)
    for (size_t j = 0; j < n; ++j) d[j * 16 + s] = segment[7 * s + j];
}

/// The run of tiles a block's loop takes next from tile t (tiles in image-major, then row-major order): up to RUN
/// consecutive tiles of one tile row, starting at tile column tx of tile row ty of image `image`, none past
/// tile_end.
typedef struct {
  size_t tx, ty, image, count;
} tile_run;

BLD_INLINE tile_run run_at(size_t t, size_t tile_end, size_t tiles_x, size_t tiles_y) {
  const size_t row = t / tiles_x;
  tile_run run = {t % tiles_x, row % tiles_y, row / tiles_y, tiles_x - t % tiles_x};
  if (run.count > tile_end - t) run.count = tile_end - t;
  if (run.count > RUN) run.count = RUN;
  return run;
}

/// Asks for the cache lines of row[x0 .. x1) (clamped to [0, width)) in L2, for writing when `write` (PREFETCHW,
/// a hint that CPUs without it ignore) so the stores find them owned: the transforms call it on the next
/// channel's rows while they work on the current one's, since a run's short row segments, one plane apart, are
/// too short for the hardware prefetchers to pick up in time.
BLD_INLINE void prefetch_row_segment(const float *row, long x0, long x1, size_t width, int write) {
  if (x0 < 0) x0 = 0;
  if (x1 > (long)width) x1 = (long)width;
  if (x1 <= x0) return;
  const char *last = (const char *)(row + x1) - 1;
  for (const char *line = (const char *)((uintptr_t)(row + x0) & ~(uintptr_t)63); line <= last; line += 64) {
    if (write)
      __asm__ volatile("prefetchw %0" : : "m"(*line));
    else
      _mm_prefetch(line, _MM_HINT_T1);
  }
}

/// Transposes the 16 x 16 matrix whose rows are r[0..15]: afterwards r[i][l] is the former r[l][i]. Four rounds
/// of two-source shuffles, each swapping the off-diagonal d x d blocks of every 2d x 2d block (d = 1, 2, 4, 8).
#define BLD_LANE_LOW(d, l) (((l) & (d)) ? 16 + (l) - (d) : (l))
#define BLD_LANE_HIGH(d, l) (((l) & (d)) ? 16 + (l) : (l) + (d))
#define BLD_LANES(F, d)                                                                                        \
  F(d, 0), F(d, 1), F(d, 2), F(d, 3), F(d, 4), F(d, 5), F(d, 6), F(d, 7), F(d, 8), F(d, 9), F(d, 10), F(d, 11), \
      F(d, 12), F(d, 13), F(d, 14), F(d, 15)
#define BLD_TRANSPOSE_ROUND(r, d)                                                                              \
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 16; ++i)                                              \
    if (!(i & (d))) {                                                                                          \
      const v16f low = __builtin_shufflevector(r[i], r[i + (d)], BLD_LANES(BLD_LANE_LOW, d));                  \
      const v16f high = __builtin_shufflevector(r[i], r[i + (d)], BLD_LANES(BLD_LANE_HIGH, d));                \
      r[i] = low;                                                                                              \
      r[i + (d)] = high;                                                                                       \
    }
BLD_INLINE void transpose16(v16f *r) {
  BLD_TRANSPOSE_ROUND(r, 1)
  BLD_TRANSPOSE_ROUND(r, 2)
  BLD_TRANSPOSE_ROUND(r, 4)
  BLD_TRANSPOSE_ROUND(r, 8)
}
/// Point p of 16 tiles x 16 channels that a transform left in buffer[channel][q][p] (tile 16 q + s in lane s),
/// turned around: r[s] holds tile 16 q + s's 16 channels.
BLD_INLINE void transposed_point(v16f (*buffer)[RUN / 16][MAX_POINTS], size_t q, size_t p, v16f *r) {
  for (size_t c = 0; c < 16; ++c) r[c] = buffer[c][q][p];
  transpose16(r);
}
#undef BLD_TRANSPOSE_ROUND
#undef BLD_LANES
#undef BLD_LANE_HIGH
#undef BLD_LANE_LOW

#endif
