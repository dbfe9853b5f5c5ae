#ifndef TRAWL_SCREENED_NEAREST_H
#define TRAWL_SCREENED_NEAREST_H

#include <stddef.h>
#include <stdint.h>

/// A bank quantized to 8 bits per value, for exact 1-NN searches that screen the bank in integer
/// arithmetic (twice the products per cycle of float FMAs on AVX2) and compute float distances
/// only for the rows the screen cannot rule out. Immutable once made: searches may share it.
typedef struct TrawlScreenedBank TrawlScreenedBank;

/// Quantizes row-major `bank` (`[rows][dim]`, finite): each row centred on the bank's column
/// means and scaled to [−127, 127] by its own factor. NULL where the screen does not apply: the
/// CPU lacks AVX2+FMA, the bank has fewer than 1024 rows or fewer than 32 dimensions (the float
/// kernel is as fast there), more than 2048 (integer sums must stay exact in float), or a squared norm
/// overflows float. The bank's floats are not kept: searches pass them again.
TrawlScreenedBank *trawl_screened_bank_make(const float *bank, size_t rows, size_t dim);

void trawl_screened_bank_free(TrawlScreenedBank *screen);

/// For each of `rows` row-major `queries` (`[rows][dim]`, finite; `queryNorms` `[rows]`), the nearest
/// row of the bank `screen` was made from (`bank`, `bankNorms` as ``trawl_nearest_rows`` takes them):
/// bit for bit the distance and row ``trawl_nearest_rows`` finds, ties to the lower row.
///
/// How: a query quantized to 7 bits gets an integer dot product with every bank row; from it an
/// estimate of the distance within a proven bound (the quantization errors' norms by
/// Cauchy–Schwarz, plus float rounding of both the estimate and the exact kernel). Only rows
/// whose estimate lies within twice that bound of the query's least estimate can be nearest;
/// their distances are computed as ``trawl_nearest_rows`` computes them. A query with more such
/// rows than the screen keeps (a sixteenth of the bank) goes through ``trawl_nearest_rows`` whole;
/// returns how many did.
size_t trawl_screened_nearest_rows(const TrawlScreenedBank *screen, const float *queries, size_t rows,
                                   const float *queryNorms, const float *bank, const float *bankNorms,
                                   float *nearestDistance, int32_t *nearestRow);

#endif
