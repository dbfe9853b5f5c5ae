#include "winograd_transforms.h"

#include "output_ending.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The transforms' adds, subtracts and multiplications stay separate operations (the bits of
// the Swift code they replaced): no contraction into fused multiply-adds.
#pragma STDC FP_CONTRACT OFF

enum {
    /// Channels of one block, one per vector lane.
    lanes = 8,
    /// Output tile side at stride 1.
    tile = 4,
    /// Input tile side at stride 1.
    span = 6,
    /// Output and input tile sides at stride 2.
    tile2 = 2,
    span2 = 5,
    /// Input rows (and columns) from one tile to the next, at either stride (4 · 1 and 2 · 2).
    step = 4,
};

/// Rows (or columns) of the blocked image that the image's `extent` covers from `offset` on:
/// cut at the blocked image's `edge`, 0 when the offset lies past it.
static size_t covered(size_t offset, size_t extent, size_t edge) {
    if (offset >= edge) return 0;
    return extent < edge - offset ? extent : edge - offset;
}

// MARK: Portable

/// The 1-D input transform `Bᵀ d` of six values.
static void input_transform_scalar(const float d[span], float r[span]) {
    float a = d[4] - 4 * d[2], b = d[3] - 4 * d[1];
    float c = d[4] - d[2], e = 2 * (d[3] - d[1]);
    r[0] = 4 * d[0] - 5 * d[2] + d[4];
    r[1] = a + b;
    r[2] = a - b;
    r[3] = c + e;
    r[4] = c - e;
    r[5] = 4 * d[1] - 5 * d[3] + d[5];
}

/// The 1-D output transform `Aᵀ m` of six values.
static void output_transform_scalar(const float m[span], float y[tile]) {
    float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2 * d34;
    y[2] = s12 + 4 * s34;
    y[3] = d12 + 8 * d34 + m[5];
}

/// The 1-D input transform `Bᵀ d` of the stride-2 scheme, five values: the even samples'
/// F(2, 2) (`d0 − d2`, `d2`, `d4 − d2`) and the odd samples as they are.
static void input_transform_stride2_scalar(const float d[span2], float r[span2]) {
    r[0] = d[0] - d[2];
    r[1] = d[2];
    r[2] = d[4] - d[2];
    r[3] = d[1];
    r[4] = d[3];
}

/// The 1-D output transform `Aᵀ m` of the stride-2 scheme, five values.
static void output_transform_stride2_scalar(const float m[span2], float y[tile2]) {
    y[0] = m[0] + m[1] + m[3];
    y[1] = m[1] + m[2] + m[4];
}

void trawl_winograd_fill_portable(const float *image, size_t channels, size_t height, size_t width, size_t top,
                                  size_t left, float *blocked, size_t blocks, size_t blockedHeight,
                                  size_t blockedWidth) {
    size_t rows = covered(top, height, blockedHeight), columns = covered(left, width, blockedWidth);
    for (size_t i = 0; i < blocks * blockedHeight * blockedWidth * lanes; i++) blocked[i] = 0;
    for (size_t c = 0; c < channels; c++) {
        const float *plane = image + c * height * width;
        float *block = blocked + (c / lanes) * blockedHeight * blockedWidth * lanes + c % lanes;
        for (size_t y = 0; y < rows; y++) {
            float *line = block + ((y + top) * blockedWidth + left) * lanes;
            for (size_t x = 0; x < columns; x++) line[x * lanes] = plane[y * width + x];
        }
    }
}

/// `Bᵀ d B` of one tile's eight channels: `corner` is its top-left pixel in the blocked image,
/// `rowStride` floats a row; position ξ goes to `destination[ξ · positionStride]`.
typedef void (*InputTileKernel)(const float *corner, size_t rowStride, float *destination, size_t positionStride);

/// ``InputTileKernel`` on the portable path for tiles of side `side`, transformed by `transform`
/// along rows, then along columns.
static void input_tile_scalar(const float *corner, size_t rowStride, float *destination, size_t positionStride,
                              size_t side, void (*transform)(const float *, float *)) {
    for (size_t l = 0; l < lanes; l++) {
        float rows[span * span];  // row i of the tile transformed along j, at rows[i · side + j]
        for (size_t i = 0; i < side; i++) {
            float d[span];
            for (size_t j = 0; j < side; j++) d[j] = corner[i * rowStride + j * lanes + l];
            transform(d, rows + i * side);
        }
        for (size_t j = 0; j < side; j++) {
            float d[span], r[span];
            for (size_t i = 0; i < side; i++) d[i] = rows[i * side + j];
            transform(d, r);
            for (size_t i = 0; i < side; i++) destination[(i * side + j) * positionStride + l] = r[i];
        }
    }
}

