// CImageShims: thin C wrappers around libpng and libjpeg-turbo for BlendedLatent's Images folder.
// No stable API (see README.md). Both libraries report fatal errors by longjmp, which Swift cannot
// catch; these functions set the jump point in C and turn every failure into a status code and a
// message, so no longjmp ever crosses a Swift frame.
#ifndef BLD_IMAGE_SHIMS_H
#define BLD_IMAGE_SHIMS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by every bld_*_decode / bld_*_encode function.
enum {
  BLD_IMAGE_OK = 0,
  BLD_IMAGE_CORRUPT = 1,      ///< the decoder rejected the data (bad signature, CRC, truncation, …)
  BLD_IMAGE_UNSUPPORTED = 2,  ///< well-formed but a kind this package does not read
  BLD_IMAGE_TOO_LARGE = 3,    ///< width × height above the caller's pixel limit
  BLD_IMAGE_NO_MEMORY = 4,    ///< allocation failed
  BLD_IMAGE_CANCELLED = 5,    ///< the caller's should_stop answered non-zero
};

/// Asked after every encoded row, and every band of decoded rows; a non-zero answer abandons the encode or
/// decode (BLD_IMAGE_CANCELLED).
typedef int (*bld_should_stop)(void *context);

/// A decoded image: `channels` interleaved samples per pixel (3 = RGB, 4 = RGBA), rows top to bottom.
/// `bit_depth` is 8 (`pixels` holds uint8_t samples) or 16 (`pixels` holds uint16_t samples in host
/// byte order). `source_channels` is what the file stored before expansion (1 gray, 2 gray+alpha,
/// 3 colour, 4 colour+alpha or CMYK). Free `pixels` with bld_image_free.
typedef struct {
  int32_t width;
  int32_t height;
  int32_t bit_depth;
  int32_t channels;
  int32_t source_channels;
  void *pixels;
  char message[256];
} bld_decoded_image;

/// Decodes a PNG held in memory. Palette, gray and low-bit-depth images are expanded to RGB, tRNS to
/// an alpha channel; 16-bit samples are kept. Gamma and colour-profile chunks are ignored (as PIL does).
/// `should_stop` (may be NULL) is called with `stop_context` every 16 decoded rows (every pass of an interlaced
/// image), so a long decode can be cancelled.
int bld_png_decode(const uint8_t *data, size_t size, size_t max_pixels, bld_should_stop should_stop,
                   void *stop_context, bld_decoded_image *out);

/// Decodes a baseline or progressive JPEG held in memory to 8-bit RGB. Grayscale is replicated to
/// RGB; CMYK/YCCK is converted with (255 − C)(255 − K)/255 per channel, undoing Adobe's inverted
/// storage when the Adobe marker says so. A truncated stream is an error (libjpeg only warns).
/// `should_stop` (may be NULL) is called with `stop_context` from libjpeg's progress monitor (every few MCU rows,
/// including the scans of a progressive image) and every 16 output rows, so a long decode can be cancelled.
int bld_jpeg_decode(const uint8_t *data, size_t size, size_t max_pixels, bld_should_stop should_stop,
                    void *stop_context, bld_decoded_image *out);

/// Encodes 8-bit pixels (`channels` 1 = gray, 3 = RGB, 4 = RGBA; rows of width × channels bytes)
/// as a PNG in memory. On success `*out_data` (free with bld_image_free) holds `*out_size` bytes.
/// `should_stop` (may be NULL) is called with `stop_context` after every row, so a long encode can be cancelled.
int bld_png_encode(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                   uint8_t **out_data, size_t *out_size, bld_should_stop should_stop, void *stop_context,
                   char *message, size_t message_capacity);

/// Frees memory returned by the functions above (NULL is allowed).
void bld_image_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
