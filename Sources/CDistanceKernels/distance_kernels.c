#include "distance_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Every product, sum and scaling below is rounded on its own: a contracted multiply-add
// would change the last bit of a distance.
#pragma STDC FP_CONTRACT OFF

void trawl_pack_panels(const float *points, size_t rows, size_t dim, size_t panelRows, float *panels) {
    size_t panelCount = (rows + panelRows - 1) / panelRows;
    for (size_t p = 0; p < panelCount; p++) {
        float *panel = panels + p * dim * panelRows;
        for (size_t l = 0; l < panelRows; l++) {
            size_t r = p * panelRows + l;
            for (size_t k = 0; k < dim; k++) panel[k * panelRows + l] = r < rows ? points[r * dim + k] : 0;
        }
    }
}

void trawl_pack_rows(const float *points, size_t rows, size_t dim, float *tiles) {
    trawl_pack_panels(points, rows, dim, TRAWL_TILE_ROWS, tiles);
}

/// One row's lowered running distance, the reference every vector path must equal.
static float lowered(float current, float dot, float norm, float centreNorm) {
    float scaled = -2.0f * dot;
    float sum = scaled + norm;
    float distance = sum + centreNorm;
    if (distance < 0) distance = 0;
    return distance < current ? distance : current;
}

static void lower_portable(const float *tiles, size_t rows, size_t dim, const float *centres,
                           const float *centreNorms, size_t count, const float *norms, float *running) {
    for (size_t r = 0; r < rows; r++) {
        const float *tile = tiles + (r / TRAWL_TILE_ROWS) * dim * TRAWL_TILE_ROWS + r % TRAWL_TILE_ROWS;
        float current = running[r];
        for (size_t j = 0; j < count; j++) {
            float dot = 0;
            for (size_t k = 0; k < dim; k++) dot = fmaf(tile[k * TRAWL_TILE_ROWS], centres[j * dim + k], dot);
            current = lowered(current, dot, norms[r], centreNorms[j]);
        }
        running[r] = current;
    }
}

#if defined(__x86_64__)
/// `group` tiles of eight rows at a time, one accumulator per tile and centre: lane l of
/// `dot[g][j]` is the chain of row l of tile g with centre j, the same sequence of roundings
/// as ``lower_portable``. Several tiles at once keep enough independent chains in flight
/// to hide the multiply-add latency; `group` and `count` are constants where it is inlined.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_tiles_avx2(const float *tiles, size_t group, size_t dim, const float *centres,
                                    const float *centreNorms, size_t count, const float *norms,
                                    float *running) {
    enum { maxGroup = 8 };
    const __m256 minusTwo = _mm256_set1_ps(-2.0f), zero = _mm256_setzero_ps();
    __m256 dot[maxGroup][TRAWL_MAX_LOWERING_CENTRES];
    for (size_t g = 0; g < group; g++)
        for (size_t j = 0; j < count; j++) dot[g][j] = zero;
    const size_t tileSize = dim * TRAWL_TILE_ROWS;
    for (size_t k = 0; k < dim; k++) {
        for (size_t g = 0; g < group; g++) {
            __m256 p = _mm256_loadu_ps(tiles + g * tileSize + k * TRAWL_TILE_ROWS);
            for (size_t j = 0; j < count; j++)
                dot[g][j] = _mm256_fmadd_ps(p, _mm256_broadcast_ss(centres + j * dim + k), dot[g][j]);
        }
    }
    for (size_t g = 0; g < group; g++) {
        size_t r0 = g * TRAWL_TILE_ROWS;
        __m256 norm = _mm256_loadu_ps(norms + r0), current = _mm256_loadu_ps(running + r0);
        for (size_t j = 0; j < count; j++) {
            __m256 sum = _mm256_add_ps(_mm256_mul_ps(minusTwo, dot[g][j]), norm);
            __m256 distance = _mm256_max_ps(_mm256_add_ps(sum, _mm256_broadcast_ss(centreNorms + j)), zero);
            current = _mm256_min_ps(distance, current);   // on a tie both are the same value
        }
        _mm256_storeu_ps(running + r0, current);
    }
}

/// All full tiles of `rows`, `group` at a time, then one at a time; the last partial tile portably.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_avx2(const float *tiles, size_t rows, size_t dim, const float *centres,
                              const float *centreNorms, size_t count, size_t group, const float *norms,
                              float *running) {
    const size_t fullTiles = rows / TRAWL_TILE_ROWS, tileSize = dim * TRAWL_TILE_ROWS;
    size_t t = 0;
    for (; t + group <= fullTiles; t += group)
        lower_tiles_avx2(tiles + t * tileSize, group, dim, centres, centreNorms, count,
                         norms + t * TRAWL_TILE_ROWS, running + t * TRAWL_TILE_ROWS);
    for (; t < fullTiles; t++)
        lower_tiles_avx2(tiles + t * tileSize, 1, dim, centres, centreNorms, count,
                         norms + t * TRAWL_TILE_ROWS, running + t * TRAWL_TILE_ROWS);
    size_t done = fullTiles * TRAWL_TILE_ROWS;
    if (done < rows)
        lower_portable(tiles + fullTiles * tileSize, rows - done, dim, centres, centreNorms, count,
                       norms + done, running + done);
}

#define LOWER_AVX2(count, group)                                                                 \
    __attribute__((target("avx2,fma"))) static void lower_avx2_##count(                         \
        const float *tiles, size_t rows, size_t dim, const float *centres, const float *centreNorms, \
        const float *norms, float *running) {                                                     \
        lower_avx2(tiles, rows, dim, centres, centreNorms, count, group, norms, running);         \
    }
// About twelve accumulators each: enough chains in flight, none spilled.
LOWER_AVX2(1, 8)
LOWER_AVX2(2, 4)
LOWER_AVX2(3, 4)
LOWER_AVX2(4, 3)
LOWER_AVX2(5, 2)
LOWER_AVX2(6, 2)
LOWER_AVX2(7, 1)
#endif

void trawl_lower_running_distances(const float *tiles, size_t rows, size_t dim,
                                   const float *centres, const float *centreNorms, size_t count,
                                   const float *norms, float *running) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        void (*const kernels[])(const float *, size_t, size_t, const float *, const float *, const float *, float *) = {
            lower_avx2_1, lower_avx2_2, lower_avx2_3, lower_avx2_4, lower_avx2_5, lower_avx2_6, lower_avx2_7,
        };
        if (count >= 1 && count <= TRAWL_MAX_LOWERING_CENTRES) {
            kernels[count - 1](tiles, rows, dim, centres, centreNorms, norms, running);
            return;
        }
    }
#endif
    lower_portable(tiles, rows, dim, centres, centreNorms, count, norms, running);
}

void trawl_lower_running_distances_portable(const float *tiles, size_t rows, size_t dim,
                                            const float *centres, const float *centreNorms, size_t count,
                                            const float *norms, float *running) {
    lower_portable(tiles, rows, dim, centres, centreNorms, count, norms, running);
}
