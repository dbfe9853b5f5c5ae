#ifndef TRAWL_DEPTHWISE_KERNELS_H
#define TRAWL_DEPTHWISE_KERNELS_H

#include <stddef.h>

/// Outputs of one SIMD group: a depthwise row is computed in groups of this many adjacent
/// outputs, so the padded rows it reads must be ``TRAWL_DEPTHWISE_GROUP``-rounded wide
/// (``trawl_depthwise_channel``).
#define TRAWL_DEPTHWISE_GROUP 8

/// The geometry of one channel of a depthwise convolution, read from padded rows laid out
/// by the caller (Sources/Tensors/DepthwiseConvolution.swift).
typedef struct {
    /// Offset in floats of each tap, row-major over the kernel, from the read position of
    /// output (0, 0); `tapCount` of them.
    const ptrdiff_t *taps;
    size_t tapCount;
    /// Floats between the read positions of output rows `oh` and `oh + 1`.
    ptrdiff_t rowStep;
    size_t outH;
    size_t outW;
    /// The activation as a clamp: below `lower` becomes `lower`, then above `upper` becomes
    /// `upper` (±INFINITY where it has no bound; NaN passes through).
    float lower;
    float upper;
} TrawlDepthwiseChannel;

/// One channel's `[outH, outW]` outputs at `output` (row-major) from `padded`, `weights`
/// `[tapCount]` (row-major over the kernel) and `bias`:
/// `output[oh][ow] = clamp(((bias + w[0] · x[0]) + w[1] · x[1]) + …)`, where
/// `x[t] = padded[oh · rowStep + taps[t] + ow]`, each product rounded, then each sum (no fused
/// multiply-add), in tap order. So an output's bits depend on its own inputs only, never on
/// the row's width or the CPU (AVX2 when the CPU has it, else a portable loop with the same
/// bits). Reads columns up to `outW` rounded up to whole groups of ``TRAWL_DEPTHWISE_GROUP``
/// from each tap's position (a row narrower than a group is read as one group).
void trawl_depthwise_channel(const TrawlDepthwiseChannel *channel, const float *padded, const float *weights,
                             float bias, float *output);

/// ``trawl_depthwise_channel`` on the portable path whatever the CPU (for tests: its bits
/// must be the same).
void trawl_depthwise_channel_portable(const TrawlDepthwiseChannel *channel, const float *padded,
                                      const float *weights, float bias, float *output);

#endif
