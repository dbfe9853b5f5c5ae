#include "depthwise_kernels.h"

#include <string.h>

#include "output_ending.h"

// Every product is rounded, then added: the bits of the Swift SIMD loop this replaced, which
// has no fused multiply-add. Clang would otherwise fuse `a * b + c` in functions compiled for
// the `fma` target (none here is, and the intrinsics below multiply and add separately).
#pragma STDC FP_CONTRACT OFF

enum {
    /// Outputs of one SIMD group: a row is computed in groups of eight adjacent outputs.
    group = 8,
    /// Sums of one register block (rows × groups): eight independent addition chains keep both
    /// adders busy through the addition's latency.
    blockSums = 8,
    /// Groups of one register block, at most; as many rows as fill `blockSums` (rows of one or
    /// two groups, 14² and 7² layers, are summed four and eight rows at a time).
    blockGroups = 4,
};

// One channel is copied, zero-padded, into scratch as `stride` column phases (phase `p` holds
// padded columns `p`, `p + stride`, …, `rows` rows of `phaseWidth`), so every tap of a group of
// eight adjacent outputs is one contiguous load at an offset computed once per layer.

/// Padded rows read, per phase.
static size_t padded_rows(const TrawlDepthwiseLayer *layer) {
    return (layer->outH - 1) * layer->stride + (layer->kernelHeight - 1) * layer->dilation + 1;
}

/// Columns of a phase row: the output row rounded up to whole groups, plus the kernel's reach.
static size_t phase_width(const TrawlDepthwiseLayer *layer) {
    return (layer->outW + group - 1) / group * group + (layer->kernelWidth - 1) * layer->dilation / layer->stride;
}

size_t trawl_depthwise_scratch_count(const TrawlDepthwiseLayer *layer) {
    return layer->stride * padded_rows(layer) * phase_width(layer);
}

/// Where a phase row's columns come from: column `x` of phase `p` is input column
/// `x · stride + p − left`, inside the image for `x` in `lower ..< upper` (the same for every row).
typedef struct {
    ptrdiff_t offset;
    size_t lower;
    size_t upper;
} Phase;

/// What every channel of a layer shares: taps, phases and sizes.
typedef struct {
    const TrawlDepthwiseLayer *layer;
    size_t rows;
    size_t phaseWidth;
    /// Floats between the read positions of output rows `oh` and `oh + 1`.
    size_t rowStep;
    size_t tapCount;
    /// Offset of each tap, row-major over the kernel, from the read position of output (0, 0).
    const ptrdiff_t *taps;
    const Phase *phases;
} Geometry;

static void layer_geometry(const TrawlDepthwiseLayer *layer, ptrdiff_t *taps, Phase *phases, Geometry *geometry) {
    size_t s = layer->stride, d = layer->dilation, rows = padded_rows(layer), width = phase_width(layer);
    for (size_t t = 0; t < layer->kernelHeight * layer->kernelWidth; t++) {
        size_t ki = t / layer->kernelWidth, column = t % layer->kernelWidth * d;
        taps[t] = (ptrdiff_t)(((column % s) * rows + ki * d) * width + column / s);
    }
    for (size_t p = 0; p < s; p++) {
        ptrdiff_t first = (ptrdiff_t)layer->left - (ptrdiff_t)p;
        size_t lower = first <= 0 ? 0 : ((size_t)first + s - 1) / s;
        if (lower > width) lower = width;
        ptrdiff_t last = (ptrdiff_t)layer->width - 1 + first;  // column x is inside while x · s ≤ last
        size_t upper = lower;
        if (last >= 0) {
            upper = (size_t)last / s + 1;
            if (upper > width) upper = width;
            if (upper < lower) upper = lower;
        }
        phases[p] = (Phase){-first, lower, upper};
    }
    *geometry = (Geometry){layer, rows, width, s * width, layer->kernelHeight * layer->kernelWidth, taps, phases};
}

/// First column of group `g` of a row: groups start at multiples of eight, the last at
/// `outW − 8` (overlapping its neighbour, whose outputs it recomputes bit for bit), so every
/// group lies inside its row; a row narrower than a group is one group from column 0.
static size_t group_start(size_t g, size_t outW) {
    size_t last = outW >= group ? outW - group : 0;
    return g * group < last ? g * group : last;
}

