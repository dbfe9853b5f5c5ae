#include "nearest_kernels.h"
#include "distance_kernels.h"
#include "transpose8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Every fma and addition below is the one the header defines: nothing may be contracted.
#pragma STDC FP_CONTRACT OFF

/// Bank rows per register tile: 6 rows × 2 vectors of 8 queries = 12 accumulators.
#define TILE_ROWS 6

/// Bytes of bank rows one pass over a panel's queries walks: L2-sized, so each row is read
/// from memory once per block of query panels and then from L2.
#define CHUNK_BYTES (192 * 1024)

void trawl_pack_query_panels(const float *queries, size_t rows, size_t dim, float *panels) {
    trawl_pack_panels(queries, rows, dim, TRAWL_QUERY_PANEL_ROWS, panels);
}

/// A multiple of TILE_ROWS near CHUNK_BYTES.
size_t trawl_bank_chunk_rows(size_t dim) {
    size_t rows = CHUNK_BYTES / (dim * sizeof(float)) / TILE_ROWS * TILE_ROWS;
    return rows < TILE_ROWS ? TILE_ROWS : rows;
}

/// The distance the header defines, from a finished dot product.
static float distance_from_dot(float dot, float queryNorm, float bankNorm) {
    float distance = fmaf(-2.0f, dot, queryNorm) + bankNorm;
    return distance > 0 ? distance : 0;
}

/// Lane `l`'s distance to `row` (`dim` floats) in a packed panel.
static float lane_distance(const float *panel, size_t l, const float *row, size_t dim, float queryNorm,
                           float bankNorm) {
    float dot = 0;
    for (size_t k = 0; k < dim; k++) dot = fmaf(panel[k * TRAWL_QUERY_PANEL_ROWS + l], row[k], dot);
    return distance_from_dot(dot, queryNorm, bankNorm);
}

void trawl_nearest_rows_portable(const float *panels, size_t panelCount, const float *queryNorms,
                                 const float *bank, size_t bankRows, size_t dim, const float *bankNorms,
                                 int skipsOwn, long ownOffset, float *nearestDistance, int32_t *nearestRow) {
    for (size_t p = 0; p < panelCount; p++) {
        const float *panel = panels + p * dim * TRAWL_QUERY_PANEL_ROWS;
        for (size_t l = 0; l < TRAWL_QUERY_PANEL_ROWS; l++) {
            size_t lane = p * TRAWL_QUERY_PANEL_ROWS + l;
            float best = INFINITY;
            int32_t row = -1;
            for (size_t j = 0; j < bankRows; j++) {
                if (skipsOwn && (long)j == ownOffset + (long)lane) continue;
                float distance = lane_distance(panel, l, bank + j * dim, dim, queryNorms[lane], bankNorms[j]);
                if (distance < best) { best = distance; row = (int32_t)j; }
            }
            nearestDistance[lane] = best;
            nearestRow[lane] = row;
        }
    }
}

void trawl_panel_distances_portable(const float *panel, const float *queryNorms, const float *bank,
                                    size_t bankRows, size_t dim, const float *bankNorms, int skipsOwn,
                                    long ownOffset, float *distances) {
    for (size_t j = 0; j < bankRows; j++)
        for (size_t l = 0; l < TRAWL_QUERY_PANEL_ROWS; l++)
            distances[j * TRAWL_QUERY_PANEL_ROWS + l] = skipsOwn && (long)j == ownOffset + (long)l
                ? INFINITY : lane_distance(panel, l, bank + j * dim, dim, queryNorms[l], bankNorms[j]);
}

#if defined(__x86_64__)
/// `dot[h][j]`, lane `l`: the fma chain of query `8h + l` of `panel` with bank row `j` of the tile
/// (`rows`: dimension `k` of row `j` at `rows[j · rowStride + k · dimStride]`, so row-major rows
/// or a packed `[dim][TILE_ROWS]` tile), dimension by dimension: the same roundings as
/// ``lane_distance``'s chain, twelve chains in flight.
__attribute__((target("avx2,fma"), always_inline))
static inline void tile_dots(const float *panel, const float *rows, size_t rowStride, size_t dimStride, size_t dim,
                             __m256 dot[2][TILE_ROWS]) {
    for (int j = 0; j < TILE_ROWS; j++) dot[0][j] = dot[1][j] = _mm256_setzero_ps();
#pragma unroll 2
    for (size_t k = 0; k < dim; k++) {
        __m256 low = _mm256_loadu_ps(panel + k * TRAWL_QUERY_PANEL_ROWS);
        __m256 high = _mm256_loadu_ps(panel + k * TRAWL_QUERY_PANEL_ROWS + 8);
        for (int j = 0; j < TILE_ROWS; j++) {
            __m256 m = _mm256_broadcast_ss(rows + j * rowStride + k * dimStride);
            dot[0][j] = _mm256_fmadd_ps(low, m, dot[0][j]);
            dot[1][j] = _mm256_fmadd_ps(high, m, dot[1][j]);
        }
    }
}

