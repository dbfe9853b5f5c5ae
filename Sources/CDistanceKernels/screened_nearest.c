#include "screened_nearest.h"
#include "nearest_kernels.h"
#include "transpose8.h"
#include "screen_codes.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The exact distances below are the ones nearest_kernels.h defines: nothing may be contracted.
#pragma STDC FP_CONTRACT OFF

/// Bank rows per register tile: 6 rows × 2 vectors of 8 queries = 12 integer accumulators.
#define TILE_ROWS 6
/// Queries per panel, as ``trawl_nearest_rows`` packs them.
#define LANES TRAWL_QUERY_PANEL_ROWS
_Static_assert(LANES == SCREEN_PANEL_LANES, "a panel of queries is a panel of codes");
/// Below this many bank rows a search is too short for quantizing its queries to pay.
#define MIN_ROWS 1024
/// Candidate rows a query's list starts with room for; it grows to a sixteenth of the bank (at
/// least this), past which the query is searched by ``trawl_nearest_rows``.
#define CANDIDATES 32
/// Bytes of bank codes a pass over a panel walks: L2-sized, like the float kernel's chunks.
#define CHUNK_BYTES (192 * 1024)

struct TrawlScreenedBank {
    size_t rows, dim, steps, tiles;
    /// `[dim]`: the bank's column means, which every row and query is centred on.
    float *centre;
    /// `[tiles][steps][6][4]`: row `r`'s code of dimension `k` at tile `r / 6`, step `k / 4`,
    /// row `r % 6`, place `k % 4`; zero past `dim` and `rows`.
    int8_t *codes;
    /// `[tiles · TILE_ROWS]`: the factor of row `r`'s codes (`centred ≈ scale · codes`).
    float *scale;
    /// `[tiles · TILE_ROWS]`: `‖row − centre‖²`, +∞ past `rows` (so never a candidate).
    float *centredNorm;
    /// `[tiles · TILE_ROWS]`: `−64 · Σ codes`, which removes the query codes' offset from a sum.
    int32_t *sumStart;
    /// Largest over the rows of `‖centred − scale · codes‖`, `‖centred‖`, `‖row‖²`.
    double maxErrorNorm, maxCentredNorm, maxSquared;
};

void trawl_screened_bank_free(TrawlScreenedBank *screen) {
    if (!screen) return;
    free(screen->centre);
    free(screen->codes);
    free(screen->scale);
    free(screen->centredNorm);
    free(screen->sumStart);
    free(screen);
}

TrawlScreenedBank *trawl_screened_bank_make(const float *bank, size_t rows, size_t dim) {
#if defined(__x86_64__)
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return NULL;
    if (rows < MIN_ROWS || dim < SCREEN_MIN_DIM || dim > SCREEN_MAX_DIM) return NULL;
    TrawlScreenedBank *screen = calloc(1, sizeof *screen);
    screen->rows = rows;
    screen->dim = dim;
    screen->steps = (dim + SCREEN_STEP_DIMS - 1) / SCREEN_STEP_DIMS;
    screen->tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    size_t padded = screen->tiles * TILE_ROWS, rowBytes = screen->steps * SCREEN_STEP_DIMS;
    screen->centre = malloc(dim * sizeof(float));
    screen->codes = calloc(screen->tiles * TILE_ROWS * rowBytes, 1);
    screen->scale = calloc(padded, sizeof(float));
    screen->centredNorm = malloc(padded * sizeof(float));
    screen->sumStart = calloc(padded, sizeof(int32_t));
    double *centred = calloc(dim, sizeof(double));
    int *codes = malloc(dim * sizeof(int));
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < dim; k++) centred[k] += bank[r * dim + k];
    for (size_t k = 0; k < dim; k++) screen->centre[k] = (float)(centred[k] / (double)rows);
    int finite = 1;
    for (size_t r = 0; r < rows; r++) {
        QuantizedRow row = quantize_row(bank + r * dim, screen->centre, dim, SCREEN_ROW_LEVELS, centred, codes);
        int8_t *tile = screen->codes + r / TILE_ROWS * TILE_ROWS * rowBytes;
        double raw = 0;
        int32_t sum = 0;
        for (size_t k = 0; k < dim; k++) {
            size_t step = k / SCREEN_STEP_DIMS, place = k % SCREEN_STEP_DIMS;
            tile[(step * TILE_ROWS + r % TILE_ROWS) * SCREEN_STEP_DIMS + place] = (int8_t)codes[k];
            sum += codes[k];
            raw += (double)bank[r * dim + k] * bank[r * dim + k];
        }
        screen->scale[r] = row.scale;
        screen->centredNorm[r] = (float)row.squared;
        screen->sumStart[r] = -SCREEN_PANEL_OFFSET * sum;
        screen->maxErrorNorm = fmax(screen->maxErrorNorm, sqrt(row.residualSquared));
        screen->maxCentredNorm = fmax(screen->maxCentredNorm, sqrt(row.squared));
        screen->maxSquared = fmax(screen->maxSquared, raw);
        finite &= row.squared < FLT_MAX / 16 && raw < FLT_MAX / 16;
    }
    for (size_t r = rows; r < padded; r++) screen->centredNorm[r] = INFINITY;
    free(centred);
    free(codes);
    if (!finite) {
        trawl_screened_bank_free(screen);
        return NULL;
    }
    return screen;
