// JPEG decoding through libjpeg(-turbo), with error_exit turned into a longjmp that stays inside C.
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "CImageShims.h"

typedef struct {
  struct jpeg_error_mgr base;
  jmp_buf jump;
  bld_decoded_image *out;
  bld_should_stop should_stop;  // may be NULL
  void *stop_context;
  int stopped;
} bld_jpeg_error_manager;

/// Abandons the decode (longjmp, inside C) when the caller's should_stop answers non-zero.
static void bld_jpeg_check_stop(j_common_ptr info) {
  bld_jpeg_error_manager *manager = (bld_jpeg_error_manager *)info->err;
  if (manager->should_stop && manager->should_stop(manager->stop_context)) {
    manager->stopped = 1;
    snprintf(manager->out->message, sizeof manager->out->message, "cancelled");
    longjmp(manager->jump, 1);
  }
}

static void bld_jpeg_fail(j_common_ptr info) {
  bld_jpeg_error_manager *manager = (bld_jpeg_error_manager *)info->err;
  char text[JMSG_LENGTH_MAX];
  (*info->err->format_message)(info, text);
  snprintf(manager->out->message, sizeof manager->out->message, "%s", text);
  longjmp(manager->jump, 1);
}

// libjpeg only warns about a truncated stream and fills the rest with gray; we refuse such files.
static void bld_jpeg_emit_message(j_common_ptr info, int level) {
  if (level < 0 && (info->err->msg_code == JWRN_JPEG_EOF || info->err->msg_code == JWRN_HIT_MARKER)) {
    bld_jpeg_fail(info);
  }
}

int bld_jpeg_decode(const uint8_t *data, size_t size, size_t max_pixels, bld_should_stop should_stop,
                    void *stop_context, bld_decoded_image *out) {
  memset(out, 0, sizeof *out);
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
    snprintf(out->message, sizeof out->message, "not a JPEG file (bad signature)");
    return BLD_IMAGE_CORRUPT;
  }
  struct jpeg_decompress_struct info;
  bld_jpeg_error_manager manager;
  struct jpeg_progress_mgr progress;
  uint8_t *volatile pixels = NULL;
  uint8_t *volatile cmyk_row = NULL;
  volatile int status = BLD_IMAGE_CORRUPT;

  info.err = jpeg_std_error(&manager.base);
  manager.base.error_exit = bld_jpeg_fail;
  manager.base.emit_message = bld_jpeg_emit_message;
  manager.out = out;
  manager.should_stop = should_stop;
  manager.stop_context = stop_context;
  manager.stopped = 0;
  if (setjmp(manager.jump)) {
    jpeg_destroy_decompress(&info);
    free(pixels);
    free(cmyk_row);
    out->pixels = NULL;
    // Read through a volatile lvalue: the callback set it after setjmp.
    return ((volatile bld_jpeg_error_manager *)&manager)->stopped ? BLD_IMAGE_CANCELLED : status;
  }
  jpeg_create_decompress(&info);
  if (should_stop) {
    // libjpeg calls the progress monitor every few MCU rows, also while it reads a progressive image's scans
    // inside jpeg_start_decompress, where the output loop below is not running yet.
    memset(&progress, 0, sizeof progress);
    progress.progress_monitor = bld_jpeg_check_stop;
    info.progress = &progress;
  }
  jpeg_mem_src(&info, data, (unsigned long)size);
  jpeg_read_header(&info, TRUE);

  const size_t width = info.image_width, height = info.image_height;
  if (width == 0 || height == 0 || width > max_pixels / height) {
    snprintf(out->message, sizeof out->message, "%zu×%zu pixels is more than the limit of %zu", width, height,
             max_pixels);
    status = BLD_IMAGE_TOO_LARGE;
    longjmp(manager.jump, 1);
  }
  int cmyk = 0;
  switch (info.jpeg_color_space) {
    case JCS_GRAYSCALE:
      out->source_channels = 1;
      info.out_color_space = JCS_RGB;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      out->source_channels = 3;
      info.out_color_space = JCS_RGB;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      out->source_channels = 4;
      info.out_color_space = JCS_CMYK;
      cmyk = 1;
      break;
    default:
      snprintf(out->message, sizeof out->message, "unsupported JPEG colour space %d", (int)info.jpeg_color_space);
      status = BLD_IMAGE_UNSUPPORTED;
      longjmp(manager.jump, 1);
  }
  jpeg_start_decompress(&info);
  if (info.output_width != width || info.output_height != height || info.output_components != (cmyk ? 4 : 3)) {
    snprintf(out->message, sizeof out->message, "unexpected JPEG output layout");
    status = BLD_IMAGE_UNSUPPORTED;
    longjmp(manager.jump, 1);
  }
  pixels = (uint8_t *)malloc(width * height * 3);
  if (cmyk) cmyk_row = (uint8_t *)malloc(width * 4);
  if (!pixels || (cmyk && !cmyk_row)) {
    snprintf(out->message, sizeof out->message, "out of memory");
    status = BLD_IMAGE_NO_MEMORY;
    longjmp(manager.jump, 1);
  }
  // Adobe's CMYK JPEGs store inverted ink values (255 − C); normalise to "stored = 255 − ink".
  const int inverted = info.saw_Adobe_marker;
  while (info.output_scanline < info.output_height) {
    if ((info.output_scanline & 15) == 0) bld_jpeg_check_stop((j_common_ptr)&info);
    uint8_t *target = pixels + (size_t)info.output_scanline * width * 3;
    JSAMPROW row = cmyk ? cmyk_row : target;
    if (jpeg_read_scanlines(&info, &row, 1) != 1) {
      snprintf(out->message, sizeof out->message, "could not read scanline %u", info.output_scanline);
      longjmp(manager.jump, 1);
    }
    if (cmyk) {
      for (size_t x = 0; x < width; x++) {
        unsigned k = cmyk_row[4 * x + 3];
        if (!inverted) k = 255 - k;
        for (int c = 0; c < 3; c++) {
          unsigned v = cmyk_row[4 * x + c];
          if (!inverted) v = 255 - v;
          target[3 * x + c] = (uint8_t)((v * k + 127) / 255);
        }
      }
    }
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  free(cmyk_row);
  out->width = (int32_t)width;
  out->height = (int32_t)height;
  out->bit_depth = 8;
  out->channels = 3;
  out->pixels = pixels;
  return BLD_IMAGE_OK;
}