static void input_tile_portable(const float *corner, size_t rowStride, float *destination, size_t positionStride) {
    input_tile_scalar(corner, rowStride, destination, positionStride, span, input_transform_scalar);
}

static void input_tile_stride2_portable(const float *corner, size_t rowStride, float *destination,
                                        size_t positionStride) {
    input_tile_scalar(corner, rowStride, destination, positionStride, span2, input_transform_stride2_scalar);
}

/// What every output tile of a layer shares (``trawl_winograd_transform_output``'s arguments).
typedef struct {
    /// Floats from one position of the products to the next.
    size_t positionStride;
    /// Floats from one output row to the next, and from one output channel to the next.
    size_t outW, plane;
    /// The activation's clamp.
    float lower, upper;
    /// The residual ending's clamp (when there is a shortcut).
    float finalLower, finalUpper;
} OutputLayout;

/// `Aᵀ m A` of one tile's eight channels, the first `present` of them written: `products` is
/// position 0 of the tile's first channel, `bias` that channel's; `rows × columns` outputs of
/// each channel go to `output` (the tile's top-left output of the first channel), then the
/// ending with `shortcut` (laid out as `output`) unless it is NULL.
typedef void (*OutputTileKernel)(const OutputLayout *layout, const float *products, const float *bias, size_t present,
                                 size_t rows, size_t columns, float *output, const float *shortcut);

/// ``OutputTileKernel`` on the portable path for input tiles of side `side` and output tiles of
/// side `outputSide`, transformed by `transform` along rows, then along columns.
static void output_tile_scalar(const OutputLayout *layout, const float *products, const float *bias, size_t present,
                               size_t rows, size_t columns, float *output, const float *shortcut, size_t side,
                               size_t outputSide, void (*transform)(const float *, float *)) {
    for (size_t l = 0; l < present; l++) {
        float transformed[span * tile];  // row i of m transformed along j, at transformed[i · outputSide + j]
        for (size_t i = 0; i < side; i++) {
            float d[span];
            for (size_t j = 0; j < side; j++) d[j] = products[(i * side + j) * layout->positionStride + l];
            transform(d, transformed + i * outputSide);
        }
        for (size_t j = 0; j < columns; j++) {
            float d[span], y[tile];
            for (size_t i = 0; i < side; i++) d[i] = transformed[i * outputSide + j];
            transform(d, y);
            for (size_t i = 0; i < rows; i++) {
                size_t at = l * layout->plane + i * layout->outW + j;
                float value = trawl_add_clamp(y[i], bias[l], layout->lower, layout->upper);
                output[at] = shortcut ? trawl_add_clamp(value, shortcut[at], layout->finalLower, layout->finalUpper)
                                      : value;
            }
        }
    }
}

static void output_tile_portable(const OutputLayout *layout, const float *products, const float *bias, size_t present,
                                 size_t rows, size_t columns, float *output, const float *shortcut) {
    output_tile_scalar(layout, products, bias, present, rows, columns, output, shortcut, span, tile,
                       output_transform_scalar);
}

static void output_tile_stride2_portable(const OutputLayout *layout, const float *products, const float *bias,
                                         size_t present, size_t rows, size_t columns, float *output,
                                         const float *shortcut) {
    output_tile_scalar(layout, products, bias, present, rows, columns, output, shortcut, span2, tile2,
                       output_transform_stride2_scalar);
}

// MARK: AVX2

#if defined(__x86_64__)
#define TRAWL_AVX2 __attribute__((target("avx2")))
#define TRAWL_AVX2_INLINE __attribute__((target("avx2"), always_inline)) static inline