#else
    (void)bank; (void)rows; (void)dim;
    return NULL;
#endif
}

#if defined(__x86_64__)
/// The quantized queries of one call: panels of LANES queries, `[steps][LANES][4]` bytes each
/// (code + 64; 64, a zero, past `dim` and past the last query), and per query the factor that
/// turns an integer sum into a key and the width of its candidates' window.
typedef struct {
    size_t count;
    uint8_t *codes;
    /// `[count · LANES]`: −2 · the query's code factor.
    float *keyFactor;
    /// `[count · LANES]`: twice the bound on |estimate − exact kernel distance|.
    float *window;
} QueryCodes;

/// Quantizes `rows` queries against `screen`. A row's key for bank row `b` is
/// `‖b − centre‖² − 2 · (query factor · bank factor) · integer sum`, and the query's estimate of
/// its distance to `b` is `‖q − centre‖² + key`. In real numbers, the estimate's error is at most
/// `2 (‖q̃‖ · ‖e_b‖ + ‖e_q‖ · ‖b − centre‖)` (Cauchy–Schwarz, with `q̃` the quantized query and
/// `e` the quantization residuals); the float kernel's distance is within `γ_{dim+2} · 3 (‖q‖² +
/// ‖b‖²)` of the exact one (a dot product of `dim` fmas, the norms' sums, two more roundings),
/// and the estimate's own few roundings are far below that. The bound used adds
/// `(dim + 8) · 2⁻²¹` times every squared norm involved — more than twice those rounding terms —
/// and scales the whole by 1 + 2⁻²⁰ against its own rounding.
static QueryCodes quantize_queries(const TrawlScreenedBank *screen, const float *queries, size_t rows,
                                   const float *queryNorms) {
    size_t dim = screen->dim, steps = screen->steps;
    QueryCodes codes = { (rows + LANES - 1) / LANES, NULL, NULL, NULL };
    size_t lanes = codes.count * LANES;
    codes.codes = malloc(codes.count * steps * LANES * SCREEN_STEP_DIMS);
    memset(codes.codes, SCREEN_PANEL_OFFSET, codes.count * steps * LANES * SCREEN_STEP_DIMS);
    codes.keyFactor = calloc(lanes, sizeof(float));
    codes.window = calloc(lanes, sizeof(float));
    double *centred = malloc(dim * sizeof(double));
    int *rowCodes = malloc(dim * sizeof(int));
    const double bankError = screen->maxErrorNorm, bankNorm = screen->maxCentredNorm;
    for (size_t i = 0; i < rows; i++) {
        QuantizedRow query = quantize_row(queries + i * dim, screen->centre, dim, SCREEN_PANEL_LEVELS, centred,
                                          rowCodes);
        uint8_t *panel = codes.codes + i / LANES * steps * LANES * SCREEN_STEP_DIMS;
        double codeSquared = 0;
        for (size_t k = 0; k < dim; k++) {
            size_t step = k / SCREEN_STEP_DIMS, place = k % SCREEN_STEP_DIMS;
            panel[(step * LANES + i % LANES) * SCREEN_STEP_DIMS + place] = (uint8_t)(rowCodes[k] + SCREEN_PANEL_OFFSET);
            codeSquared += (double)rowCodes[k] * rowCodes[k];
        }
        double quantizedNorm = query.scale * sqrt(codeSquared), errorNorm = sqrt(query.residualSquared);
        double estimateError = 2 * (quantizedNorm * bankError + errorNorm * bankNorm);
        double magnitudes = (double)queryNorms[i] + screen->maxSquared + query.squared + bankNorm * bankNorm
            + (quantizedNorm + errorNorm) * (quantizedNorm + errorNorm) + (bankNorm + bankError) * (bankNorm + bankError);
        double rounding = (double)(dim + 8) * ldexp(magnitudes, -21);
        codes.keyFactor[i] = -2.0f * query.scale;
        codes.window[i] = (float)(2 * (estimateError + rounding) * (1 + ldexp(1, -20)));
    }
    free(centred);
    free(rowCodes);
    return codes;
}