/// `line[x] = source[x · stride]` for `x` in `lower ..< upper`, zero for the rest of the
/// phase row; `source` may point before the row it reads.
static void copy_row_portable(const float *source, size_t stride, float *line, size_t width, size_t lower,
                              size_t upper) {
    for (size_t x = 0; x < lower; x++) line[x] = 0;
    for (size_t x = lower; x < upper; x++) line[x] = source[x * stride];
    for (size_t x = upper; x < width; x++) line[x] = 0;
}

static void channel_portable(const Geometry *geometry, const float *weights, float bias, const float *padded,
                             float *output) {
    const TrawlDepthwiseLayer *layer = geometry->layer;
    for (size_t oh = 0; oh < layer->outH; oh++) {
        const float *row = padded + oh * geometry->rowStep;
        for (size_t ow = 0; ow < layer->outW; ow++) {
            float sum = bias;
            for (size_t t = 0; t < geometry->tapCount; t++) {
                float product = weights[t] * row[geometry->taps[t] + (ptrdiff_t)ow];
                sum = sum + product;
            }
            output[oh * layer->outW + ow] = trawl_clamp(sum, layer->lower, layer->upper);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void copy_row_avx2(const float *source, size_t stride, float *line, size_t width, size_t lower, size_t upper) {
    size_t x = 0;
    for (; x < lower; x++) line[x] = 0;
    if (stride == 1) {
        for (; x + group <= upper; x += group) _mm256_storeu_ps(line + x, _mm256_loadu_ps(source + x));
    } else if (stride == 2) {
        // Eight outputs from the even floats of sixteen, while all sixteen lie inside the row.
        for (; x + group < upper; x += group) {
            __m256 a = _mm256_loadu_ps(source + 2 * x), b = _mm256_loadu_ps(source + 2 * x + group);
            __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
            _mm256_storeu_ps(line + x, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), 0xD8)));
        }
    }
    for (; x < upper; x++) line[x] = source[x * stride];
    for (; x + group <= width; x += group) _mm256_storeu_ps(line + x, _mm256_setzero_ps());
    for (; x < width; x++) line[x] = 0;
}

/// `rows` × `groups` (at most ``blockSums``, ``blockGroups`` groups) groups of outputs from
/// padded rows `row`, `row + rowStep`, … (constants where inlined): per tap, one broadcast
/// weight and one load per sum.
__attribute__((target("avx2"), always_inline))
static inline void block_avx2(int rows, int groups, const Geometry *geometry, const float *row,
                              const float *weights, float bias, const size_t *starts, float *line) {
    const TrawlDepthwiseLayer *layer = geometry->layer;
    __m256 sum[blockSums][blockGroups];
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++) sum[r][g] = _mm256_set1_ps(bias);
    for (size_t t = 0; t < geometry->tapCount; t++) {
        __m256 w = _mm256_broadcast_ss(weights + t);
        const float *tap = row + geometry->taps[t];
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < groups; g++) {
                __m256 x = _mm256_loadu_ps(tap + r * geometry->rowStep + starts[g]);
                sum[r][g] = _mm256_add_ps(sum[r][g], _mm256_mul_ps(w, x));
            }
    }
    const __m256 lower = _mm256_set1_ps(layer->lower), upper = _mm256_set1_ps(layer->upper);
    for (int r = 0; r < rows; r++) {
        float *destination = line + r * layer->outW;
        for (int g = 0; g < groups; g++) {
            __m256 value = trawl_clamp_avx2(sum[r][g], lower, upper);
            if (layer->outW >= group) {
                _mm256_storeu_ps(destination + starts[g], value);
            } else {
                float lanes[group];
                _mm256_storeu_ps(lanes, value);
                memcpy(destination, lanes, layer->outW * sizeof(float));
            }
        }
    }
}