/// The 8 × 8 transpose of `r` in place (`r[i]` lane `j` ↔ `r[j]` lane `i`): unpacks pair rows,
/// shuffles make 4 × 4 blocks in each 128-bit half, and half swaps finish.
TRAWL_AVX2_INLINE void transpose8(__m256 r[lanes]) {
    __m256 t[lanes], u[lanes];
    for (int k = 0; k < lanes; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < lanes; k += 4) {
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}

/// ``trawl_winograd_fill``: each line of the blocked image written once, eight columns of
/// eight channel planes (zeros past `channels`) at a time through an 8 × 8 transpose.
TRAWL_AVX2 static void fill_avx2(const float *image, size_t channels, size_t height, size_t width, size_t top,
                                 size_t left, float *blocked, size_t blocks, size_t blockedHeight,
                                 size_t blockedWidth) {
    size_t rows = covered(top, height, blockedHeight), columns = covered(left, width, blockedWidth);
    size_t plane = height * width, wholeColumns = columns / lanes * lanes;
    const __m256 zero = _mm256_setzero_ps();
    for (size_t block = 0; block < blocks; block++) {
        size_t first = block * lanes, present = channels - first < lanes ? channels - first : lanes;
        for (size_t r = 0; r < blockedHeight; r++) {
            float *line = blocked + ((block * blockedHeight + r) * blockedWidth) * lanes;
            if (r < top || r >= top + rows) {
                for (size_t x = 0; x < blockedWidth; x++) _mm256_storeu_ps(line + x * lanes, zero);
                continue;
            }
            const float *source = image + first * plane + (r - top) * width;
            for (size_t x = 0; x < left && x < blockedWidth; x++) _mm256_storeu_ps(line + x * lanes, zero);
            float *pixels = line + left * lanes;
            for (size_t x = 0; x < wholeColumns; x += lanes) {
                __m256 v[lanes];
                for (size_t c = 0; c < lanes; c++) v[c] = c < present ? _mm256_loadu_ps(source + c * plane + x) : zero;
                transpose8(v);
                for (size_t p = 0; p < lanes; p++) _mm256_storeu_ps(pixels + (x + p) * lanes, v[p]);
            }
            for (size_t x = wholeColumns; x < columns; x++) {
                float pixel[lanes];
                for (size_t c = 0; c < lanes; c++) pixel[c] = c < present ? source[c * plane + x] : 0;
                _mm256_storeu_ps(pixels + x * lanes, _mm256_loadu_ps(pixel));
            }
            for (size_t x = left + columns; x < blockedWidth; x++) _mm256_storeu_ps(line + x * lanes, zero);
        }
    }
}

/// ``input_transform_scalar`` of eight lanes: the same operations in the same order.
TRAWL_AVX2_INLINE void input_transform_avx2(const __m256 d[span], __m256 r[span]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), five = _mm256_set1_ps(5);
    __m256 a = _mm256_sub_ps(d[4], _mm256_mul_ps(four, d[2])), b = _mm256_sub_ps(d[3], _mm256_mul_ps(four, d[1]));
    __m256 c = _mm256_sub_ps(d[4], d[2]), e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
    r[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, d[0]), _mm256_mul_ps(five, d[2])), d[4]);
    r[1] = _mm256_add_ps(a, b);
    r[2] = _mm256_sub_ps(a, b);
    r[3] = _mm256_add_ps(c, e);
    r[4] = _mm256_sub_ps(c, e);
    r[5] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, d[1]), _mm256_mul_ps(five, d[3])), d[5]);
}

/// ``output_transform_scalar`` of eight lanes: the same operations in the same order.
TRAWL_AVX2_INLINE void output_transform_avx2(const __m256 m[span], __m256 y[tile]) {
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4), eight = _mm256_set1_ps(8);
    __m256 s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
    __m256 s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    y[1] = _mm256_add_ps(d12, _mm256_mul_ps(two, d34));
    y[2] = _mm256_add_ps(s12, _mm256_mul_ps(four, s34));
    y[3] = _mm256_add_ps(_mm256_add_ps(d12, _mm256_mul_ps(eight, d34)), m[5]);
}

TRAWL_AVX2 static void input_tile_avx2(const float *corner, size_t rowStride, float *destination,
                                       size_t positionStride) {
    __m256 rows[span][span];  // row i of the tile transformed along j
    for (int i = 0; i < span; i++) {
        __m256 d[span];
        for (int j = 0; j < span; j++) d[j] = _mm256_loadu_ps(corner + i * rowStride + j * lanes);
        input_transform_avx2(d, rows[i]);
    }
    for (int j = 0; j < span; j++) {
        __m256 d[span], r[span];
        for (int i = 0; i < span; i++) d[i] = rows[i][j];
        input_transform_avx2(d, r);
        for (int i = 0; i < span; i++) _mm256_storeu_ps(destination + (i * span + j) * positionStride, r[i]);
    }
}