/// One query's candidate rows, in increasing order, with their keys; `count` −1 once more than
/// `limit` rows would have to be kept (the query is then searched by the float kernel).
typedef struct {
    int count, capacity, limit;
    int32_t *rows;
    float *keys;
} Candidates;

/// Keeps `row` (key `key`) for a query whose window now ends at `windowEnd`: when the list is
/// full, first drops the rows that fell out of the window, then grows it.
static void keep_candidate(Candidates *candidates, int32_t row, float key, float windowEnd) {
    if (candidates->count == candidates->capacity) {
        int kept = 0;
        for (int c = 0; c < candidates->count; c++)
            if (candidates->keys[c] <= windowEnd) {
                candidates->rows[kept] = candidates->rows[c];
                candidates->keys[kept++] = candidates->keys[c];
            }
        candidates->count = kept;
        if (kept > candidates->capacity / 2) {
            if (candidates->capacity >= candidates->limit) {
                candidates->count = -1;
                return;
            }
            // The first CANDIDATES places are the caller's; larger lists are the list's own.
            int32_t *rows = malloc((size_t)candidates->capacity * 2 * sizeof(int32_t));
            float *keys = malloc((size_t)candidates->capacity * 2 * sizeof(float));
            memcpy(rows, candidates->rows, (size_t)kept * sizeof(int32_t));
            memcpy(keys, candidates->keys, (size_t)kept * sizeof(float));
            if (candidates->capacity > CANDIDATES) {
                free(candidates->rows);
                free(candidates->keys);
            }
            candidates->rows = rows;
            candidates->keys = keys;
            candidates->capacity *= 2;
        }
    }
    candidates->rows[candidates->count] = row;
    candidates->keys[candidates->count++] = key;
}

/// The end of each lane's window: its least key so far plus its width, at most FLT_MAX (so that
/// padding rows, whose key is +∞, never fall inside).
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 window_end(__m256 leastKey, __m256 width) {
    return _mm256_min_ps(_mm256_add_ps(leastKey, width), _mm256_set1_ps(FLT_MAX));
}

/// One panel against one tile (rows `tile · 6 …`): the integer sums, their keys, and for each
/// lane whose window a key falls in, that row kept and the lane's least key lowered. Returns the
/// number of lanes whose list overflowed here.
__attribute__((target("avx2,fma"), always_inline))
static inline int screen_tile(const TrawlScreenedBank *screen, const uint8_t *panel, size_t tile,
                               const __m256 keyFactor[2], const __m256 width[2], __m256 leastKey[2],
                               __m256 limit[2], Candidates *candidates) {
    const size_t steps = screen->steps, first = tile * TILE_ROWS;
    const int8_t *codes = screen->codes + first * steps * SCREEN_STEP_DIMS;
    __m256i sum[2][TILE_ROWS];
    screen_dot_products(codes, panel, steps, TILE_ROWS, screen->sumStart + first, sum[0], sum[1]);
    __m256 key[2][TILE_ROWS];
    int inside = 0;
    for (int h = 0; h < 2; h++) {
        __m256 least = _mm256_set1_ps(INFINITY);
        for (int j = 0; j < TILE_ROWS; j++) {
            __m256 factor = _mm256_mul_ps(keyFactor[h], _mm256_set1_ps(screen->scale[first + j]));
            key[h][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[h][j]), factor,
                                        _mm256_set1_ps(screen->centredNorm[first + j]));
            least = _mm256_min_ps(key[h][j], least);
        }
        inside |= _mm256_movemask_ps(_mm256_cmp_ps(least, limit[h], _CMP_LE_OQ));
    }
    // Once a query's first rows are past, most tiles hold no row inside any lane's window.
    if (!inside) return 0;
    int overflowed = 0;
    for (int j = 0; j < TILE_ROWS; j++)
        for (int h = 0; h < 2; h++) {
            int lanes = _mm256_movemask_ps(_mm256_cmp_ps(key[h][j], limit[h], _CMP_LE_OQ));
            if (!lanes) continue;
            leastKey[h] = _mm256_min_ps(key[h][j], leastKey[h]);
            limit[h] = window_end(leastKey[h], width[h]);
            float keys[8], limits[8];
            _mm256_storeu_ps(keys, key[h][j]);
            _mm256_storeu_ps(limits, limit[h]);
            for (; lanes; lanes &= lanes - 1) {
                int l = __builtin_ctz(lanes);
                Candidates *lane = candidates + 8 * h + l;
                if (lane->count < 0) continue;
                keep_candidate(lane, (int32_t)(first + j), keys[l], limits[l]);
                overflowed += lane->count < 0;
            }
        }
    return overflowed;
}

