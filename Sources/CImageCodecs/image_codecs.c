#include "image_codecs.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

/// Decoded images larger than this many bytes are refused rather than allocated.
static const size_t max_image_bytes = (size_t)1 << 31;

void ic_free(void *pointer) { free(pointer); }

static void set_message(char *message, const char *text) {
    snprintf(message, IC_MESSAGE_LENGTH, "%s", text);
}

/// The byte size of `height` rows of `row_bytes`, or 0 when it overflows or exceeds the limit.
static size_t image_bytes(size_t row_bytes, size_t height) {
    if (row_bytes == 0 || height == 0 || row_bytes > max_image_bytes / height) return 0;
    return row_bytes * height;
}

/// True when a `width × height` image breaks `limits`.
static int over_limit(size_t width, size_t height, ic_limits limits) {
    if (width == 0 || height == 0) return 0;
    size_t shorter = width < height ? width : height, longer = width < height ? height : width;
    return width > limits.max_pixels / height || (double)longer > limits.max_aspect_ratio * (double)shorter;
}

// MARK: - PNG

/// State shared with libpng's callbacks (reached through the io and error pointers).
typedef struct {
    jmp_buf jump;
    const unsigned char *data;  // reading: the encoded bytes
    size_t size;
    size_t offset;
    unsigned char *sink;        // writing: the growing output buffer
    size_t sink_size;
    size_t sink_capacity;
    ic_status status;           // what a longjmp means; IC_CORRUPT unless set before png_error
    char *message;
} png_context;

static void png_on_error(png_structp png, png_const_charp text) {
    png_context *context = png_get_error_ptr(png);
    set_message(context->message, text);
    if (context->status == IC_OK) context->status = IC_CORRUPT;
    longjmp(context->jump, 1);
}

static void png_on_warning(png_structp png, png_const_charp text) {
    // Warnings concern ancillary data (e.g. a bad CRC in a text chunk) that is skipped.
    (void)png;
    (void)text;
}

static void png_read_memory(png_structp png, png_bytep destination, size_t length) {
    png_context *context = png_get_io_ptr(png);
    if (context->size - context->offset < length) {
        context->status = IC_TRUNCATED;
        png_error(png, "unexpected end of data");
    }
    memcpy(destination, context->data + context->offset, length);
    context->offset += length;
}

ic_status ic_decode_png(const unsigned char *data, size_t size, ic_limits limits, ic_image *out) {
    memset(out, 0, sizeof *out);
    png_context context;
    memset(&context, 0, sizeof context);
    context.data = data;
    context.size = size;
    context.message = out->message;

    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        set_message(out->message, "not a PNG signature");
        return IC_CORRUPT;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, png_on_error, png_on_warning);
    if (!png) {
        set_message(out->message, "cannot create libpng read struct");
        return IC_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_message(out->message, "cannot create libpng info struct");
        return IC_NO_MEMORY;
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(context.jump)) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return context.status;
    }
    png_set_read_fn(png, &context, png_read_memory);
    png_read_info(png, info);

    png_uint_32 width, height;
    int bit_depth, color_type;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if (over_limit(width, height, limits)) {
        out->width = (int)width;
        out->height = (int)height;
        context.status = IC_OVER_LIMIT;
        png_error(png, "image size over the limit");
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    size_t total = image_bytes(row_bytes, height);
    if (total == 0) {
        context.status = IC_NO_MEMORY;
        png_error(png, "image too large");
    }
    pixels = malloc(total);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        context.status = IC_NO_MEMORY;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    out->pixels = pixels;
    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    out->bit_depth = out_depth;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return IC_OK;
}

static void png_write_memory(png_structp png, png_bytep data, size_t length) {
    png_context *context = png_get_io_ptr(png);
    if (context->sink_capacity - context->sink_size < length) {
        size_t capacity = context->sink_capacity ? context->sink_capacity : 4096;
        while (capacity - context->sink_size < length) capacity *= 2;
        unsigned char *grown = realloc(context->sink, capacity);
        if (!grown) {
            context->status = IC_NO_MEMORY;
            png_error(png, "out of memory");
        }
        context->sink = grown;
        context->sink_capacity = capacity;
    }
    memcpy(context->sink + context->sink_size, data, length);
    context->sink_size += length;
}

static void png_flush_memory(png_structp png) { (void)png; }