/// Writes row `i` of a tile for eight channels, `y[j]` lane `l` the output at column `j` of
/// channel `first + l`: `output` and `shortcut` point at channel `first`'s row, `plane` floats
/// apart. A 4 × 8 transpose makes each 128-bit half one channel's row (channels `l` and `l + 4`
/// share a vector); a whole tile row of eight channels is four such vectors, partial ones go
/// out lane by lane.
TRAWL_AVX2_INLINE void store_tile_row(const __m256 y[tile], size_t present, size_t columns, float *output,
                                      const float *shortcut, size_t plane, __m256 finalLower, __m256 finalUpper) {
    __m256 t0 = _mm256_unpacklo_ps(y[0], y[1]), t1 = _mm256_unpackhi_ps(y[0], y[1]);
    __m256 t2 = _mm256_unpacklo_ps(y[2], y[3]), t3 = _mm256_unpackhi_ps(y[2], y[3]);
    __m256 u[4] = {
        _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
        _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
    };
    if (present == lanes && columns == tile) {
        for (size_t l = 0; l < 4; l++) {
            float *low = output + l * plane, *high = output + (l + 4) * plane;
            __m256 row = u[l];
            if (shortcut) {
                __m256 s = _mm256_loadu2_m128(shortcut + (l + 4) * plane, shortcut + l * plane);
                row = trawl_add_clamp_avx2(row, s, finalLower, finalUpper);
            }
            _mm_storeu_ps(low, _mm256_castps256_ps128(row));
            _mm_storeu_ps(high, _mm256_extractf128_ps(row, 1));
        }
        return;
    }
    float values[4][lanes];  // values[l % 4][(l / 4) · 4 + j]
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(values[k], u[k]);
    float lowerBound = _mm256_cvtss_f32(finalLower), upperBound = _mm256_cvtss_f32(finalUpper);
    for (size_t l = 0; l < present; l++) {
        for (size_t j = 0; j < columns; j++) {
            size_t at = l * plane + j;
            float value = values[l % 4][(l / 4) * 4 + j];
            output[at] = shortcut ? trawl_add_clamp(value, shortcut[at], lowerBound, upperBound) : value;
        }
    }
}

TRAWL_AVX2 static void output_tile_avx2(const OutputLayout *layout, const float *products, const float *bias,
                                        size_t present, size_t rows, size_t columns, float *output,
                                        const float *shortcut) {
    const __m256 lower = _mm256_set1_ps(layout->lower), upper = _mm256_set1_ps(layout->upper);
    const __m256 finalLower = _mm256_set1_ps(layout->finalLower), finalUpper = _mm256_set1_ps(layout->finalUpper);
    __m256 transformed[span][tile];  // row i of m transformed along j
    for (int i = 0; i < span; i++) {
        __m256 d[span];
        for (int j = 0; j < span; j++) d[j] = _mm256_loadu_ps(products + (i * span + j) * layout->positionStride);
        output_transform_avx2(d, transformed[i]);
    }
    __m256 y[tile][tile];  // y[i][j]: the output at row i, column j of the tile
    const __m256 b = _mm256_loadu_ps(bias);
    for (int j = 0; j < tile; j++) {
        __m256 d[span], column[tile];
        for (int i = 0; i < span; i++) d[i] = transformed[i][j];
        output_transform_avx2(d, column);
        for (int i = 0; i < tile; i++) y[i][j] = trawl_add_clamp_avx2(column[i], b, lower, upper);
    }
    for (size_t i = 0; i < rows; i++) {
        size_t at = i * layout->outW;
        store_tile_row(y[i], present, columns, output + at, shortcut ? shortcut + at : NULL, layout->plane,
                       finalLower, finalUpper);
    }
}

/// ``input_transform_stride2_scalar`` of eight lanes.
TRAWL_AVX2_INLINE void input_transform_stride2_avx2(const __m256 d[span2], __m256 r[span2]) {
    r[0] = _mm256_sub_ps(d[0], d[2]);
    r[1] = d[2];
    r[2] = _mm256_sub_ps(d[4], d[2]);
    r[3] = d[1];
    r[4] = d[3];
}

