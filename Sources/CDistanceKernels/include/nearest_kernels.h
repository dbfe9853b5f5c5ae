#ifndef TRAWL_NEAREST_KERNELS_H
#define TRAWL_NEAREST_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Queries per panel of the packed layout ``trawl_pack_query_panels`` writes.
#define TRAWL_QUERY_PANEL_ROWS 16

/// Every distance below between a query `q` and a bank row `m` (both `dim` floats) is
///
///     dot = fma(q[dim−1], m[dim−1], … fma(q[1], m[1], fma(q[0], m[0], 0)))
///     distance = max(0, fma(−2, dot, queryNorm) + bankNorm)
///
/// each fma and the addition rounded to float once, in that order, whatever the query's
/// panel, its lane in the panel, the bank row's place or the CPU path (AVX2+FMA or portable):
/// a query's distances, and so its neighbours, do not depend on the queries searched with it.

/// Copies row-major `rows` × `dim` `queries` into panels of TRAWL_QUERY_PANEL_ROWS queries,
/// each panel `[dim][TRAWL_QUERY_PANEL_ROWS]` (dimension-major), panels one after another;
/// lanes past `rows` in the last panel are zero. `panels` holds
/// ceil(rows / TRAWL_QUERY_PANEL_ROWS) · dim · TRAWL_QUERY_PANEL_ROWS floats.
void trawl_pack_query_panels(const float *queries, size_t rows, size_t dim, float *panels);

/// For every query of `panelCount` packed panels (`queryNorms`: one per lane, `[panelCount · 16]`),
/// the nearest of the `bankRows` row-major bank rows (`bank` `[bankRows][dim]`, `bankNorms`
/// `[bankRows]`): the first row with the least distance. Writes `nearestDistance` and
/// `nearestRow` (`[panelCount · 16]`; lanes past the queries hold meaningless values). With
/// `skipsOwn`, lane `r` (counting over all panels) never takes row `ownOffset + r` (a query's
/// own row when the bank searches itself); a query left without any row gets (+∞, −1).
/// `bankRows` < 2³¹.
void trawl_nearest_rows(const float *panels, size_t panelCount, const float *queryNorms, const float *bank,
                        size_t bankRows, size_t dim, const float *bankNorms, int skipsOwn, long ownOffset,
                        float *nearestDistance, int32_t *nearestRow);

/// The distances of one packed panel's queries (`queryNorms` `[16]`) to `bankRows` row-major
/// bank rows: `distances[j · 16 + l]` for row `j` and lane `l` (`[bankRows][16]`). With
/// `skipsOwn`, `distances[(ownOffset + l) · 16 + l]` is +∞ (lane `l`'s own row; `ownOffset`
/// may be negative, for a panel whose first lanes' own rows lie before `bank`).
void trawl_panel_distances(const float *panel, const float *queryNorms, const float *bank, size_t bankRows,
                           size_t dim, const float *bankNorms, int skipsOwn, long ownOffset, float *distances);

/// Bank rows per chunk that keep a chunk of `dim`-float rows in L2 while every panel of a block
/// of queries passes over it (what the search walks the bank in for ``trawl_panel_distances``).
size_t trawl_bank_chunk_rows(size_t dim);

/// ``trawl_nearest_rows`` and ``trawl_panel_distances`` without AVX2, for tests that check
/// both paths give the same bits (the entry points above take AVX2+FMA when the CPU has it).
void trawl_nearest_rows_portable(const float *panels, size_t panelCount, const float *queryNorms,
                                 const float *bank, size_t bankRows, size_t dim, const float *bankNorms,
                                 int skipsOwn, long ownOffset, float *nearestDistance, int32_t *nearestRow);
void trawl_panel_distances_portable(const float *panel, const float *queryNorms, const float *bank,
                                    size_t bankRows, size_t dim, const float *bankNorms, int skipsOwn,
                                    long ownOffset, float *distances);

#endif
