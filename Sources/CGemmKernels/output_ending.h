#ifndef TRAWL_OUTPUT_ENDING_H
#define TRAWL_OUTPUT_ENDING_H

// What a convolution kernel does to each output as it writes it, with the bits of Trawl's
// Swift `Activation` and `ResidualEnding` (Sources/Tensors/Elementwise.swift): clamp to the
// activation's `lower…upper` (±infinity where it has no bound: identity, ReLU = 0…inf,
// ReLU6 = 0…6), after adding the bias where the kernel adds one; then, with a residual ending,
// add the shortcut and clamp to the ending activation's bounds.
// The clamp is `x < lower → lower`, then `x > upper → upper`: NaN passes through, −0 stays −0
// (so a kernel whose sum already holds the bias clamps without adding a zero, which would turn
// −0 into +0).
// Private to the C kernels (not under include/); static inline, so each kernel gets its own copy.

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// `x` clamped to `lower…upper` as above.
static inline float trawl_clamp(float x, float lower, float upper) {
    if (x < lower) x = lower;
    if (x > upper) x = upper;
    return x;
}

/// `x + addend` clamped to `lower…upper` as above.
static inline float trawl_add_clamp(float x, float addend, float lower, float upper) {
    return trawl_clamp(x + addend, lower, upper);
}

#if defined(__x86_64__)
/// ``trawl_clamp`` of eight lanes, same bits: `max_ps(lower, x)` is `lower > x ? lower : x`
/// (x when either is NaN or both are zeros), `min_ps(upper, x)` is `upper < x ? upper : x`.
__attribute__((target("avx2"), always_inline))
static inline __m256 trawl_clamp_avx2(__m256 x, __m256 lower, __m256 upper) {
    return _mm256_min_ps(upper, _mm256_max_ps(lower, x));
}

/// ``trawl_add_clamp`` of eight lanes, same bits.
__attribute__((target("avx2"), always_inline))
static inline __m256 trawl_add_clamp_avx2(__m256 x, __m256 addend, __m256 lower, __m256 upper) {
    return trawl_clamp_avx2(_mm256_add_ps(x, addend), lower, upper);
}
#endif

#endif