/// ``output_transform_stride2_scalar`` of eight lanes: the same operations in the same order.
TRAWL_AVX2_INLINE void output_transform_stride2_avx2(const __m256 m[span2], __m256 y[tile2]) {
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], m[1]), m[3]);
    y[1] = _mm256_add_ps(_mm256_add_ps(m[1], m[2]), m[4]);
}

TRAWL_AVX2 static void input_tile_stride2_avx2(const float *corner, size_t rowStride, float *destination,
                                               size_t positionStride) {
    __m256 rows[span2][span2];  // row i of the tile transformed along j
    for (int i = 0; i < span2; i++) {
        __m256 d[span2];
        for (int j = 0; j < span2; j++) d[j] = _mm256_loadu_ps(corner + i * rowStride + j * lanes);
        input_transform_stride2_avx2(d, rows[i]);
    }
    for (int j = 0; j < span2; j++) {
        __m256 d[span2], r[span2];
        for (int i = 0; i < span2; i++) d[i] = rows[i][j];
        input_transform_stride2_avx2(d, r);
        for (int i = 0; i < span2; i++) _mm256_storeu_ps(destination + (i * span2 + j) * positionStride, r[i]);
    }
}

/// The stride-2 ``OutputTileKernel``. A whole 2 × 2 tile of eight channels without a shortcut
/// goes out as two 64-bit pairs per channel (one per row, from unpacking the row's two columns);
/// anything else lane by lane.
TRAWL_AVX2 static void output_tile_stride2_avx2(const OutputLayout *layout, const float *products, const float *bias,
                                                size_t present, size_t rows, size_t columns, float *output,
                                                const float *shortcut) {
    const __m256 lower = _mm256_set1_ps(layout->lower), upper = _mm256_set1_ps(layout->upper);
    __m256 transformed[span2][tile2];  // row i of m transformed along j
    for (int i = 0; i < span2; i++) {
        __m256 d[span2];
        for (int j = 0; j < span2; j++) d[j] = _mm256_loadu_ps(products + (i * span2 + j) * layout->positionStride);
        output_transform_stride2_avx2(d, transformed[i]);
    }
    __m256 y[tile2][tile2];  // y[i][j]: the output at row i, column j of the tile
    const __m256 b = _mm256_loadu_ps(bias);
    for (int j = 0; j < tile2; j++) {
        __m256 d[span2], column[tile2];
        for (int i = 0; i < span2; i++) d[i] = transformed[i][j];
        output_transform_stride2_avx2(d, column);
        for (int i = 0; i < tile2; i++) y[i][j] = trawl_add_clamp_avx2(column[i], b, lower, upper);
    }
    if (present == lanes && rows == tile2 && columns == tile2 && !shortcut) {
        for (size_t i = 0; i < tile2; i++) {
            // Channels 0, 1 | 4, 5 and 2, 3 | 6, 7, each as its (column 0, column 1) pair.
            __m256 low = _mm256_unpacklo_ps(y[i][0], y[i][1]), high = _mm256_unpackhi_ps(y[i][0], y[i][1]);
            __m128 pairs[4] = {_mm256_castps256_ps128(low), _mm256_castps256_ps128(high),
                               _mm256_extractf128_ps(low, 1), _mm256_extractf128_ps(high, 1)};
            float *row = output + i * layout->outW;
            for (size_t k = 0; k < 4; k++) {
                _mm_storel_pi((__m64 *)(row + 2 * k * layout->plane), pairs[k]);
                _mm_storeh_pi((__m64 *)(row + (2 * k + 1) * layout->plane), pairs[k]);
            }
        }
        return;
    }
    float values[tile2][tile2][lanes];
    for (int i = 0; i < tile2; i++) {
        for (int j = 0; j < tile2; j++) _mm256_storeu_ps(values[i][j], y[i][j]);
    }
    for (size_t l = 0; l < present; l++) {
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < columns; j++) {
                size_t at = l * layout->plane + i * layout->outW + j;
                output[at] = shortcut ? trawl_add_clamp(values[i][j][l], shortcut[at], layout->finalLower,
                                                        layout->finalUpper)
                                      : values[i][j][l];
            }
        }
    }
}