/// ``distance_from_dot`` for eight lanes; lanes set in `own` get +∞.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 distances_from_dots(__m256 dot, __m256 queryNorm, float bankNorm, __m256 own) {
    __m256 distance = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(-2.0f), dot, queryNorm), _mm256_set1_ps(bankNorm));
    distance = _mm256_max_ps(distance, _mm256_setzero_ps());       // distance > 0 ? distance : 0
    return _mm256_blendv_ps(distance, _mm256_set1_ps(INFINITY), own);
}

/// Lanes (of half `h` of a panel) whose own row is tile row `j`: `ownFirst` is lane 0's own row
/// counted from the tile's first row.
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 own_lanes(long ownFirst, int h, int j) {
    long lane = (long)j - ownFirst - 8 * h;
    if (lane < 0 || lane >= 8) return _mm256_setzero_ps();
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                  _mm256_set1_epi32((int)lane)));
}

/// The bank's tail: fewer than TILE_ROWS rows copied into a zero-padded tile whose missing rows
/// have norm +∞ (never nearer than any real row, +∞ as a distance).
typedef struct {
    float *rows;
    float norms[TILE_ROWS];
} Tail;

static Tail tail_tile(const float *bank, size_t bankRows, size_t dim, const float *bankNorms) {
    size_t first = bankRows / TILE_ROWS * TILE_ROWS;
    Tail tail = { calloc(TILE_ROWS * dim, sizeof(float)), { 0 } };
    for (size_t j = 0; j < TILE_ROWS; j++) {
        if (first + j < bankRows) memcpy(tail.rows + j * dim, bank + (first + j) * dim, dim * sizeof(float));
        tail.norms[j] = first + j < bankRows ? bankNorms[first + j] : INFINITY;
    }
    return tail;
}

/// One panel against the tile of rows `j0 …` (`tile`, packed by ``pack_tiles``; `norms`): updates
/// the running nearest distance and row of its sixteen lanes. Rows arrive in increasing order and
/// a row replaces the nearest only when strictly nearer, so ties keep the lower row. `checksOwn` is a constant
/// at each call, so the tiles without a lane's own row carry no masking.
__attribute__((target("avx2,fma"), always_inline))
static inline void nearest_tile(const float *panel, const float *tile, const float *norms, size_t dim, size_t j0,
                                long ownFirst, const int checksOwn, const __m256 queryNorm[2], __m256 best[2],
                                __m256i nearest[2]) {
    __m256 dot[2][TILE_ROWS];
    tile_dots(panel, tile, 1, TILE_ROWS, dim, dot);
    __m256 distance[2][TILE_ROWS];
    int nearerAny = 0;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        __m256 least = _mm256_set1_ps(INFINITY);
#pragma unroll
        for (int j = 0; j < TILE_ROWS; j++) {
            __m256 own = checksOwn ? own_lanes(ownFirst, h, j) : _mm256_setzero_ps();
            distance[h][j] = distances_from_dots(dot[h][j], queryNorm[h], norms[j], own);
            least = _mm256_min_ps(distance[h][j], least);
        }
        nearerAny |= _mm256_movemask_ps(_mm256_cmp_ps(least, best[h], _CMP_LT_OQ));
    }
    // Most tiles, once the first rows are past, bring no lane a nearer row: one comparison of
    // the tile's least distances tells, and the row-by-row updates below would change nothing.
    if (!nearerAny) return;
#pragma unroll
    for (int j = 0; j < TILE_ROWS; j++) {
        __m256 row = _mm256_castsi256_ps(_mm256_set1_epi32((int)(j0 + j)));
#pragma unroll
        for (int h = 0; h < 2; h++) {
            __m256 nearer = _mm256_cmp_ps(distance[h][j], best[h], _CMP_LT_OQ);
            best[h] = _mm256_min_ps(distance[h][j], best[h]);
            nearest[h] = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(nearest[h]), row, nearer));
        }
    }
}

