#ifndef TRAWL_OUTPUT_ENDING_H
#define TRAWL_OUTPUT_ENDING_H

// How a convolution's kernel ends each output as it stores it (``TrawlOutputEnding``), in a
// scalar and an AVX2 form with the same bits: `value + bias` (no addition without a bias),
// clamped to `lower…upper`, then, with a shortcut, `value + shortcut` clamped to
// `finalLower…finalUpper`. The clamp is Trawl's: below `lower` → `lower`, then above `upper` →
// `upper`, NaN passes through (`max_ps(lower, x)` then `min_ps(upper, x)`). No multiplication,
// so nothing here can be contracted into an FMA.

#include <stddef.h>

#include "gemm_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float trawl_clamp(float x, float lower, float upper) {
    x = lower > x ? lower : x;
    return upper < x ? upper : x;
}

/// The ending of the output at row `row` (the bias's channel) and `offset` (the shortcut's).
static inline float trawl_end(float value, const TrawlOutputEnding *ending, size_t row, size_t offset) {
    if (ending->bias) value += ending->bias[row];
    value = trawl_clamp(value, ending->lower, ending->upper);
    if (ending->shortcut) value = trawl_clamp(value + ending->shortcut[offset], ending->finalLower, ending->finalUpper);
    return value;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 trawl_clamp_avx2(__m256 x, float lower, float upper) {
    return _mm256_min_ps(_mm256_set1_ps(upper), _mm256_max_ps(_mm256_set1_ps(lower), x));
}

/// ``trawl_end`` of eight outputs of row `row` from `offset` on; with `whole` 0, the
/// shortcut is read only in the lanes of `mask`.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 trawl_end_avx2(__m256 value, const TrawlOutputEnding *ending, size_t row, size_t offset, int whole,
                                    __m256i mask) {
    if (ending->bias) value = _mm256_add_ps(value, _mm256_set1_ps(ending->bias[row]));
    value = trawl_clamp_avx2(value, ending->lower, ending->upper);
    if (ending->shortcut) {
        const float *shortcut = ending->shortcut + offset;
        __m256 added = whole ? _mm256_loadu_ps(shortcut) : _mm256_maskload_ps(shortcut, mask);
        value = trawl_clamp_avx2(_mm256_add_ps(value, added), ending->finalLower, ending->finalUpper);
    }
    return value;
}
#endif

#endif
