#ifndef TRAWL_DISTANCE_KERNELS_H
#define TRAWL_DISTANCE_KERNELS_H

#include <stddef.h>

// The greedy coreset's kernels; the thread that shares its rounds is in helper_thread.h.

/// Rows per tile of the packed layout ``trawl_pack_rows`` writes.
#define TRAWL_TILE_ROWS 8

/// The most centres ``trawl_lower_running_distances`` takes per call.
#define TRAWL_MAX_LOWERING_CENTRES 7

/// Copies row-major `rows` × `dim` `points` into panels of `panelRows` rows, each panel
/// `[dim][panelRows]` (dimension-major), panels one after another; rows past `rows` in the last
/// panel are zero. `panels` holds ceil(rows / panelRows) · dim · panelRows floats. (The layout
/// of the coreset's tiles and of the nearest-neighbour kernel's query panels.)
void trawl_pack_panels(const float *points, size_t rows, size_t dim, size_t panelRows, float *panels);

/// Copies row-major `rows` × `dim` `points` into tiles of TRAWL_TILE_ROWS rows, each tile
/// `[dim][TRAWL_TILE_ROWS]` (dimension-major), tiles one after another; rows past `rows`
/// in the last tile are zero. `tiles` holds ceil(rows / TRAWL_TILE_ROWS) · dim · TRAWL_TILE_ROWS floats.
void trawl_pack_rows(const float *points, size_t rows, size_t dim, float *tiles);

/// For each of `rows` points (packed by ``trawl_pack_rows`` from the first row of a tile)
/// and each of `count` (1 … TRAWL_MAX_LOWERING_CENTRES) centres (row-major `[count][dim]`):
/// `running[r] = min(running[r], max(0, (−2 · dot + norms[r]) + centreNorms[j]))`, where
/// `dot` is the fused multiply-add chain `fma(p[dim−1], c[dim−1], … fma(p[0], c[0], 0))`
/// in dimension order, each addition rounded to float. That is bit for bit what OpenBLAS
/// 0.3's single-threaded sgemm (alpha −2, beta 0) gives for fewer than eight columns, so
/// a running distance does not depend on which of the two computed it.
void trawl_lower_running_distances(const float *tiles, size_t rows, size_t dim,
                                   const float *centres, const float *centreNorms, size_t count,
                                   const float *norms, float *running);

/// Copies `count` centres (row-major `[count][dim]`) into blocks of eight, each `[dim][8]`
/// (dimension-major), blocks one after another, the last block's missing centres zero; and
/// their squared norms into `packedNorms`, +infinity past `count`. `packed` holds
/// ceil(count / 8) · 8 · dim floats, `packedNorms` ceil(count / 8) · 8.
void trawl_pack_centres(const float *centres, const float *centreNorms, size_t count, size_t dim,
                        float *packed, float *packedNorms);

/// For rows `first ..< end` of a product of `productRows` points (`dim` ≤ 320 dimensions, packed
/// by ``trawl_pack_rows`` into `tiles`; `tiles`, `norms` and `running` start at the product's
/// first row) and each of the `count` centres packed by ``trawl_pack_centres``:
/// `running[r] = min(running[r], max(0, (−2 · dot + norms[r]) + centreNorms[j]))`, each
/// addition rounded to float, with `dot` summed exactly as OpenBLAS 0.3.21's Haswell/Zen sgemm
/// sums that entry of the `[productRows, count]` product (alpha −2, single-threaded): one
/// multiply-add chain in dimension order, or for the entries its kernel splits, an even and
/// an odd chain added at the end (coreset_lowering.c says which). `first` and `end` are
/// multiples of 12 or `end` is `productRows`; the bits of a row do not depend on them.
void trawl_lower_running_in_blas_order(const float *tiles, size_t dim, size_t productRows, size_t first, size_t end,
                                       const float *packed, const float *packedNorms, size_t count,
                                       const float *norms, float *running);

/// ``trawl_lower_running_distances`` and ``trawl_lower_running_in_blas_order`` on the portable
/// path whatever the CPU (for tests: their bits must be the same).
void trawl_lower_running_distances_portable(const float *tiles, size_t rows, size_t dim,
                                            const float *centres, const float *centreNorms, size_t count,
                                            const float *norms, float *running);
void trawl_lower_running_in_blas_order_portable(const float *tiles, size_t dim, size_t productRows, size_t first,
                                                size_t end, const float *packed, const float *packedNorms,
                                                size_t count, const float *norms, float *running);

/// The coreset's points and centres quantized to 8 bits, for ``trawl_screened_lower_in_blas_order``.
typedef struct TrawlCoresetScreen TrawlCoresetScreen;

/// Quantizes row-major `points` (`[rows][dim]`, finite, as the lowering sees them), each row to
/// [−127, 127] by its own factor, with room for `capacity` centres. NULL where the screen does
/// not apply: the CPU lacks AVX2+FMA, `dim` is below 32 (the float kernels are as fast there) or
/// above 2048 (integer sums must stay exact in float), or a squared norm nears float's range.
TrawlCoresetScreen *trawl_coreset_screen_make(const float *points, size_t rows, size_t dim, size_t capacity);

void trawl_coreset_screen_free(TrawlCoresetScreen *screen);

/// Quantizes `centre` (`dim` floats) to [−63, 63] as centre `slot` (< capacity).
void trawl_coreset_screen_add_centre(TrawlCoresetScreen *screen, size_t slot, const float *centre);

/// Bytes of the scratch ``trawl_screened_lower_in_blas_order`` needs for `count` centres.
size_t trawl_coreset_screen_scratch_bytes(const TrawlCoresetScreen *screen, size_t count);

/// ``trawl_lower_running_in_blas_order`` bit for bit, for a product whose first row is point
/// `productStart` of `screen` and centres `firstCentre ..< firstCentre + count` of it (packed in
/// `packed` and `packedNorms` as there), faster: an 8-bit estimate of every distance, within a
/// proven bound, rules out the centres that cannot lower a row, and only the eight-centre blocks
/// where one might get float distances. `scratch` holds
/// ``trawl_coreset_screen_scratch_bytes`` bytes.
void trawl_screened_lower_in_blas_order(const TrawlCoresetScreen *screen, size_t productStart, const float *tiles,
                                        size_t dim, size_t productRows, size_t first, size_t end, size_t firstCentre,
                                        const float *packed, const float *packedNorms, size_t count,
                                        const float *norms, float *running, void *scratch);

#endif