/// Copies bank rows `first …` into `tiles` TILE_ROWS at a time, each tile `[dim][TILE_ROWS]`
/// (dimension-major, as the broadcasts of ``tile_dots`` read them), `count` rows in all
/// (a multiple of TILE_ROWS). Writes up to 2 floats past the last tile.
__attribute__((target("avx2,fma")))
static void pack_tiles(const float *bank, size_t first, size_t count, size_t dim, float *tiles) {
    for (size_t t = 0; t < count; t += TILE_ROWS) {
        const float *rows = bank + (first + t) * dim;
        float *tile = tiles + t * dim;
        size_t k0 = 0;
        // Eight dimensions of the six rows at a time: an 8 × 8 transpose (rows 6 and 7 zero)
        // whose columns are stored TILE_ROWS floats apart, each store's last two floats
        // overwritten by the next.
        for (; k0 + 8 <= dim; k0 += 8) {
            __m256 r[8], columns[8];
            for (int j = 0; j < 8; j++) r[j] = j < TILE_ROWS ? _mm256_loadu_ps(rows + j * dim + k0) : _mm256_setzero_ps();
            trawl_transpose8(r, columns);
            for (int c = 0; c < 8; c++) _mm256_storeu_ps(tile + (k0 + c) * TILE_ROWS, columns[c]);
        }
        for (size_t k = k0; k < dim; k++)
            for (size_t j = 0; j < TILE_ROWS; j++) tile[k * TILE_ROWS + j] = rows[j * dim + k];
    }
}

__attribute__((target("avx2,fma")))
static void nearest_rows_avx2(const float *panels, size_t panelCount, const float *queryNorms, const float *bank,
                              size_t bankRows, size_t dim, const float *bankNorms, int skipsOwn,
                              long ownOffset, float *nearestDistance, int32_t *nearestRow) {
    const size_t fullRows = bankRows / TILE_ROWS * TILE_ROWS, chunk = trawl_bank_chunk_rows(dim);
    Tail tail = tail_tile(bank, bankRows, dim, bankNorms);
    float *tiles = malloc(((chunk + TILE_ROWS) * dim + 2) * sizeof(float));   // a chunk and the tail's tile
    for (size_t i = 0; i < panelCount * TRAWL_QUERY_PANEL_ROWS; i++) {
        nearestDistance[i] = INFINITY;
        nearestRow[i] = -1;
    }
    for (size_t c0 = 0; c0 < bankRows; c0 += chunk) {
        size_t c1 = c0 + chunk < fullRows ? c0 + chunk : fullRows;
        size_t fullInChunk = c1 > c0 ? c1 - c0 : 0;
        int hasTail = c0 + chunk >= bankRows && fullRows < bankRows;
        // The chunk's rows packed once for all the panels' passes, the tail's tile after them.
        pack_tiles(bank, c0, fullInChunk, dim, tiles);
        if (hasTail) pack_tiles(tail.rows, 0, TILE_ROWS, dim, tiles + fullInChunk * dim);
        // The next chunk, fetched a few cache lines per tile over all the panels' passes, so that
        // packing it reads L2 rather than wait for memory at every line.
        const char *next = (const char *)(bank + (c0 + chunk < bankRows ? c0 + chunk : bankRows) * dim);
        const char *nextEnd = (const char *)(bank + (c0 + 2 * chunk < bankRows ? c0 + 2 * chunk : bankRows) * dim);
        size_t passes = panelCount * (fullInChunk / TILE_ROWS), lines = (size_t)(nextEnd - next) / 64 + 1;
        size_t linesPerTile = passes == 0 ? 0 : (lines + passes - 1) / passes;
        for (size_t p = 0; p < panelCount; p++) {
            const float *panel = panels + p * dim * TRAWL_QUERY_PANEL_ROWS;
            float *distanceOut = nearestDistance + p * TRAWL_QUERY_PANEL_ROWS;
            int32_t *rowOut = nearestRow + p * TRAWL_QUERY_PANEL_ROWS;
            const __m256 queryNorm[2] = { _mm256_loadu_ps(queryNorms + p * TRAWL_QUERY_PANEL_ROWS),
                                          _mm256_loadu_ps(queryNorms + p * TRAWL_QUERY_PANEL_ROWS + 8) };
            __m256 best[2] = { _mm256_loadu_ps(distanceOut), _mm256_loadu_ps(distanceOut + 8) };
            __m256i nearest[2] = { _mm256_loadu_si256((const __m256i *)rowOut),
                                   _mm256_loadu_si256((const __m256i *)(rowOut + 8)) };
            // Lane 0's own row; a tile holds a lane's own row when it meets [own, own + 16).
            long own = ownOffset + (long)(p * TRAWL_QUERY_PANEL_ROWS);
            for (size_t j0 = c0; j0 < c1; j0 += TILE_ROWS) {
                const float *tile = tiles + (j0 - c0) * dim;
                for (size_t l = 0; l < linesPerTile && next < nextEnd; l++, next += 64) _mm_prefetch(next, _MM_HINT_T0);
                if (skipsOwn && own < (long)(j0 + TILE_ROWS) && own + TRAWL_QUERY_PANEL_ROWS > (long)j0)
                    nearest_tile(panel, tile, bankNorms + j0, dim, j0, own - (long)j0, 1, queryNorm, best, nearest);
                else
                    nearest_tile(panel, tile, bankNorms + j0, dim, j0, 0, 0, queryNorm, best, nearest);
            }
            if (hasTail)
                nearest_tile(panel, tiles + fullInChunk * dim, tail.norms, dim, fullRows, own - (long)fullRows,
                             skipsOwn, queryNorm, best, nearest);
            _mm256_storeu_ps(distanceOut, best[0]);
            _mm256_storeu_ps(distanceOut + 8, best[1]);
            _mm256_storeu_si256((__m256i *)rowOut, nearest[0]);
            _mm256_storeu_si256((__m256i *)(rowOut + 8), nearest[1]);
        }
    }
    free(tiles);
    free(tail.rows);
}

