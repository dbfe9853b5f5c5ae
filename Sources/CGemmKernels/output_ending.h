#ifndef TRAWL_OUTPUT_ENDING_H
#define TRAWL_OUTPUT_ENDING_H

// What a convolution kernel does to each output as it writes it, with the bits of Trawl's
// Swift `Activation` and `ResidualEnding` (Sources/Tensors/Elementwise.swift): add the bias
// (+ 0 where the layer has none), clamp to the activation's `lower…upper` (±infinity where it
// has no bound: identity, ReLU = 0…inf, ReLU6 = 0…6); then, with a residual ending, add the
// shortcut and clamp to the ending activation's bounds. Both steps are one `add_clamp`.
// The clamp is `x < lower → lower`, then `x > upper → upper`: NaN passes through, −0 stays −0.
// Private to the C kernels (not under include/); static inline, so each kernel gets its own copy.

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// `x + addend` clamped to `lower…upper` as above.
static inline float trawl_add_clamp(float x, float addend, float lower, float upper) {
    float y = x + addend;
    y = y < lower ? lower : y;
    return y > upper ? upper : y;
}

#if defined(__x86_64__)
/// ``trawl_add_clamp`` of eight lanes, same bits: `max_ps(lower, y)` is `lower > y ? lower : y`
/// (y when either is NaN or both are zeros), `min_ps(upper, y)` is `upper < y ? upper : y`.
__attribute__((target("avx2"), always_inline))
static inline __m256 trawl_add_clamp_avx2(__m256 x, __m256 addend, __m256 lower, __m256 upper) {
    __m256 y = _mm256_add_ps(x, addend);
    return _mm256_min_ps(upper, _mm256_max_ps(lower, y));
}
#endif

#endif
