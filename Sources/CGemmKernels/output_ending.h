// Private to CGemmKernels: what a kernel does to each output as it writes it.
#ifndef TRAWL_OUTPUT_ENDING_H
#define TRAWL_OUTPUT_ENDING_H

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// `x` below `lower` becomes `lower`, then `x` above `upper` becomes `upper`; NaN passes
/// through (Swift's `clamp(_:lower:upper:)` in Sources/Tensors/Elementwise.swift, bit for bit:
/// −0 stays −0 at a bound of 0).
static inline float trawl_clamp(float x, float lower, float upper) {
    if (x < lower) x = lower;
    if (x > upper) x = upper;
    return x;
}

#if defined(__x86_64__)
/// ``trawl_clamp`` on eight lanes: `max(lower, x)` is `lower > x ? lower : x` (the second
/// operand where either is NaN), and `min(upper, x)` is `upper < x ? upper : x`.
__attribute__((target("avx2"), always_inline))
static inline __m256 trawl_clamp_avx2(__m256 x, __m256 lower, __m256 upper) {
    return _mm256_min_ps(upper, _mm256_max_ps(lower, x));
}
#endif

#endif
