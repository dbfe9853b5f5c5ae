// PNG and JPEG decoding (and PNG encoding) from memory with libpng and libjpeg-turbo.
//
// Both libraries report fatal errors by longjmp, which Swift cannot catch, and libjpeg's
// default handler calls exit(). These wrappers install their own handlers, so every failure
// comes back as a status code plus a human-readable message.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Outcome of a codec call.
typedef enum {
    IC_OK = 0,
    IC_TRUNCATED = 1,    ///< the data ended before the image did
    IC_CORRUPT = 2,      ///< malformed data (bad CRC, bad Huffman code, bad header, ...)
    IC_UNSUPPORTED = 3,  ///< well-formed but not handled (e.g. CMYK JPEG)
    IC_NO_MEMORY = 4,    ///< allocation failed or the image is implausibly large
    IC_OVER_LIMIT = 5,   ///< the header's size breaks `ic_limits` (width and height are set)
} ic_status;

/// Bounds checked from the header, before any pixel memory is allocated.
typedef struct {
    /// Most pixels (width × height) an image may have.
    size_t max_pixels;
    /// Largest ratio of the longer side to the shorter one.
    double max_aspect_ratio;
} ic_limits;

/// Length of `ic_image.message` (including the terminating NUL).
#define IC_MESSAGE_LENGTH 256

/// A decoded image: interleaved samples, rows top to bottom, no padding. On IC_OVER_LIMIT only
/// `width` and `height` are set.
typedef struct {
    /// malloc'd samples; release with `ic_free`. NULL unless the call returned IC_OK.
    unsigned char *pixels;
    int width;
    int height;
    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    int channels;
    /// 8 or 16. 16-bit samples are big-endian (as stored in PNG), two bytes each.
    int bit_depth;
    /// Why the call failed (empty on success).
    char message[IC_MESSAGE_LENGTH];
} ic_image;

/// Decodes a PNG. Palette images are expanded to RGB(A), gray below 8 bits to 8 bits, tRNS to
/// an alpha channel. Sample values are kept as stored (no gamma correction).
ic_status ic_decode_png(const unsigned char *data, size_t size, ic_limits limits, ic_image *out);

/// Decodes a baseline or progressive JPEG to 8-bit gray (1 channel) or RGB (3 channels) with
/// libjpeg's defaults (islow IDCT, fancy upsampling). Corrupt-data warnings, including
/// "premature end of JPEG file", are errors. CMYK/YCCK JPEGs are IC_UNSUPPORTED.
ic_status ic_decode_jpeg(const unsigned char *data, size_t size, ic_limits limits, ic_image *out);

/// Encodes 8-bit interleaved samples (1 gray, 3 RGB or 4 RGBA channels) as a PNG in memory.
/// On IC_OK `*png` is malloc'd (release with `ic_free`) and holds `*png_size` bytes; on failure
/// `message` (IC_MESSAGE_LENGTH bytes) says why.
ic_status ic_encode_png(const unsigned char *pixels, int width, int height, int channels,
                        unsigned char **png, size_t *png_size, char *message);

/// Releases memory returned by this module.
void ic_free(void *pointer);

#ifdef __cplusplus
}
#endif