/// Writes one tile's distances (`count` ≤ TILE_ROWS real rows) to `distances` (`[count][16]`).
__attribute__((target("avx2,fma"), always_inline))
static inline void distance_tile(const float *panel, const float *rows, size_t stride, const float *norms,
                                 size_t count, size_t dim, long ownFirst, int checksOwn,
                                 const __m256 queryNorm[2], float *distances) {
    __m256 dot[2][TILE_ROWS];
    tile_dots(panel, rows, stride, 1, dim, dot);
    for (size_t j = 0; j < count; j++)
        for (int h = 0; h < 2; h++) {
            __m256 own = checksOwn ? own_lanes(ownFirst, h, (int)j) : _mm256_setzero_ps();
            _mm256_storeu_ps(distances + j * TRAWL_QUERY_PANEL_ROWS + 8 * h,
                             distances_from_dots(dot[h][j], queryNorm[h], norms[j], own));
        }
}

__attribute__((target("avx2,fma")))
static void panel_distances_avx2(const float *panel, const float *queryNorms, const float *bank, size_t bankRows,
                                 size_t dim, const float *bankNorms, int skipsOwn, long ownOffset,
                                 float *distances) {
    const size_t fullRows = bankRows / TILE_ROWS * TILE_ROWS;
    const __m256 queryNorm[2] = { _mm256_loadu_ps(queryNorms), _mm256_loadu_ps(queryNorms + 8) };
    for (size_t j0 = 0; j0 < fullRows; j0 += TILE_ROWS) {
        int checksOwn = skipsOwn && ownOffset < (long)(j0 + TILE_ROWS)
            && ownOffset + TRAWL_QUERY_PANEL_ROWS > (long)j0;
        distance_tile(panel, bank + j0 * dim, dim, bankNorms + j0, TILE_ROWS, dim, ownOffset - (long)j0,
                      checksOwn, queryNorm, distances + j0 * TRAWL_QUERY_PANEL_ROWS);
    }
    if (fullRows < bankRows) {
        Tail tail = tail_tile(bank, bankRows, dim, bankNorms);
        distance_tile(panel, tail.rows, dim, tail.norms, bankRows - fullRows, dim, ownOffset - (long)fullRows,
                      skipsOwn, queryNorm, distances + fullRows * TRAWL_QUERY_PANEL_ROWS);
        free(tail.rows);
    }
}

static int has_avx2_fma(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void trawl_nearest_rows(const float *panels, size_t panelCount, const float *queryNorms, const float *bank,
                        size_t bankRows, size_t dim, const float *bankNorms, int skipsOwn, long ownOffset,
                        float *nearestDistance, int32_t *nearestRow) {
#if defined(__x86_64__)
    if (has_avx2_fma()) {
        nearest_rows_avx2(panels, panelCount, queryNorms, bank, bankRows, dim, bankNorms, skipsOwn, ownOffset,
                          nearestDistance, nearestRow);
        return;
    }
#endif
    trawl_nearest_rows_portable(panels, panelCount, queryNorms, bank, bankRows, dim, bankNorms, skipsOwn,
                                ownOffset, nearestDistance, nearestRow);
}

void trawl_panel_distances(const float *panel, const float *queryNorms, const float *bank, size_t bankRows,
                           size_t dim, const float *bankNorms, int skipsOwn, long ownOffset, float *distances) {
#if defined(__x86_64__)
    if (has_avx2_fma()) {
        panel_distances_avx2(panel, queryNorms, bank, bankRows, dim, bankNorms, skipsOwn, ownOffset, distances);
        return;
    }
#endif
    trawl_panel_distances_portable(panel, queryNorms, bank, bankRows, dim, bankNorms, skipsOwn, ownOffset,
                                   distances);
}
