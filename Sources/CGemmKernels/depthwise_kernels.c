#include "depthwise_kernels.h"

#include <string.h>

#include "output_ending.h"

// Every product is rounded, then added: the bits of the Swift SIMD loop this replaced, which
// has no fused multiply-add. Clang would otherwise fuse `a * b + c` in functions compiled for
// the `fma` target (none here is, and the intrinsics below multiply and add separately).
#pragma STDC FP_CONTRACT OFF

enum {
    group = TRAWL_DEPTHWISE_GROUP,
    /// Output rows of one register block.
    blockRows = 2,
    /// Groups of one register block: 2 × 4 sums, eight independent addition chains.
    blockGroups = 4,
};

/// First column of group `g` of a row: groups start at multiples of eight, the last at
/// `outW − 8` (overlapping its neighbour, whose outputs it recomputes bit for bit), so every
/// group lies inside its row; a row narrower than a group is one group from column 0.
static size_t group_start(size_t g, size_t outW) {
    size_t last = outW >= group ? outW - group : 0;
    return g * group < last ? g * group : last;
}

void trawl_depthwise_channel_portable(const TrawlDepthwiseChannel *channel, const float *padded,
                                      const float *weights, float bias, float *output) {
    for (size_t oh = 0; oh < channel->outH; oh++) {
        const float *row = padded + (ptrdiff_t)oh * channel->rowStep;
        for (size_t ow = 0; ow < channel->outW; ow++) {
            float sum = bias;
            for (size_t t = 0; t < channel->tapCount; t++) {
                float product = weights[t] * row[channel->taps[t] + (ptrdiff_t)ow];
                sum = sum + product;
            }
            output[oh * channel->outW + ow] = trawl_clamp(sum, channel->lower, channel->upper);
        }
    }
}

#if defined(__x86_64__)
/// `rows` (1 or 2) × `groups` (1 … 4) groups of outputs, rows `row` and `row + rowStep` of the
/// padded input (constants where inlined): per tap, one broadcast weight and one load per sum.
__attribute__((target("avx2"), always_inline))
static inline void block_avx2(int rows, int groups, const TrawlDepthwiseChannel *channel, const float *row,
                              const float *weights, float bias, const size_t *starts, float *line) {
    __m256 sum[blockRows][blockGroups];
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++) sum[r][g] = _mm256_set1_ps(bias);
    for (size_t t = 0; t < channel->tapCount; t++) {
        __m256 w = _mm256_broadcast_ss(weights + t);
        const float *tap = row + channel->taps[t];
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < groups; g++) {
                __m256 x = _mm256_loadu_ps(tap + r * channel->rowStep + starts[g]);
                sum[r][g] = _mm256_add_ps(sum[r][g], _mm256_mul_ps(w, x));
            }
    }
    const __m256 lower = _mm256_set1_ps(channel->lower), upper = _mm256_set1_ps(channel->upper);
    for (int r = 0; r < rows; r++) {
        float *destination = line + r * channel->outW;
        for (int g = 0; g < groups; g++) {
            __m256 value = trawl_clamp_avx2(sum[r][g], lower, upper);
            if (channel->outW >= group) {
                _mm256_storeu_ps(destination + starts[g], value);
            } else {
                float lanes[group];
                _mm256_storeu_ps(lanes, value);
                memcpy(destination, lanes, channel->outW * sizeof(float));
            }
        }
    }
}

__attribute__((target("avx2")))
static void channel_avx2(const TrawlDepthwiseChannel *channel, const float *padded, const float *weights,
                         float bias, float *output) {
    size_t groupCount = (channel->outW + group - 1) / group;
    for (size_t oh = 0; oh < channel->outH; oh += blockRows) {
        int rows = channel->outH - oh < blockRows ? (int)(channel->outH - oh) : blockRows;
        const float *row = padded + (ptrdiff_t)oh * channel->rowStep;
        float *line = output + oh * channel->outW;
        for (size_t first = 0; first < groupCount; first += blockGroups) {
            int groups = groupCount - first < blockGroups ? (int)(groupCount - first) : blockGroups;
            size_t starts[blockGroups];
            for (int g = 0; g < groups; g++) starts[g] = group_start(first + g, channel->outW);
#define TRAWL_BLOCK(R, G) \
    case G: block_avx2(R, G, channel, row, weights, bias, starts, line); break;
            if (rows == blockRows) {
                switch (groups) { TRAWL_BLOCK(2, 1) TRAWL_BLOCK(2, 2) TRAWL_BLOCK(2, 3) TRAWL_BLOCK(2, 4) }
            } else {
                switch (groups) { TRAWL_BLOCK(1, 1) TRAWL_BLOCK(1, 2) TRAWL_BLOCK(1, 3) TRAWL_BLOCK(1, 4) }
            }
#undef TRAWL_BLOCK
        }
    }
}
#endif

void trawl_depthwise_channel(const TrawlDepthwiseChannel *channel, const float *padded, const float *weights,
                             float bias, float *output) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        channel_avx2(channel, padded, weights, bias, output);
        return;
    }
#endif
    trawl_depthwise_channel_portable(channel, padded, weights, bias, output);
}