ic_status ic_encode_png(const unsigned char *pixels, int width, int height, int channels,
                        unsigned char **png_data, size_t *png_size, char *message) {
    *png_data = NULL;
    *png_size = 0;
    message[0] = '\0';
    int color_type;
    switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default:
        set_message(message, "PNG encoding needs 1, 3 or 4 channels");
        return IC_UNSUPPORTED;
    }
    if (width <= 0 || height <= 0) {
        set_message(message, "PNG encoding needs a non-empty image");
        return IC_UNSUPPORTED;
    }
    png_context context;
    memset(&context, 0, sizeof context);
    context.message = message;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, png_on_error, png_on_warning);
    if (!png) {
        set_message(message, "cannot create libpng write struct");
        return IC_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_message(message, "cannot create libpng info struct");
        return IC_NO_MEMORY;
    }
    if (setjmp(context.jump)) {
        free(context.sink);
        png_destroy_write_struct(&png, &info);
        return context.status;
    }
    png_set_write_fn(png, &context, png_write_memory, png_flush_memory);
    // zlib level 1: the same pixels (PNG is lossless) in a quarter of the CPU time of the
    // default level 6, for files about 14 % larger (measured on a run's heatmaps and gallery).
    png_set_compression_level(png, 1);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *png_data = context.sink;
    *png_size = context.sink_size;
    return IC_OK;
}

// MARK: - JPEG

/// libjpeg's error manager extended with where to jump and what to report.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    ic_status status;
    char *message;
} jpeg_context;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_context *context = (jpeg_context *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    set_message(context->message, text);
    if (context->status == IC_OK) {
        int code = cinfo->err->msg_code;
        // Valid files this build of libjpeg cannot decode: 12-bit samples, lossless JPEG.
        context->status = code == JERR_BAD_PRECISION || code == JERR_SOF_UNSUPPORTED ? IC_UNSUPPORTED : IC_CORRUPT;
    }
    longjmp(context->jump, 1);
}

/// Trace messages are ignored; warnings that mean the pixels are wrong or missing become errors
/// (libjpeg would otherwise fill the rest of a truncated image with grey and carry on).
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    jpeg_context *context = (jpeg_context *)cinfo->err;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        context->status = IC_TRUNCATED;
        jpeg_on_error(cinfo);
        break;
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        context->status = IC_CORRUPT;
        jpeg_on_error(cinfo);
        break;
    default:
        // Benign: unknown JFIF revision, extraneous bytes before a marker, bad ICC profile.
        cinfo->err->num_warnings++;
    }
}

ic_status ic_decode_jpeg(const unsigned char *data, size_t size, ic_limits limits, ic_image *out) {
    memset(out, 0, sizeof *out);
    struct jpeg_decompress_struct cinfo;
    jpeg_context context;
    memset(&context, 0, sizeof context);
    context.message = out->message;
    cinfo.err = jpeg_std_error(&context.base);
    context.base.error_exit = jpeg_on_error;
    context.base.emit_message = jpeg_on_message;
    unsigned char *volatile pixels = NULL;
    if (setjmp(context.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&cinfo);
        return context.status;
    }
    jpeg_create_decompress(&cinfo);
    if (size == 0 || size > (size_t)UINT32_MAX) {
        context.status = IC_CORRUPT;
        ERREXIT(&cinfo, JERR_INPUT_EMPTY);
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (over_limit(cinfo.image_width, cinfo.image_height, limits)) {
        out->width = (int)cinfo.image_width;
        out->height = (int)cinfo.image_height;
        set_message(out->message, "image size over the limit");
        jpeg_destroy_decompress(&cinfo);
        return IC_OVER_LIMIT;
    }

    int channels;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        channels = 3;
        break;
    default:
        set_message(out->message, cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK
                                      ? "CMYK JPEG is not supported"
                                      : "unsupported JPEG colour space");
        jpeg_destroy_decompress(&cinfo);
        return IC_UNSUPPORTED;
    }
    jpeg_start_decompress(&cinfo);
    size_t row_bytes = (size_t)cinfo.output_width * (size_t)channels;
    size_t total = image_bytes(row_bytes, cinfo.output_height);
    if (cinfo.output_components != channels || total == 0) {
        set_message(out->message, total == 0 ? "image too large" : "unexpected number of JPEG components");
        jpeg_destroy_decompress(&cinfo);
        return total == 0 ? IC_NO_MEMORY : IC_UNSUPPORTED;
    }
    pixels = malloc(total);
    if (!pixels) {
        set_message(out->message, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return IC_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);

    out->pixels = pixels;
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->channels = channels;
    out->bit_depth = 8;
    jpeg_destroy_decompress(&cinfo);
    return IC_OK;
}
