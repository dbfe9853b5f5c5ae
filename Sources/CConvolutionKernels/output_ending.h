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
// `trawl_end` does all of it for one output as ``TrawlOutputEnding`` describes it.
// Private to the C kernels (not under include/); static inline, so each kernel gets its own copy.
// No multiplication, so nothing here can be contracted into an FMA.

#include <stddef.h>

#include "gemm_kernels.h"

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

/// The ending of the output at row `row` (the bias's channel) and `offset` (the shortcut's):
/// `value + bias` (no addition without a bias), clamped, then with a shortcut `+ shortcut`,
/// clamped to the final bounds.
static inline float trawl_end(float value, const TrawlOutputEnding *ending, size_t row, size_t offset) {
    if (ending->bias) value += ending->bias[row];
    value = trawl_clamp(value, ending->lower, ending->upper);
    if (ending->shortcut) value = trawl_add_clamp(value, ending->shortcut[offset], ending->finalLower, ending->finalUpper);
    return value;
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

/// ``trawl_end`` of eight outputs of row `row` from `offset` on, same bits; with `whole` 0, the
/// shortcut is read only in the lanes of `mask`.
__attribute__((target("avx2"), always_inline))
static inline __m256 trawl_end_avx2(__m256 value, const TrawlOutputEnding *ending, size_t row, size_t offset, int whole,
                                    __m256i mask) {
    if (ending->bias) value = _mm256_add_ps(value, _mm256_set1_ps(ending->bias[row]));
    value = trawl_clamp_avx2(value, _mm256_set1_ps(ending->lower), _mm256_set1_ps(ending->upper));
    if (ending->shortcut) {
        const float *shortcut = ending->shortcut + offset;
        __m256 added = whole ? _mm256_loadu_ps(shortcut) : _mm256_maskload_ps(shortcut, mask);
        value = trawl_add_clamp_avx2(value, added, _mm256_set1_ps(ending->finalLower), _mm256_set1_ps(ending->finalUpper));
    }
    return value;
}

/// ``trawl_clamp`` of sixteen lanes, same bits (`vmaxps` and `vminps` treat NaN and zeros as
/// their 256-bit forms do).
__attribute__((target("avx512f"), always_inline))
static inline __m512 trawl_clamp_avx512(__m512 x, __m512 lower, __m512 upper) {
    return _mm512_min_ps(upper, _mm512_max_ps(lower, x));
}

/// ``trawl_add_clamp`` of sixteen lanes, same bits.
__attribute__((target("avx512f"), always_inline))
static inline __m512 trawl_add_clamp_avx512(__m512 x, __m512 addend, __m512 lower, __m512 upper) {
    return trawl_clamp_avx512(_mm512_add_ps(x, addend), lower, upper);
}

/// ``trawl_end`` of sixteen outputs of row `row` from `offset` on, same bits; the shortcut is
/// read only in the lanes of `mask`.
__attribute__((target("avx512f"), always_inline))
static inline __m512 trawl_end_avx512(__m512 value, const TrawlOutputEnding *ending, size_t row, size_t offset,
                                      __mmask16 mask) {
    if (ending->bias) value = _mm512_add_ps(value, _mm512_set1_ps(ending->bias[row]));
    value = trawl_clamp_avx512(value, _mm512_set1_ps(ending->lower), _mm512_set1_ps(ending->upper));
    if (ending->shortcut) {
        __m512 added = _mm512_maskz_loadu_ps(mask, ending->shortcut + offset);
        value = trawl_add_clamp_avx512(value, added, _mm512_set1_ps(ending->finalLower), _mm512_set1_ps(ending->finalUpper));
    }
    return value;
}
#endif

#endif