#define TRAWL_AVX512 __attribute__((target("avx512f,avx2")))
#define TRAWL_AVX512_INLINE __attribute__((target("avx512f,avx2"), always_inline)) static inline

/// ``input_transform_scalar`` of sixteen lanes (two blocks of eight channels): the same
/// operations in the same order.
TRAWL_AVX512_INLINE void input_transform_avx512(const __m512 d[span], __m512 r[span]) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), five = _mm512_set1_ps(5);
    __m512 a = _mm512_sub_ps(d[4], _mm512_mul_ps(four, d[2])), b = _mm512_sub_ps(d[3], _mm512_mul_ps(four, d[1]));
    __m512 c = _mm512_sub_ps(d[4], d[2]), e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
    r[0] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d[0]), _mm512_mul_ps(five, d[2])), d[4]);
    r[1] = _mm512_add_ps(a, b);
    r[2] = _mm512_sub_ps(a, b);
    r[3] = _mm512_add_ps(c, e);
    r[4] = _mm512_sub_ps(c, e);
    r[5] = _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(four, d[1]), _mm512_mul_ps(five, d[3])), d[5]);
}

/// ``output_transform_scalar`` of sixteen lanes: the same operations in the same order.
TRAWL_AVX512_INLINE void output_transform_avx512(const __m512 m[span], __m512 y[tile]) {
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4), eight = _mm512_set1_ps(8);
    __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
    __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    y[1] = _mm512_add_ps(d12, _mm512_mul_ps(two, d34));
    y[2] = _mm512_add_ps(s12, _mm512_mul_ps(four, s34));
    y[3] = _mm512_add_ps(_mm512_add_ps(d12, _mm512_mul_ps(eight, d34)), m[5]);
}

/// Eight channels at `low` and eight at `high` as one 512-bit vector.
TRAWL_AVX512_INLINE __m512 join(const float *low, const float *high) {
    __m512d joined = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(low)));
    return _mm512_castpd_ps(_mm512_insertf64x4(joined, _mm256_castps_pd(_mm256_loadu_ps(high)), 1));
}

/// `Bᵀ d B` of one tile's sixteen channels: two blocks, the second `blockPlane` floats after
/// the first in the blocked image (``InputTileKernel`` otherwise); the same bits as two calls of
/// ``input_tile_avx2``.
TRAWL_AVX512 static void input_tile_pair_avx512(const float *corner, size_t blockPlane, size_t rowStride,
                                                float *destination, size_t positionStride) {
    __m512 rows[span][span];  // row i of the tile transformed along j
    for (int i = 0; i < span; i++) {
        __m512 d[span];
        for (int j = 0; j < span; j++) {
            const float *at = corner + i * rowStride + j * lanes;
            d[j] = join(at, at + blockPlane);
        }
        input_transform_avx512(d, rows[i]);
    }
    for (int j = 0; j < span; j++) {
        __m512 d[span], r[span];
        for (int i = 0; i < span; i++) d[i] = rows[i][j];
        input_transform_avx512(d, r);
        for (int i = 0; i < span; i++) _mm512_storeu_ps(destination + (i * span + j) * positionStride, r[i]);
    }
}

/// `Aᵀ m A` of one tile's sixteen channels (two blocks, the second with `presentHigh` of its
/// eight channels), the same bits as two calls of ``output_tile_avx2``: the transforms in
/// 512-bit vectors, then each block's half stored as that kernel stores it.
TRAWL_AVX512 static void output_tile_pair_avx512(const OutputLayout *layout, const float *products, const float *bias,
                                                 size_t presentHigh, size_t rows, size_t columns, float *output,
                                                 const float *shortcut) {
    const __m512 lower = _mm512_set1_ps(layout->lower), upper = _mm512_set1_ps(layout->upper);
    const __m256 finalLower = _mm256_set1_ps(layout->finalLower), finalUpper = _mm256_set1_ps(layout->finalUpper);
    __m512 transformed[span][tile];  // row i of m transformed along j
    for (int i = 0; i < span; i++) {
        __m512 d[span];
        for (int j = 0; j < span; j++) d[j] = _mm512_loadu_ps(products + (i * span + j) * layout->positionStride);
        output_transform_avx512(d, transformed[i]);
    }
    __m256 low[tile][tile], high[tile][tile];  // [i][j]: the output at row i, column j of the tile
    const __m512 b = _mm512_loadu_ps(bias);
    for (int j = 0; j < tile; j++) {
        __m512 d[span], column[tile];
        for (int i = 0; i < span; i++) d[i] = transformed[i][j];
        output_transform_avx512(d, column);
        for (int i = 0; i < tile; i++) {
            __m512 y = trawl_add_clamp_avx512(column[i], b, lower, upper);
            low[i][j] = _mm512_castps512_ps256(y);
            high[i][j] = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1));
        }
    }
    float *second = output + lanes * layout->plane;
    const float *secondShortcut = shortcut ? shortcut + lanes * layout->plane : NULL;
    for (size_t i = 0; i < rows; i++) {
        size_t at = i * layout->outW;
        store_tile_row(low[i], lanes, columns, output + at, shortcut ? shortcut + at : NULL, layout->plane,
                       finalLower, finalUpper);
        store_tile_row(high[i], presentHigh, columns, second + at, secondShortcut ? secondShortcut + at : NULL,
                       layout->plane, finalLower, finalUpper);
    }
}
#endif

