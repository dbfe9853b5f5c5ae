#ifndef TRAWL_DEPTHWISE_KERNELS_H
#define TRAWL_DEPTHWISE_KERNELS_H

#include <stddef.h>

/// A depthwise convolution (channel `c` of the output reads channel `c` of the input only,
/// through its own `kernelHeight × kernelWidth` weights), PyTorch `Conv2d` semantics with
/// zero padding; the output size is the caller's (Sources/Tensors/DepthwiseConvolution.swift).
typedef struct {
    /// Input plane, in pixels.
    size_t height;
    size_t width;
    size_t kernelHeight;
    size_t kernelWidth;
    size_t stride;
    size_t dilation;
    /// Zero padding above and left of the input, in pixels (below and right follow from the output size).
    size_t top;
    size_t left;
    /// Output plane, in pixels.
    size_t outH;
    size_t outW;
    /// The activation as a clamp: below `lower` becomes `lower`, then above `upper` becomes
    /// `upper` (±INFINITY where it has no bound; NaN passes through).
    float lower;
    float upper;
} TrawlDepthwiseLayer;

/// Floats of scratch ``trawl_depthwise`` needs (one channel's zero-padded input).
size_t trawl_depthwise_scratch_count(const TrawlDepthwiseLayer *layer);

/// One image: `input` `[channels, height, width]` → `output` `[channels, outH, outW]`, with
/// `weights` `[channels, kernelHeight, kernelWidth]` and `bias` `[channels]` (NULL: none).
///
/// Every output is summed in the order bias (0 when none), then the taps row by row over the
/// kernel, padding included (each product rounded, then added: no fused multiply-add), then
/// clamped: `clamp((((bias + w₀ · x₀) + w₁ · x₁) + …))`. So an output's bits depend on its own
/// inputs only, never on the image's size, the output's position or the CPU (AVX2 when the CPU
/// has it, else a portable loop with the same bits). `scratch` holds
/// ``trawl_depthwise_scratch_count`` floats (their values do not matter).
void trawl_depthwise(const TrawlDepthwiseLayer *layer, size_t channels, const float *input, const float *weights,
                     const float *bias, float *scratch, float *output);

/// ``trawl_depthwise`` on the portable path whatever the CPU (for tests: its bits must be the same).
void trawl_depthwise_portable(const TrawlDepthwiseLayer *layer, size_t channels, const float *input,
                              const float *weights, const float *bias, float *scratch, float *output);

#endif
