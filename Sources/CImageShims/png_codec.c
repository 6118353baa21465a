// PNG decoding and encoding through libpng's full API, with setjmp kept inside C.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "CImageShims.h"

typedef struct {
  const uint8_t *data;
  size_t size;
  size_t offset;
} bld_png_reader;

typedef struct {
  uint8_t *data;
  size_t size;
  size_t capacity;
} bld_png_writer;

typedef struct {
  char *message;
  size_t capacity;
  bld_should_stop should_stop;  // encoding: asked after every row; decoding: every 16 rows (may be NULL)
  void *stop_context;
  int stopped;
} bld_png_message;

static void bld_png_read_memory(png_structp png, png_bytep destination, size_t length) {
  bld_png_reader *reader = (bld_png_reader *)png_get_io_ptr(png);
  if (length > reader->size - reader->offset) {
    png_error(png, "unexpected end of file (the PNG is truncated)");
  }
  memcpy(destination, reader->data + reader->offset, length);
  reader->offset += length;
}

static void bld_png_write_memory(png_structp png, png_bytep source, size_t length) {
  bld_png_writer *writer = (bld_png_writer *)png_get_io_ptr(png);
  if (length > writer->capacity - writer->size) {
    size_t capacity = writer->capacity ? writer->capacity : 4096;
    while (capacity - writer->size < length) capacity *= 2;
    uint8_t *grown = (uint8_t *)realloc(writer->data, capacity);
    if (!grown) png_error(png, "out of memory");
    writer->data = grown;
    writer->capacity = capacity;
  }
  memcpy(writer->data + writer->size, source, length);
  writer->size += length;
}

static void bld_png_flush_memory(png_structp png) { (void)png; }

static void bld_png_on_error(png_structp png, png_const_charp text) {
  bld_png_message *sink = (bld_png_message *)png_get_error_ptr(png);
  if (sink && sink->message && sink->capacity) snprintf(sink->message, sink->capacity, "%s", text);
  png_longjmp(png, 1);
}

static void bld_png_on_warning(png_structp png, png_const_charp text) {
  (void)png;
  (void)text;
}

static int bld_host_is_little_endian(void) {
  const uint16_t probe = 1;
  return *(const uint8_t *)&probe == 1;
}

/// libpng's per-row read callback: abandons the decode every 16 rows (longjmp through png_error, inside C) when
/// asked to. `row` is the number of the next row of the pass.
static void bld_png_row_read(png_structp png, png_uint_32 row, int pass) {
  (void)pass;
  bld_png_message *sink = (bld_png_message *)png_get_error_ptr(png);
  if ((row & 15) == 0 && sink->should_stop && sink->should_stop(sink->stop_context)) {
    sink->stopped = 1;
    png_error(png, "cancelled");
  }
}

