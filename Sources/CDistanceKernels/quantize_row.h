// Private to CDistanceKernels: how the 8-bit screens (screened_nearest.c, coreset_lowering.c)
// quantize a row.
#ifndef TRAWL_QUANTIZE_ROW_H
#define TRAWL_QUANTIZE_ROW_H
#include <math.h>
#include <stddef.h>

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

#endif