/// ``trawl_nearest_rows``'s distances of `query` to the eight bank rows `rows` (row-major
/// `[…][dim]`), one per lane: the same fma chain in dimension order and the same roundings,
/// the rows' values brought into lanes eight dimensions at a time by a transpose.
__attribute__((target("avx2,fma")))
static __m256 exact_distances(const float *query, const float *bank, const int32_t rows[8], size_t dim,
                              float queryNorm, const float *bankNorms) {
    __m256 dot = _mm256_setzero_ps();
    size_t k0 = 0;
    for (; k0 + 8 <= dim; k0 += 8) {
        __m256 r[8], columns[8];
        for (int c = 0; c < 8; c++) r[c] = _mm256_loadu_ps(bank + (size_t)rows[c] * dim + k0);
        trawl_transpose8(r, columns);
        for (int k = 0; k < 8; k++) dot = _mm256_fmadd_ps(_mm256_set1_ps(query[k0 + k]), columns[k], dot);
    }
    for (size_t k = k0; k < dim; k++) {
        float column[8];
        for (int c = 0; c < 8; c++) column[c] = bank[(size_t)rows[c] * dim + k];
        dot = _mm256_fmadd_ps(_mm256_set1_ps(query[k]), _mm256_loadu_ps(column), dot);
    }
    float norms[8];
    for (int c = 0; c < 8; c++) norms[c] = bankNorms[rows[c]];
    __m256 distance = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(-2.0f), dot, _mm256_set1_ps(queryNorm)),
                                    _mm256_loadu_ps(norms));
    return _mm256_max_ps(distance, _mm256_setzero_ps());       // distance > 0 ? distance : 0
}

/// The nearest of a query's candidates whose key is at most `windowEnd` (the first on ties:
/// candidates are in increasing row order), through ``exact_distances``.
__attribute__((target("avx2,fma")))
static void nearest_candidate(const Candidates *kept, float windowEnd, const float *query, const float *bank,
                              size_t dim, float queryNorm, const float *bankNorms, float *nearestDistance,
                              int32_t *nearestRow) {
    int32_t rows[8];
    int filled = 0;
    float best = INFINITY;
    int32_t nearest = -1;
    for (int c = 0; c <= kept->count; c++) {
        if (c < kept->count) {
            if (!(kept->keys[c] <= windowEnd)) continue;
            rows[filled++] = kept->rows[c];
            if (filled < 8) continue;
        }
        if (filled == 0) break;
        for (int f = filled; f < 8; f++) rows[f] = rows[filled - 1];
        float distances[8];
        _mm256_storeu_ps(distances, exact_distances(query, bank, rows, dim, queryNorm, bankNorms));
        for (int f = 0; f < filled; f++)
            if (distances[f] < best) {
                best = distances[f];
                nearest = rows[f];
            }
        filled = 0;
    }
    *nearestDistance = best;
    *nearestRow = nearest;
}

