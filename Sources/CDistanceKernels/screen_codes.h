// Private to CDistanceKernels: the 8-bit codes that the screens (screened_nearest.c,
// coreset_lowering.c) estimate distances from, and their integer dot products.
#ifndef TRAWL_SCREEN_CODES_H
#define TRAWL_SCREEN_CODES_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/// Dimensions per 32-bit lane of a step: `_mm256_maddubs_epi16` multiplies byte pairs.
#define SCREEN_STEP_DIMS 4
/// Codes a panel holds per step: two vectors of eight 32-bit lanes.
#define SCREEN_PANEL_LANES 16
/// Stored rows' codes (bank rows, coreset points) lie in [−127, 127]; a panel's (queries,
/// centres) in [−63, 63], stored plus 64 as unsigned bytes, so that a byte pair's products sum
/// to at most 2 · 127 · 127 < 2¹⁵ (no saturation).
#define SCREEN_ROW_LEVELS 127
#define SCREEN_PANEL_LEVELS 63
#define SCREEN_PANEL_OFFSET 64
/// Integer sums up to 63 · 127 · 2048 < 2²⁴ convert to float exactly; below 32 dimensions the
/// float kernels are as fast (a tile's few steps do not pay for its estimates).
#define SCREEN_MIN_DIM 32
#define SCREEN_MAX_DIM 2048

/// `code` rounded to the nearest integer in [−levels, levels].
static inline int clamped_code(double value, float scale, int levels) {
    if (!(scale > 0)) return 0;
    double code = nearbyint(value / scale);
    return code > levels ? levels : code < -levels ? -levels : (int)code;
}

/// A row's codes: `centred ≈ scale · codes`, with `squared` = `‖centred‖²` and `residualSquared`
/// = `‖centred − scale · codes‖²`.
typedef struct {
    float scale;
    double squared, residualSquared;
} QuantizedRow;

/// `row − centre` (`dim` values, each exact in double; `centre` NULL: zero) into `centred`, and
/// its `codes` in [−levels, levels] at the scale that maps the largest magnitude to `levels`.
static inline QuantizedRow quantize_row(const float *row, const float *centre, size_t dim, int levels,
                                        double *centred, int *codes) {
    double largest = 0, squared = 0;
    for (size_t k = 0; k < dim; k++) {
        centred[k] = (double)row[k] - (centre ? centre[k] : 0);
        largest = fmax(largest, fabs(centred[k]));
        squared += centred[k] * centred[k];
    }
    QuantizedRow quantized = { (float)(largest / levels), squared, 0 };
    for (size_t k = 0; k < dim; k++) {
        codes[k] = clamped_code(centred[k], quantized.scale, levels);
        double residual = centred[k] - (double)quantized.scale * codes[k];
        quantized.residualSquared += residual * residual;
    }
    return quantized;
}

#if defined(__x86_64__)
#include <immintrin.h>

/// The integer dot products of a tile of `rows` stored rows (a constant where inlined) with a
/// panel, over `steps` steps: `tile` is `[steps][rows][4]` signed codes, `panel`
/// `[steps][16][4]` unsigned ones (code + 64). `low[j]` and `high[j]` start at `start[j]` (which
/// removes the panel's offset) and gain row `j`'s products with the panel's lanes 0–7 and 8–15.
__attribute__((target("avx2"), always_inline))
static inline void screen_dot_products(const int8_t *tile, const uint8_t *panel, size_t steps, int rows,
                                       const int32_t *start, __m256i *low, __m256i *high) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int j = 0; j < rows; j++) low[j] = high[j] = _mm256_set1_epi32(start[j]);
    for (size_t s = 0; s < steps; s++) {
        const uint8_t *step = panel + s * SCREEN_PANEL_LANES * SCREEN_STEP_DIMS;
        __m256i first = _mm256_loadu_si256((const __m256i *)step);
        __m256i second = _mm256_loadu_si256((const __m256i *)(step + 32));
        for (int j = 0; j < rows; j++) {
            int32_t four;
            memcpy(&four, tile + (s * rows + j) * SCREEN_STEP_DIMS, sizeof four);
            __m256i row = _mm256_set1_epi32(four);
            low[j] = _mm256_add_epi32(low[j], _mm256_madd_epi16(_mm256_maddubs_epi16(first, row), ones));
            high[j] = _mm256_add_epi32(high[j], _mm256_madd_epi16(_mm256_maddubs_epi16(second, row), ones));
        }
    }
}
#endif

#endif