// MARK: Both paths

/// Two blocks of eight channels of one tile (``input_tile_pair_avx512``), or NULL.
typedef void (*InputPairKernel)(const float *corner, size_t blockPlane, size_t rowStride, float *destination,
                                size_t positionStride);

/// ``trawl_winograd_transform_input`` with `kernel` for each tile's blocks of eight channels, or
/// with `pairKernel` (when not NULL) for two blocks at a time and `kernel` for an odd last one.
static void transform_input_tiles(const float *blocked, size_t blocks, size_t blockedHeight, size_t blockedWidth,
                                  size_t tilesDown, size_t tilesAcross, float *v, size_t tileStride,
                                  size_t positionStride, InputTileKernel kernel, InputPairKernel pairKernel) {
    size_t blockPlane = blockedHeight * blockedWidth * lanes;
    for (size_t ty = 0; ty < tilesDown; ty++) {
        for (size_t tx = 0; tx < tilesAcross; tx++) {
            size_t t = ty * tilesAcross + tx;
            size_t block = 0;
            for (; pairKernel && block + 2 <= blocks; block += 2) {
                const float *corner = blocked + block * blockPlane + (ty * blockedWidth + tx) * step * lanes;
                pairKernel(corner, blockPlane, blockedWidth * lanes, v + t * tileStride + block * lanes, positionStride);
            }
            for (; block < blocks; block++) {
                const float *corner = blocked + block * blockPlane + (ty * blockedWidth + tx) * step * lanes;
                kernel(corner, blockedWidth * lanes, v + t * tileStride + block * lanes, positionStride);
            }
        }
    }
}

/// ``trawl_winograd_transform_output`` with `kernel` for each tile (side `side`) and block of
/// eight channels: sixteen channels (a 64-byte line of the products) over all tiles at a time,
/// so the sixteen output planes being written stay in cache until their lines are whole.
static void transform_output_tiles(const float *m, size_t tileStride, size_t positionStride, size_t tilesDown,
                                   size_t tilesAcross, size_t channels, const float *bias, float lower, float upper,
                                   const float *shortcut, float finalLower, float finalUpper, float *output,
                                   size_t outH, size_t outW, size_t side, OutputTileKernel kernel,
                                   OutputTileKernel pairKernel) {
    const OutputLayout layout = {positionStride, outW, outH * outW, lower, upper, finalLower, finalUpper};
    size_t blocks = (channels + lanes - 1) / lanes;
    for (size_t firstBlock = 0; firstBlock < blocks; firstBlock += 2) {
        size_t lastBlock = firstBlock + 2 < blocks ? firstBlock + 2 : blocks;
        for (size_t ty = 0; ty < tilesDown; ty++) {
            for (size_t tx = 0; tx < tilesAcross; tx++) {
                size_t t = ty * tilesAcross + tx, top = ty * side, left = tx * side;
                size_t rows = outH - top < side ? outH - top : side, columns = outW - left < side ? outW - left : side;
                if (pairKernel && lastBlock - firstBlock == 2) {
                    // Both blocks at once: `present` is the second block's count (the first is whole).
                    size_t first = firstBlock * lanes, second = first + lanes;
                    size_t present = channels - second < lanes ? channels - second : lanes;
                    size_t at = (first * outH + top) * outW + left;
                    pairKernel(&layout, m + t * tileStride + first, bias + first, present, rows, columns, output + at,
                               shortcut ? shortcut + at : NULL);
                    continue;
                }
                for (size_t block = firstBlock; block < lastBlock; block++) {
                    size_t first = block * lanes, present = channels - first < lanes ? channels - first : lanes;
                    size_t at = (first * outH + top) * outW + left;
                    kernel(&layout, m + t * tileStride + first, bias + first, present, rows, columns, output + at,
                           shortcut ? shortcut + at : NULL);
                }
            }
        }
    }
}