__attribute__((target("avx2,fma")))
static size_t screened_nearest_avx2(const TrawlScreenedBank *screen, const float *queries, size_t rows,
                                  const float *queryNorms, const float *bank, const float *bankNorms,
                                  float *nearestDistance, int32_t *nearestRow) {
    const size_t dim = screen->dim, steps = screen->steps;
    QueryCodes codes = quantize_queries(screen, queries, rows, queryNorms);
    const size_t lanes = codes.count * LANES;
    Candidates *candidates = malloc(lanes * sizeof(Candidates));
    float *leastKeys = malloc(lanes * sizeof(float));
    const int largest = screen->rows / 16 > CANDIDATES ? (int)(screen->rows / 16) : CANDIDATES;
    int32_t *firstRows = malloc(lanes * CANDIDATES * sizeof(int32_t));
    float *firstKeys = malloc(lanes * CANDIDATES * sizeof(float));
    for (size_t i = 0; i < lanes; i++) {
        // Lanes past the last query keep nothing (count −1).
        candidates[i] = (Candidates){ i < rows ? 0 : -1, CANDIDATES, largest, firstRows + i * CANDIDATES,
                                      firstKeys + i * CANDIDATES };
        leastKeys[i] = FLT_MAX;
    }
    size_t chunk = CHUNK_BYTES / (steps * SCREEN_STEP_DIMS * TILE_ROWS);
    if (chunk == 0) chunk = 1;
    for (size_t t0 = 0; t0 < screen->tiles; t0 += chunk) {
        size_t t1 = t0 + chunk < screen->tiles ? t0 + chunk : screen->tiles;
        for (size_t p = 0; p < codes.count; p++) {
            const uint8_t *panel = codes.codes + p * steps * LANES * SCREEN_STEP_DIMS;
            const size_t lane0 = p * LANES;
            // A panel whose every query already kept too many rows (so goes to the float kernel) is done.
            int screening = 0;
            for (size_t l = 0; l < LANES; l++) screening += candidates[lane0 + l].count >= 0;
            const __m256 keyFactor[2] = { _mm256_loadu_ps(codes.keyFactor + lane0), _mm256_loadu_ps(codes.keyFactor + lane0 + 8) };
            const __m256 width[2] = { _mm256_loadu_ps(codes.window + lane0), _mm256_loadu_ps(codes.window + lane0 + 8) };
            __m256 leastKey[2] = { _mm256_loadu_ps(leastKeys + lane0), _mm256_loadu_ps(leastKeys + lane0 + 8) };
            __m256 limit[2] = { window_end(leastKey[0], width[0]), window_end(leastKey[1], width[1]) };
            for (size_t t = t0; t < t1 && screening > 0; t++)
                screening -= screen_tile(screen, panel, t, keyFactor, width, leastKey, limit, candidates + lane0);
            _mm256_storeu_ps(leastKeys + lane0, leastKey[0]);
            _mm256_storeu_ps(leastKeys + lane0 + 8, leastKey[1]);
        }
    }
    // Exact distances for the rows left inside each window; the rest go through the float kernel.
    size_t *overflowing = malloc(rows * sizeof(size_t)), overflowCount = 0;
    for (size_t i = 0; i < rows; i++) {
        const Candidates *kept = candidates + i;
        if (kept->count < 0) {
            overflowing[overflowCount++] = i;
            continue;
        }
        nearest_candidate(kept, fminf(leastKeys[i] + codes.window[i], FLT_MAX), queries + i * dim, bank, dim,
                          queryNorms[i], bankNorms, nearestDistance + i, nearestRow + i);
    }
    if (overflowCount > 0) {
        size_t panels = (overflowCount + LANES - 1) / LANES;
        float *gathered = malloc(overflowCount * dim * sizeof(float));
        float *packed = malloc(panels * LANES * dim * sizeof(float));
        float *norms = calloc(panels * LANES, sizeof(float)), *distances = malloc(panels * LANES * sizeof(float));
        int32_t *found = malloc(panels * LANES * sizeof(int32_t));
        for (size_t o = 0; o < overflowCount; o++) {
            memcpy(gathered + o * dim, queries + overflowing[o] * dim, dim * sizeof(float));
            norms[o] = queryNorms[overflowing[o]];
        }
        trawl_pack_query_panels(gathered, overflowCount, dim, packed);
        trawl_nearest_rows(packed, panels, norms, bank, screen->rows, dim, bankNorms, 0, 0, distances, found);
        for (size_t o = 0; o < overflowCount; o++) {
            nearestDistance[overflowing[o]] = distances[o];
            nearestRow[overflowing[o]] = found[o];
        }
        free(gathered);
        free(packed);
        free(norms);
        free(distances);
        free(found);
    }
    free(overflowing);
    for (size_t i = 0; i < lanes; i++)
        if (candidates[i].capacity > CANDIDATES) {
            free(candidates[i].rows);
            free(candidates[i].keys);
        }
    free(firstRows);
    free(firstKeys);
    free(candidates);
    free(leastKeys);
    free(codes.codes);
    free(codes.keyFactor);
    free(codes.window);
    return overflowCount;
}
#endif

size_t trawl_screened_nearest_rows(const TrawlScreenedBank *screen, const float *queries, size_t rows,
                                   const float *queryNorms, const float *bank, const float *bankNorms,
                                   float *nearestDistance, int32_t *nearestRow) {
#if defined(__x86_64__)
    return screened_nearest_avx2(screen, queries, rows, queryNorms, bank, bankNorms, nearestDistance, nearestRow);
#else
    (void)screen; (void)queries; (void)rows; (void)queryNorms; (void)bank; (void)bankNorms;
    (void)nearestDistance; (void)nearestRow;
    return 0;
#endif
}