int bld_png_decode(const uint8_t *data, size_t size, size_t max_pixels, bld_should_stop should_stop,
                   void *stop_context, bld_decoded_image *out) {
  memset(out, 0, sizeof *out);
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    snprintf(out->message, sizeof out->message, "not a PNG file (bad signature)");
    return BLD_IMAGE_CORRUPT;
  }
  bld_png_message sink = {out->message, sizeof out->message, should_stop, stop_context, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, bld_png_on_error, bld_png_on_warning);
  if (!png) return BLD_IMAGE_NO_MEMORY;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return BLD_IMAGE_NO_MEMORY;
  }
  bld_png_reader reader = {data, size, 0};
  uint8_t *volatile pixels = NULL;
  png_bytepp volatile rows = NULL;
  volatile int status = BLD_IMAGE_CORRUPT;

  if (setjmp(png_jmpbuf(png))) {
    free(rows);
    free(pixels);
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = NULL;
    // Read through a volatile lvalue: the callback set it after setjmp.
    return ((volatile bld_png_message *)&sink)->stopped ? BLD_IMAGE_CANCELLED : status;
  }

  png_set_read_fn(png, &reader, bld_png_read_memory);
  if (should_stop) png_set_read_status_fn(png, bld_png_row_read);
  png_read_info(png, info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
  if (width == 0 || height == 0 || (size_t)width > max_pixels / (size_t)height) {
    snprintf(out->message, sizeof out->message, "%u×%u pixels is more than the limit of %zu", (unsigned)width,
             (unsigned)height, max_pixels);
    status = BLD_IMAGE_TOO_LARGE;
    png_longjmp(png, 1);
  }
  const int has_transparency = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: out->source_channels = has_transparency ? 2 : 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: out->source_channels = 2; break;
    case PNG_COLOR_TYPE_PALETTE: out->source_channels = has_transparency ? 4 : 3; break;
    case PNG_COLOR_TYPE_RGB: out->source_channels = has_transparency ? 4 : 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: out->source_channels = 4; break;
    default:
      snprintf(out->message, sizeof out->message, "unsupported PNG colour type %d", color_type);
      status = BLD_IMAGE_UNSUPPORTED;
      png_longjmp(png, 1);
  }

  // Palette → RGB, gray below 8 bits → 8 bits, tRNS → alpha; then gray → RGB; 16-bit in host order.
  png_set_expand(png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  if (bit_depth == 16 && bld_host_is_little_endian()) png_set_swap(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const int depth = png_get_bit_depth(png, info);
  if ((channels != 3 && channels != 4) || (depth != 8 && depth != 16)) {
    snprintf(out->message, sizeof out->message, "unexpected PNG layout after expansion (%d channels, %d bits)",
             channels, depth);
    status = BLD_IMAGE_UNSUPPORTED;
    png_longjmp(png, 1);
  }
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != (size_t)width * (size_t)channels * (size_t)(depth / 8)) {
    snprintf(out->message, sizeof out->message, "unexpected PNG row size %zu", row_bytes);
    status = BLD_IMAGE_UNSUPPORTED;
    png_longjmp(png, 1);
  }
  pixels = (uint8_t *)malloc(row_bytes * height);
  rows = (png_bytepp)malloc(sizeof(png_bytep) * height);
  if (!pixels || !rows) {
    snprintf(out->message, sizeof out->message, "out of memory");
    status = BLD_IMAGE_NO_MEMORY;
    png_longjmp(png, 1);
  }
  for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
  png_read_image(png, rows);
  png_read_end(png, NULL);

  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  out->width = (int32_t)width;
  out->height = (int32_t)height;
  out->bit_depth = depth;
  out->channels = channels;
  out->pixels = pixels;
  return BLD_IMAGE_OK;
}

/// libpng's per-row write callback: abandons the encode (longjmp through png_error, inside C) when asked to.
static void bld_png_row_written(png_structp png, png_uint_32 row, int pass) {
  (void)row;
  (void)pass;
  bld_png_message *sink = (bld_png_message *)png_get_error_ptr(png);
  if (sink->should_stop && sink->should_stop(sink->stop_context)) {
    sink->stopped = 1;
    png_error(png, "cancelled");
  }
}

int bld_png_encode(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels,
                   uint8_t **out_data, size_t *out_size, bld_should_stop should_stop, void *stop_context,
                   char *message, size_t message_capacity) {
  *out_data = NULL;
  *out_size = 0;
  int color_type;
  switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default:
      if (message && message_capacity) snprintf(message, message_capacity, "cannot encode %d channels", channels);
      return BLD_IMAGE_UNSUPPORTED;
  }
  if (width <= 0 || height <= 0) {
    if (message && message_capacity) snprintf(message, message_capacity, "empty image (%d×%d)", width, height);
    return BLD_IMAGE_UNSUPPORTED;
  }
  bld_png_message sink = {message, message_capacity, should_stop, stop_context, 0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, bld_png_on_error, bld_png_on_warning);
  if (!png) return BLD_IMAGE_NO_MEMORY;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return BLD_IMAGE_NO_MEMORY;
  }
  bld_png_writer writer = {NULL, 0, 0};
  png_bytepp volatile rows = NULL;
  if (setjmp(png_jmpbuf(png))) {
    free(rows);
    free(writer.data);
    png_destroy_write_struct(&png, &info);
    // Past validation, the only failures are a cancellation and allocation failures.
    return ((volatile bld_png_message *)&sink)->stopped ? BLD_IMAGE_CANCELLED : BLD_IMAGE_NO_MEMORY;
  }
  png_set_write_fn(png, &writer, bld_png_write_memory, bld_png_flush_memory);
  png_set_write_status_fn(png, bld_png_row_written);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  rows = (png_bytepp)malloc(sizeof(png_bytep) * (size_t)height);
  if (!rows) png_error(png, "out of memory");
  const size_t row_bytes = (size_t)width * (size_t)channels;
  for (int32_t y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * row_bytes);
  png_set_rows(png, info, rows);
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
  free(rows);
  png_destroy_write_struct(&png, &info);
  *out_data = writer.data;
  *out_size = writer.size;
  return BLD_IMAGE_OK;
}

void bld_image_free(void *pointer) { free(pointer); }