#if defined(__x86_64__)
static int has_avx2(void) { return __builtin_cpu_supports("avx2"); }
static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
#endif

void trawl_winograd_fill(const float *image, size_t channels, size_t height, size_t width, size_t top, size_t left,
                         float *blocked, size_t blocks, size_t blockedHeight, size_t blockedWidth) {
#if defined(__x86_64__)
    if (has_avx2()) {
        fill_avx2(image, channels, height, width, top, left, blocked, blocks, blockedHeight, blockedWidth);
        return;
    }
#endif
    trawl_winograd_fill_portable(image, channels, height, width, top, left, blocked, blocks, blockedHeight,
                                 blockedWidth);
}

void trawl_winograd_transform_input(size_t stride, const float *blocked, size_t blocks, size_t blockedHeight,
                                    size_t blockedWidth, size_t tilesDown, size_t tilesAcross, float *v,
                                    size_t tileStride, size_t positionStride) {
#if defined(__x86_64__)
    if (has_avx2()) {
        transform_input_tiles(blocked, blocks, blockedHeight, blockedWidth, tilesDown, tilesAcross, v, tileStride,
                              positionStride, stride == 1 ? input_tile_avx2 : input_tile_stride2_avx2,
                              stride == 1 && has_avx512() ? input_tile_pair_avx512 : NULL);
        return;
    }
#endif
    trawl_winograd_transform_input_portable(stride, blocked, blocks, blockedHeight, blockedWidth, tilesDown,
                                            tilesAcross, v, tileStride, positionStride);
}

void trawl_winograd_transform_input_portable(size_t stride, const float *blocked, size_t blocks, size_t blockedHeight,
                                             size_t blockedWidth, size_t tilesDown, size_t tilesAcross, float *v,
                                             size_t tileStride, size_t positionStride) {
    transform_input_tiles(blocked, blocks, blockedHeight, blockedWidth, tilesDown, tilesAcross, v, tileStride,
                          positionStride, stride == 1 ? input_tile_portable : input_tile_stride2_portable, NULL);
}

void trawl_winograd_transform_output(size_t stride, const float *m, size_t tileStride, size_t positionStride,
                                     size_t tilesDown, size_t tilesAcross, size_t channels, const float *bias,
                                     float lower, float upper, const float *shortcut, float finalLower,
                                     float finalUpper, float *output, size_t outH, size_t outW) {
#if defined(__x86_64__)
    if (has_avx2()) {
        transform_output_tiles(m, tileStride, positionStride, tilesDown, tilesAcross, channels, bias, lower, upper,
                               shortcut, finalLower, finalUpper, output, outH, outW, stride == 1 ? tile : tile2,
                               stride == 1 ? output_tile_avx2 : output_tile_stride2_avx2,
                               stride == 1 && has_avx512() ? output_tile_pair_avx512 : NULL);
        return;
    }
#endif
    trawl_winograd_transform_output_portable(stride, m, tileStride, positionStride, tilesDown, tilesAcross, channels,
                                             bias, lower, upper, shortcut, finalLower, finalUpper, output, outH, outW);
}

void trawl_winograd_transform_output_portable(size_t stride, const float *m, size_t tileStride,
                                              size_t positionStride, size_t tilesDown, size_t tilesAcross,
                                              size_t channels, const float *bias, float lower, float upper,
                                              const float *shortcut, float finalLower, float finalUpper,
                                              float *output, size_t outH, size_t outW) {
    transform_output_tiles(m, tileStride, positionStride, tilesDown, tilesAcross, channels, bias, lower, upper,
                           shortcut, finalLower, finalUpper, output, outH, outW, stride == 1 ? tile : tile2,
                           stride == 1 ? output_tile_portable : output_tile_stride2_portable, NULL);
}