__attribute__((target("avx2")))
static void channel_avx2(const Geometry *geometry, const float *weights, float bias, const float *padded,
                         float *output) {
    const TrawlDepthwiseLayer *layer = geometry->layer;
    size_t groupCount = (layer->outW + group - 1) / group;
    size_t wholeGroups = groupCount < blockGroups ? groupCount : blockGroups;
    size_t blockRows = blockSums / wholeGroups;
    for (size_t oh = 0; oh < layer->outH; oh += blockRows) {
        int rows = layer->outH - oh < blockRows ? (int)(layer->outH - oh) : (int)blockRows;
        const float *row = padded + oh * geometry->rowStep;
        float *line = output + oh * layer->outW;
        for (size_t first = 0; first < groupCount; first += blockGroups) {
            int groups = groupCount - first < blockGroups ? (int)(groupCount - first) : blockGroups;
            size_t starts[blockGroups];
            for (int g = 0; g < groups; g++) starts[g] = group_start(first + g, layer->outW);
            // Every shape of at most eight sums, rows × groups, a constant in its own copy.
            switch (rows * 8 + groups) {
#define TRAWL_BLOCK(R, G) \
    case R * 8 + G: block_avx2(R, G, geometry, row, weights, bias, starts, line); break;
                TRAWL_BLOCK(1, 1) TRAWL_BLOCK(2, 1) TRAWL_BLOCK(3, 1) TRAWL_BLOCK(4, 1)
                TRAWL_BLOCK(5, 1) TRAWL_BLOCK(6, 1) TRAWL_BLOCK(7, 1) TRAWL_BLOCK(8, 1)
                TRAWL_BLOCK(1, 2) TRAWL_BLOCK(2, 2) TRAWL_BLOCK(3, 2) TRAWL_BLOCK(4, 2)
                TRAWL_BLOCK(1, 3) TRAWL_BLOCK(2, 3)
                TRAWL_BLOCK(1, 4) TRAWL_BLOCK(2, 4)
#undef TRAWL_BLOCK
            }
        }
    }
}
#endif

typedef void (*CopyRow)(const float *source, size_t stride, float *line, size_t width, size_t lower, size_t upper);
typedef void (*ChannelKernel)(const Geometry *geometry, const float *weights, float bias, const float *padded,
                              float *output);

static void depthwise(const TrawlDepthwiseLayer *layer, size_t channels, const float *input, const float *weights,
                      const float *bias, float *scratch, float *output, CopyRow copy_row, ChannelKernel kernel) {
    size_t tapCount = layer->kernelHeight * layer->kernelWidth;
    ptrdiff_t taps[tapCount];
    Phase phases[layer->stride];
    Geometry geometry;
    layer_geometry(layer, taps, phases, &geometry);
    size_t plane = layer->height * layer->width;
    for (size_t c = 0; c < channels; c++) {
        const float *source = input + c * plane;
        for (size_t y = 0; y < geometry.rows; y++) {
            ptrdiff_t iy = (ptrdiff_t)y - (ptrdiff_t)layer->top;
            int inside = iy >= 0 && iy < (ptrdiff_t)layer->height;
            for (size_t p = 0; p < layer->stride; p++) {
                float *line = scratch + (p * geometry.rows + y) * geometry.phaseWidth;
                const Phase phase = phases[p];
                if (inside) {
                    copy_row(source + iy * (ptrdiff_t)layer->width + phase.offset, layer->stride, line,
                             geometry.phaseWidth, phase.lower, phase.upper);
                } else {
                    copy_row(source, layer->stride, line, geometry.phaseWidth, 0, 0);
                }
            }
        }
        kernel(&geometry, weights + c * tapCount, bias ? bias[c] : 0, scratch, output + c * layer->outH * layer->outW);
    }
}

void trawl_depthwise_portable(const TrawlDepthwiseLayer *layer, size_t channels, const float *input,
                              const float *weights, const float *bias, float *scratch, float *output) {
    depthwise(layer, channels, input, weights, bias, scratch, output, copy_row_portable, channel_portable);
}

void trawl_depthwise(const TrawlDepthwiseLayer *layer, size_t channels, const float *input, const float *weights,
                     const float *bias, float *scratch, float *output) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        depthwise(layer, channels, input, weights, bias, scratch, output, copy_row_avx2, channel_avx2);
        return;
    }
#endif
    trawl_depthwise_portable(layer, channels, input, weights, bias, scratch, output);
}
