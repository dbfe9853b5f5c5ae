#include "distance_kernels.h"
#include "transpose8.h"
#include "screen_codes.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Every product, sum and scaling below is rounded on its own: a contracted multiply-add
// would change the last bit of a distance.
#pragma STDC FP_CONTRACT OFF

// OpenBLAS 0.3.21's Haswell/Zen sgemm (kernel/x86_64/sgemm_kernel_8x4_haswell_2.c, driven by
// driver/level3/level3.c), for C = −2 · P · Cᵀ with P the product's rows and C the centres, as
// the coreset calls it (column-major: M = centres, N = rows, K = dimensions ≤ GEMM_Q = 320):
// the rows go to the kernel twelve at a time, then four at a time while more than three are
// left, then the last one to three; the kernel takes centres eight at a time, then four, two
// and one. An entry is one multiply-add chain over the dimensions in order, except where the
// kernel splits the dimensions into two chains (even and odd ones, in steps of eight; the
// rest goes to the even chain) and adds them at the end:
// - in a call of twelve rows and at least sixteen centres, for the first eight centres of the
//   first six rows, and for the last full eight centres of the first six rows when the full
//   eights are even in number, of the last six rows when odd (the kernel staggers sixteen-wide
//   centre panels between the two halves);
// - in a call of four rows, for every full eight centres.
// Everything else is a single chain. The product of each chain's sum with −2 is exact.

enum { groupRows = 12, halfRows = 6, quadRows = 4, lanes = 8 };

/// The kernel call a row goes to: the first or second half of a twelve-row call, a four-row
/// call, or one of the last one to three rows (never split).
enum call_kind { firstHalf, secondHalf, quad, single };

/// Whether the chunk's centre block `block` (eight centres) is summed in two chains in a call of `kind`.
static int splits_block(enum call_kind kind, size_t block, size_t count) {
    size_t fullBlocks = count / lanes;
    if (block >= fullBlocks) return 0;
    switch (kind) {
    case firstHalf: return count >= 2 * lanes && (block == 0 || (fullBlocks % 2 == 0 && block == fullBlocks - 1));
    case secondHalf: return count >= 2 * lanes && fullBlocks % 2 == 1 && block == fullBlocks - 1;
    case quad: return 1;
    case single: return 0;
    }
    return 0;
}

/// The call row `r` of a product of `productRows` rows goes to.
static enum call_kind call_of_row(size_t r, size_t productRows) {
    size_t grouped = productRows / groupRows * groupRows;
    if (r < grouped) return r % groupRows < halfRows ? firstHalf : secondHalf;
    return r - grouped < (productRows - grouped) / quadRows * quadRows ? quad : single;
}

#if defined(__x86_64__)
/// Eight full centres' dimensions `k … k + 7` (rows `centres[l · dim + k …]`) transposed into
/// `block[k · 8 …]`: eight loads, ``trawl_transpose8`` and eight stores.
__attribute__((target("avx2")))
static void pack_eight_dimensions_avx2(const float *centres, size_t dim, size_t k, float *block) {
    __m256 r[lanes], columns[lanes];
    for (size_t l = 0; l < lanes; l++) r[l] = _mm256_loadu_ps(centres + l * dim + k);
    trawl_transpose8(r, columns);
    for (size_t l = 0; l < lanes; l++) _mm256_storeu_ps(block + (k + l) * lanes, columns[l]);
}
#endif

void trawl_pack_centres(const float *centres, const float *centreNorms, size_t count, size_t dim,
                        float *packed, float *packedNorms) {
    size_t blocks = (count + lanes - 1) / lanes;
    for (size_t b = 0; b < blocks; b++) {
        float *block = packed + b * dim * lanes;
        size_t k = 0;
#if defined(__x86_64__)
        if ((b + 1) * lanes <= count && __builtin_cpu_supports("avx2"))
            for (; k + lanes <= dim; k += lanes) pack_eight_dimensions_avx2(centres + b * lanes * dim, dim, k, block);
#endif
        for (; k < dim; k++)
            for (size_t l = 0; l < lanes; l++) {
                size_t j = b * lanes + l;
                block[k * lanes + l] = j < count ? centres[j * dim + k] : 0;
            }
        for (size_t l = 0; l < lanes; l++) {
            size_t j = b * lanes + l;
            packedNorms[j] = j < count ? centreNorms[j] : INFINITY;
        }
    }
}

/// Row `r`'s first value in tiles packed by ``trawl_pack_rows``; its dimension k is `TRAWL_TILE_ROWS` floats further on each.
static const float *tile_row(const float *tiles, size_t r, size_t dim) {
    return tiles + (r / TRAWL_TILE_ROWS) * dim * TRAWL_TILE_ROWS + r % TRAWL_TILE_ROWS;
}

/// The dot product of `row` and `centre` (dimension k at `row[k · TRAWL_TILE_ROWS]` and
/// `centre[k · stride]`), one chain or (`split`) two.
static float blas_dot(const float *row, const float *centre, size_t stride, size_t dim, int split) {
    size_t pairs = split ? dim / 8 * 8 : 0;
    float even = 0, odd = 0;
    size_t k = 0;
    for (; k < pairs; k += 2) {
        even = fmaf(row[k * TRAWL_TILE_ROWS], centre[k * stride], even);
        odd = fmaf(row[(k + 1) * TRAWL_TILE_ROWS], centre[(k + 1) * stride], odd);
    }
    for (; k < dim; k++) even = fmaf(row[k * TRAWL_TILE_ROWS], centre[k * stride], even);
    return split ? even + odd : even;
}

static void lower_blas_order_portable(const float *tiles, size_t dim, size_t productRows, size_t first, size_t end,
                                      const float *packed, const float *packedNorms, size_t count,
                                      const float *norms, float *running) {
    for (size_t r = first; r < end; r++) {
        float current = running[r];
        enum call_kind kind = call_of_row(r, productRows);
        for (size_t j = 0; j < count; j++) {
            const float *centre = packed + (j / lanes) * dim * lanes + j % lanes;
            float scaled = -2.0f * blas_dot(tile_row(tiles, r, dim), centre, lanes, dim, splits_block(kind, j / lanes, count));
            float sum = scaled + norms[r];
            float distance = sum + packedNorms[j];
            if (distance < 0) distance = 0;
            if (distance < current) current = distance;
        }
        running[r] = current;
    }
}

#if defined(__x86_64__)
/// Dimension k of row `lane` (0 … 15) of two tiles `t` and `u` (the next tile) is at
/// `ROW(t, u, lane)[k · TRAWL_TILE_ROWS]`; `lane` is a constant where it matters, so that a
/// kernel addresses all its rows from two registers.
#define ROW(t, u, lane) ((lane) < TRAWL_TILE_ROWS ? (t) + (lane) : (u) + (lane) - TRAWL_TILE_ROWS)

/// `rowCount` rows (from row `lane0` of tile `t` on, continuing into `u`) against `blockCount`
/// packed blocks of eight centres (norms `blockNorms`), each entry one chain or (`split`, one
/// block) two; lane l of `least[r]` becomes the least of its value and the distances of row r
/// to centre l of each block. Every count is a constant where it is inlined: 6 rows × 2
/// blocks, 12 × 1, or 6 × 1 split is twelve accumulators.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_rows_avx2(const float *t, const float *u, size_t lane0, size_t rowCount, size_t dim,
                                   const float *const *blocks, const __m256 *blockNorms, size_t blockCount, int split,
                                   const float *norms, __m256 *least) {
    enum { maxRows = 12, maxBlocks = 2 };
    __m256 even[maxRows][maxBlocks], odd[maxRows];
    for (size_t r = 0; r < rowCount; r++) {
        odd[r] = _mm256_setzero_ps();
        for (size_t b = 0; b < blockCount; b++) even[r][b] = _mm256_setzero_ps();
    }
    size_t pairs = split ? dim / 8 * 8 : 0, k = 0;
    for (; k < pairs; k += 2) {
        // The even dimension for every row, then the odd one: one centre vector and one
        // broadcast live at a time beside the accumulators.
        __m256 a = _mm256_loadu_ps(blocks[0] + k * lanes);
        for (size_t r = 0; r < rowCount; r++)
            even[r][0] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(ROW(t, u, lane0 + r) + k * TRAWL_TILE_ROWS), even[r][0]);
        a = _mm256_loadu_ps(blocks[0] + (k + 1) * lanes);
        for (size_t r = 0; r < rowCount; r++)
            odd[r] = _mm256_fmadd_ps(a, _mm256_broadcast_ss(ROW(t, u, lane0 + r) + (k + 1) * TRAWL_TILE_ROWS), odd[r]);
    }
    for (; k < dim; k++) {
        __m256 a[maxBlocks];
        for (size_t b = 0; b < blockCount; b++) a[b] = _mm256_loadu_ps(blocks[b] + k * lanes);
        for (size_t r = 0; r < rowCount; r++) {
            __m256 x = _mm256_broadcast_ss(ROW(t, u, lane0 + r) + k * TRAWL_TILE_ROWS);
            for (size_t b = 0; b < blockCount; b++) even[r][b] = _mm256_fmadd_ps(a[b], x, even[r][b]);
        }
    }
    const __m256 minusTwo = _mm256_set1_ps(-2.0f), zero = _mm256_setzero_ps();
    for (size_t r = 0; r < rowCount; r++) {
        __m256 norm = _mm256_broadcast_ss(norms + r);
        for (size_t b = 0; b < blockCount; b++) {
            __m256 dot = split ? _mm256_add_ps(even[r][b], odd[r]) : even[r][b];
            __m256 sum = _mm256_add_ps(_mm256_mul_ps(minusTwo, dot), norm);
            __m256 distance = _mm256_max_ps(_mm256_add_ps(sum, blockNorms[b]), zero);
            least[r] = _mm256_min_ps(distance, least[r]);   // on a tie both are the same value
        }
    }
}

/// Lowers `running[r]` for `rowCount` rows to the least lane of `least[r]`.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_to_least(const __m256 *least, size_t rowCount, float *running) {
    for (size_t r = 0; r < rowCount; r++) {
        float values[lanes], current = running[r];
        _mm256_storeu_ps(values, least[r]);
        for (size_t l = 0; l < lanes; l++) if (values[l] < current) current = values[l];
        running[r] = current;
    }
}

/// Eight lanes at `low` and eight at `high` as one 512-bit vector.
__attribute__((target("avx512f"), always_inline))
static inline __m512 join_blocks(const float *low, const float *high) {
    __m512d joined = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(low)));
    return _mm512_castpd_ps(_mm512_insertf64x4(joined, _mm256_castps_pd(_mm256_loadu_ps(high)), 1));
}

/// Six rows (from row `lane0` of tile `t` on, continuing into `u`) against four unsplit packed
/// blocks of eight centres (`blocks`, their norms at `blockNorms`), two blocks to a 512-bit
/// vector: twelve accumulators, each lane the chain ``lower_rows_avx2`` computes for that row and
/// centre (one multiply-add chain over the dimensions in order, then the same rounded steps), so
/// the same bits; lane l of `least[r]` becomes the least of its value and row r's distances to
/// centre l of each block.
__attribute__((target("avx512f,avx2,fma"), always_inline))
static inline void lower_six_rows_four_blocks_avx512(const float *t, const float *u, size_t lane0, size_t dim,
                                                     const float *const *blocks, const float *const *blockNorms,
                                                     const float *norms, __m256 *least) {
    __m512 sum[halfRows][2];
    for (size_t r = 0; r < halfRows; r++) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
    for (size_t k = 0; k < dim; k++) {
        __m512 a[2] = {join_blocks(blocks[0] + k * lanes, blocks[1] + k * lanes),
                       join_blocks(blocks[2] + k * lanes, blocks[3] + k * lanes)};
        for (size_t r = 0; r < halfRows; r++) {
            __m512 x = _mm512_set1_ps(ROW(t, u, lane0 + r)[k * TRAWL_TILE_ROWS]);
            sum[r][0] = _mm512_fmadd_ps(a[0], x, sum[r][0]);
            sum[r][1] = _mm512_fmadd_ps(a[1], x, sum[r][1]);
        }
    }
    const __m512 minusTwo = _mm512_set1_ps(-2.0f), zero = _mm512_setzero_ps();
    const __m512 pairNorms[2] = {join_blocks(blockNorms[0], blockNorms[1]), join_blocks(blockNorms[2], blockNorms[3])};
    for (size_t r = 0; r < halfRows; r++) {
        __m512 norm = _mm512_set1_ps(norms[r]);
        for (size_t p = 0; p < 2; p++) {
            __m512 scaled = _mm512_add_ps(_mm512_mul_ps(minusTwo, sum[r][p]), norm);
            __m512 distance = _mm512_max_ps(_mm512_add_ps(scaled, pairNorms[p]), zero);
            __m256 first = _mm512_castps512_ps256(distance);
            __m256 second = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(distance), 1));
            least[r] = _mm256_min_ps(first, least[r]);   // on a tie both are the same value
            least[r] = _mm256_min_ps(second, least[r]);
        }
    }
}

/// Six rows against four unsplit blocks (``lower_six_rows_four_blocks_avx512``), or NULL.
typedef void (*FourBlocks)(const float *t, const float *u, size_t lane0, size_t dim, const float *const *blocks,
                           const float *const *blockNorms, const float *norms, __m256 *least);

/// Six rows (from row `lane0` of tile `t` on, continuing into `u`) against the unsplit blocks
/// `indices` (`count` of them, even): four at a time by `fourBlocks` where it is not NULL and
/// there are four, else two at a time.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_unsplit(const float *t, const float *u, size_t lane0, size_t dim, const float *packed,
                                 const float *packedNorms, const size_t *indices, size_t count, FourBlocks fourBlocks,
                                 const float *norms, __m256 *least) {
    const float *group[4], *groupNorms[4];
    for (size_t i = 0; i < count; i++) {
        group[i] = packed + indices[i] * dim * lanes;
        groupNorms[i] = packedNorms + indices[i] * lanes;
    }
    if (fourBlocks && count == 4) {
        fourBlocks(t, u, lane0, dim, group, groupNorms, norms, least);
        return;
    }
    for (size_t i = 0; i < count; i += 2) {
        __m256 pairNorms[2] = {_mm256_loadu_ps(groupNorms[i]), _mm256_loadu_ps(groupNorms[i + 1])};
        lower_rows_avx2(t, u, lane0, halfRows, dim, group + i, pairNorms, 2, 0, norms, least);
    }
}

/// One twelve-row call's rows (from row `lane0`, 0 or 4, of tile `t` on, continuing into the
/// next tile) against every packed block of eight centres. Per half, the split blocks go one
/// at a time and the others four at a time (by `fourBlocks`, two to a 512-bit vector, where it
/// is not NULL), then two at a time; an odd one out is the last unsplit block in both halves
/// (the halves' unsplit counts have the same parity), which goes once for all twelve rows. How
/// blocks are grouped changes no entry's chain, so no bit.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_group(const float *t, size_t lane0, size_t dim, const float *packed, const float *packedNorms,
                               size_t count, const float *norms, float *running, FourBlocks fourBlocks) {
    const float *u = t + dim * TRAWL_TILE_ROWS;
    const size_t blocks = (count + lanes - 1) / lanes, groupSize = fourBlocks ? 4 : 2;
    __m256 least[groupRows];
    for (size_t r = 0; r < groupRows; r++) least[r] = _mm256_set1_ps(INFINITY);
    size_t leftover[2] = {blocks, blocks};   // `blocks`: none
    for (size_t half = 0; half < 2; half++) {
        const size_t first = half * halfRows;
        size_t pending[4], pendingCount = 0;   // unsplit blocks not yet lowered
        for (size_t b = 0; b < blocks; b++) {
            if (splits_block(half ? secondHalf : firstHalf, b, count)) {
                const float *block = packed + b * dim * lanes;
                __m256 blockNorms = _mm256_loadu_ps(packedNorms + b * lanes);
                lower_rows_avx2(t, u, lane0 + first, halfRows, dim, &block, &blockNorms, 1, 1, norms + first, least + first);
                continue;
            }
            pending[pendingCount++] = b;
            if (pendingCount == groupSize) {
                lower_unsplit(t, u, lane0 + first, dim, packed, packedNorms, pending, pendingCount, fourBlocks,
                              norms + first, least + first);
                pendingCount = 0;
            }
        }
        size_t paired = pendingCount / 2 * 2;
        lower_unsplit(t, u, lane0 + first, dim, packed, packedNorms, pending, paired, NULL, norms + first,
                      least + first);
        if (paired < pendingCount) leftover[half] = pending[paired];
    }
    for (size_t half = 0; half < 2; half++) {
        if (leftover[half] == blocks) continue;
        const float *block = packed + leftover[half] * dim * lanes;
        __m256 blockNorms = _mm256_loadu_ps(packedNorms + leftover[half] * lanes);
        if (half == 0 && leftover[1] == leftover[0]) {
            lower_rows_avx2(t, u, lane0, groupRows, dim, &block, &blockNorms, 1, 0, norms, least);
            break;
        }
        lower_rows_avx2(t, u, lane0 + half * halfRows, halfRows, dim, &block, &blockNorms, 1, 0,
                        norms + half * halfRows, least + half * halfRows);
    }
    lower_to_least(least, groupRows, running);
}

/// `rowCount` rows of a call of `kind` (four rows, or one) from row `lane0` of tile `t` on,
/// all in that tile, against every packed block, one block at a time.
__attribute__((target("avx2,fma"), always_inline))
static inline void lower_few_avx2(const float *t, size_t lane0, size_t rowCount, enum call_kind kind, size_t dim,
                                  const float *packed, const float *packedNorms, size_t count,
                                  const float *norms, float *running) {
    __m256 least[quadRows];
    for (size_t r = 0; r < rowCount; r++) least[r] = _mm256_set1_ps(INFINITY);
    for (size_t b = 0; b < (count + lanes - 1) / lanes; b++) {
        const float *block = packed + b * dim * lanes;
        __m256 blockNorms = _mm256_loadu_ps(packedNorms + b * lanes);
        lower_rows_avx2(t, t, lane0, rowCount, dim, &block, &blockNorms, 1, splits_block(kind, b, count), norms, least);
    }
    lower_to_least(least, rowCount, running);
}

__attribute__((target("avx2,fma"))) static void lower_group_at_tile_start(const float *t, size_t dim, const float *packed,
        const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_group(t, 0, dim, packed, packedNorms, count, norms, running, NULL);
}
__attribute__((target("avx2,fma"))) static void lower_group_at_tile_middle(const float *t, size_t dim, const float *packed,
        const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_group(t, 4, dim, packed, packedNorms, count, norms, running, NULL);
}
__attribute__((target("avx512f,avx2,fma"))) static void four_blocks_avx512(const float *t, const float *u, size_t lane0,
        size_t dim, const float *const *blocks, const float *const *blockNorms, const float *norms, __m256 *least) {
    lower_six_rows_four_blocks_avx512(t, u, lane0, dim, blocks, blockNorms, norms, least);
}
__attribute__((target("avx512f,avx2,fma"))) static void lower_group_at_tile_start_avx512(const float *t, size_t dim,
        const float *packed, const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_group(t, 0, dim, packed, packedNorms, count, norms, running, four_blocks_avx512);
}
__attribute__((target("avx512f,avx2,fma"))) static void lower_group_at_tile_middle_avx512(const float *t, size_t dim,
        const float *packed, const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_group(t, 4, dim, packed, packedNorms, count, norms, running, four_blocks_avx512);
}
__attribute__((target("avx2,fma"))) static void lower_quad(const float *t, size_t lane0, size_t dim, const float *packed,
        const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_few_avx2(t, lane0, quadRows, quad, dim, packed, packedNorms, count, norms, running);
}
__attribute__((target("avx2,fma"))) static void lower_single(const float *t, size_t lane0, size_t dim, const float *packed,
        const float *packedNorms, size_t count, const float *norms, float *running) {
    lower_few_avx2(t, lane0, 1, single, dim, packed, packedNorms, count, norms, running);
}

/// Twelve-row calls on AVX-512 (`wide`) or AVX2; four-row and single-row calls on AVX2.
__attribute__((target("avx2,fma")))
static void lower_blas_order_avx2(const float *tiles, size_t dim, size_t productRows, size_t first, size_t end,
                                  const float *packed, const float *packedNorms, size_t count,
                                  const float *norms, float *running, int wide) {
    for (size_t r = first; r < end;) {
        const float *t = tiles + r / TRAWL_TILE_ROWS * dim * TRAWL_TILE_ROWS;
        size_t lane0 = r % TRAWL_TILE_ROWS;
        switch (call_of_row(r, productRows)) {
        case firstHalf:
            if (wide)
                (lane0 == 0 ? lower_group_at_tile_start_avx512 : lower_group_at_tile_middle_avx512)(
                    t, dim, packed, packedNorms, count, norms + r, running + r);
            else
                (lane0 == 0 ? lower_group_at_tile_start : lower_group_at_tile_middle)(t, dim, packed, packedNorms,
                                                                                    count, norms + r, running + r);
            r += groupRows;
            break;
        case quad:
            lower_quad(t, lane0, dim, packed, packedNorms, count, norms + r, running + r);
            r += quadRows;
            break;
        default:
            lower_single(t, lane0, dim, packed, packedNorms, count, norms + r, running + r);
            r += 1;
            break;
        }
    }
}
#endif

void trawl_lower_running_in_blas_order(const float *tiles, size_t dim, size_t productRows, size_t first, size_t end,
                                       const float *packed, const float *packedNorms, size_t count,
                                       const float *norms, float *running) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        lower_blas_order_avx2(tiles, dim, productRows, first, end, packed, packedNorms, count, norms, running,
                              __builtin_cpu_supports("avx512f"));
        return;
    }
#endif
    trawl_lower_running_in_blas_order_portable(tiles, dim, productRows, first, end, packed, packedNorms, count, norms,
                                               running);
}

void trawl_lower_running_in_blas_order_portable(const float *tiles, size_t dim, size_t productRows, size_t first,
                                                size_t end, const float *packed, const float *packedNorms,
                                                size_t count, const float *norms, float *running) {
    lower_blas_order_portable(tiles, dim, productRows, first, end, packed, packedNorms, count, norms, running);
}

// The 8-bit screen. Late in a selection a new centre is nearer than a row's running distance for
// few rows, so most of the products the lowering computes change nothing. The screen estimates
// every distance from 8-bit codes (twice the multiply-adds per cycle of float FMAs on AVX2) with
// a proven error bound, and computes the float distance, with the arithmetic above, only where
// the estimate cannot rule out that it lowers the row. `min` does not depend on which values it
// skips that are not below it, so the running distances keep their bits.

/// Points per tile of codes.
enum { screenRows = 4 };

struct TrawlCoresetScreen {
    size_t rows, dim, steps, capacity;
    /// `[ceil(rows / 4)][steps][4][4]`: point `r`'s code of dimension `k` at tile `r / 4`, step
    /// `k / 4`, row `r % 4`, place `k % 4`; zero past `dim` and `rows`.
    int8_t *pointCodes;
    /// `[ceil(rows / 4) · 4]`: `−64 · Σ codes`, which removes the centre codes' offset from a sum.
    int32_t *sumStart;
    /// `[rows]`: −2 · the point's code factor; `‖factor · codes‖`; `‖point − factor · codes‖`.
    float *pointFactor, *pointQuantized, *pointError;
    /// `[capacity][steps · 4]`: each centre's codes plus 64 (64, a zero, past `dim`).
    uint8_t *centreCodes;
    /// `[capacity]`: the centre's code factor; `‖factor · codes‖`; `‖centre − factor · codes‖`.
    float *centreScale, *centreQuantized, *centreError;
};

void trawl_coreset_screen_free(TrawlCoresetScreen *screen) {
    if (!screen) return;
    free(screen->pointCodes);
    free(screen->sumStart);
    free(screen->pointFactor);
    free(screen->pointQuantized);
    free(screen->pointError);
    free(screen->centreCodes);
    free(screen->centreScale);
    free(screen->centreQuantized);
    free(screen->centreError);
    free(screen);
}

TrawlCoresetScreen *trawl_coreset_screen_make(const float *points, size_t rows, size_t dim, size_t capacity) {
#if defined(__x86_64__)
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return NULL;
    if (dim < SCREEN_MIN_DIM || dim > SCREEN_MAX_DIM || rows == 0 || capacity == 0) return NULL;
    TrawlCoresetScreen *screen = calloc(1, sizeof *screen);
    screen->rows = rows;
    screen->dim = dim;
    screen->steps = (dim + SCREEN_STEP_DIMS - 1) / SCREEN_STEP_DIMS;
    screen->capacity = capacity;
    size_t rowBytes = screen->steps * SCREEN_STEP_DIMS, padded = (rows + screenRows - 1) / screenRows * screenRows;
    screen->pointCodes = calloc(padded * rowBytes, 1);
    screen->sumStart = calloc(padded, sizeof(int32_t));
    screen->pointFactor = malloc(rows * sizeof(float));
    screen->pointQuantized = malloc(rows * sizeof(float));
    screen->pointError = malloc(rows * sizeof(float));
    screen->centreCodes = malloc(capacity * rowBytes);
    memset(screen->centreCodes, SCREEN_PANEL_OFFSET, capacity * rowBytes);
    screen->centreScale = calloc(capacity, sizeof(float));
    screen->centreQuantized = calloc(capacity, sizeof(float));
    screen->centreError = calloc(capacity, sizeof(float));
    double *centred = malloc(dim * sizeof(double));
    int *codes = malloc(dim * sizeof(int));
    int finite = 1;
    for (size_t r = 0; r < rows && finite; r++) {
        QuantizedRow point = quantize_row(points + r * dim, NULL, dim, SCREEN_ROW_LEVELS, centred, codes);
        int32_t sum = 0;
        double codeSquared = 0;
        for (size_t k = 0; k < dim; k++) {
            size_t step = k / SCREEN_STEP_DIMS, place = k % SCREEN_STEP_DIMS;
            screen->pointCodes[r / screenRows * screenRows * rowBytes + (step * screenRows + r % screenRows) * SCREEN_STEP_DIMS
                               + place] = (int8_t)codes[k];
            sum += codes[k];
            codeSquared += (double)codes[k] * codes[k];
        }
        screen->sumStart[r] = -SCREEN_PANEL_OFFSET * sum;
        screen->pointFactor[r] = -2.0f * point.scale;
        screen->pointQuantized[r] = (float)(point.scale * sqrt(codeSquared));
        screen->pointError[r] = (float)sqrt(point.residualSquared);
        finite = point.squared < FLT_MAX / 64;
    }
    free(centred);
    free(codes);
    if (!finite) {
        trawl_coreset_screen_free(screen);
        return NULL;
    }
    return screen;
#else
    (void)points; (void)rows; (void)dim; (void)capacity;
    return NULL;
#endif
}

void trawl_coreset_screen_add_centre(TrawlCoresetScreen *screen, size_t slot, const float *centre) {
    size_t dim = screen->dim, rowBytes = screen->steps * SCREEN_STEP_DIMS;
    double *centred = malloc(dim * sizeof(double));
    int *codes = malloc(dim * sizeof(int));
    QuantizedRow quantized = quantize_row(centre, NULL, dim, SCREEN_PANEL_LEVELS, centred, codes);
    double codeSquared = 0;
    for (size_t k = 0; k < dim; k++) {
        screen->centreCodes[slot * rowBytes + k] = (uint8_t)(codes[k] + SCREEN_PANEL_OFFSET);
        codeSquared += (double)codes[k] * codes[k];
    }
    screen->centreScale[slot] = quantized.scale;
    screen->centreQuantized[slot] = (float)(quantized.scale * sqrt(codeSquared));
    screen->centreError[slot] = (float)sqrt(quantized.residualSquared);
    free(centred);
    free(codes);
}

size_t trawl_coreset_screen_scratch_bytes(const TrawlCoresetScreen *screen, size_t count) {
    size_t panels = (count + SCREEN_PANEL_LANES - 1) / SCREEN_PANEL_LANES;
    return panels * SCREEN_PANEL_LANES * (screen->steps * SCREEN_STEP_DIMS + 2 * sizeof(float));
}

#if defined(__x86_64__)
/// A chunk of centres for the screen: panels of sixteen, `[steps][16][4]` bytes each, and per
/// lane the code factor and the squared norm (+∞ past the chunk, so never below a threshold).
typedef struct {
    size_t panels;
    const uint8_t *codes;
    const float *scale, *norms;
    /// Largest over the chunk of `‖centre − factor · codes‖` and of `‖factor · codes‖ + that`.
    double error, magnitude;
} ScreenChunk;

static ScreenChunk pack_screen_chunk(const TrawlCoresetScreen *screen, size_t firstCentre, size_t count,
                                     const float *packedNorms, void *scratch) {
    const size_t steps = screen->steps, rowBytes = steps * SCREEN_STEP_DIMS;
    const size_t panelLanes = SCREEN_PANEL_LANES, panelStep = panelLanes * SCREEN_STEP_DIMS;
    ScreenChunk chunk = { (count + panelLanes - 1) / panelLanes, scratch, NULL, NULL, 0, 0 };
    uint8_t *codes = scratch;
    float *scale = (float *)(codes + chunk.panels * panelLanes * rowBytes), *norms = scale + chunk.panels * panelLanes;
    for (size_t c = 0; c < chunk.panels * panelLanes; c++) {
        uint8_t *lane = codes + c / panelLanes * steps * panelStep + c % panelLanes * SCREEN_STEP_DIMS;
        if (c < count) {
            const uint8_t *centre = screen->centreCodes + (firstCentre + c) * rowBytes;
            for (size_t s = 0; s < steps; s++) memcpy(lane + s * panelStep, centre + s * SCREEN_STEP_DIMS, SCREEN_STEP_DIMS);
            scale[c] = screen->centreScale[firstCentre + c];
            norms[c] = packedNorms[c];
            double error = screen->centreError[firstCentre + c];
            chunk.error = fmax(chunk.error, error);
            chunk.magnitude = fmax(chunk.magnitude, screen->centreQuantized[firstCentre + c] + error);
        } else {
            for (size_t s = 0; s < steps; s++) memset(lane + s * panelStep, SCREEN_PANEL_OFFSET, SCREEN_STEP_DIMS);
            scale[c] = 0;
            norms[c] = INFINITY;
        }
    }
    chunk.scale = scale;
    chunk.norms = norms;
    return chunk;
}

/// The value a row's estimates `norm(centre) − 2 · factors · sum` must reach for none of the
/// chunk's centres to lower it: `running + bound − norm`, rounded up to float. In real numbers
/// an estimate errs from `‖p − c‖²` by at most `2 (‖p̃‖ · ‖e_c‖ + ‖e_p‖ · ‖c‖)` (Cauchy–Schwarz,
/// with `p̃` the quantized point and `e` the quantization residuals); the float kernel's distance
/// is within `3 γ_{dim+2} (‖p‖² + ‖c‖²)` of the exact one, and the estimate's own few roundings
/// are far below that. The bound adds `4 (dim + 8) · 2⁻²¹ (‖p‖² + ‖c‖²)`, which is more than ten
/// times those rounding terms, and scales the whole by 1 + 2⁻²⁰ against its own rounding.
static float screen_threshold(const TrawlCoresetScreen *screen, size_t point, const ScreenChunk *chunk,
                              float running, float norm) {
    double quantized = screen->pointQuantized[point], error = screen->pointError[point];
    double magnitude = quantized + error;
    double estimateError = 2 * (quantized * chunk->error + error * chunk->magnitude);
    double rounding = 4 * (double)(screen->dim + 8) * 0x1p-21 * (magnitude * magnitude + chunk->magnitude * chunk->magnitude);
    double threshold = (double)running + (estimateError + rounding) * (1 + 0x1p-20) - (double)norm;
    float rounded = (float)threshold;
    return (double)rounded < threshold ? nextafterf(rounded, INFINITY) : rounded;
}

/// The rows of point tile `tile` (four points from row `r` of the product on; the first
/// `rowCount` of them are the product's) against every panel of `chunk`: the integer sums and
/// the estimates; for each row and eight-centre block where some estimate is below the row's
/// threshold, the block's float distances as the twelve-row kernels compute them (one row, one
/// block, the chain split where ``splits_block`` says), lowering `least[j]`.
__attribute__((target("avx2,fma")))
static void screen_tile(const TrawlCoresetScreen *screen, size_t tile, size_t r, size_t rowCount,
                        const ScreenChunk *chunk, const float *thresholds, const float *tiles, size_t dim,
                        size_t productRows, const float *packed, const float *packedNorms, size_t count,
                        const float *norms, __m256 *least) {
    const size_t steps = screen->steps, point0 = tile * screenRows;
    const int8_t *codes = screen->pointCodes + point0 * steps * SCREEN_STEP_DIMS;
    for (size_t p = 0; p < chunk->panels; p++) {
        const uint8_t *panel = chunk->codes + p * steps * SCREEN_PANEL_LANES * SCREEN_STEP_DIMS;
        __m256i sum[2][screenRows];
        screen_dot_products(codes, panel, steps, screenRows, screen->sumStart + point0, sum[0], sum[1]);
        // Thresholds past `rowCount` are −∞, so those rows never pass.
        __m256 estimate[2][screenRows];
        int passing = 0;
        for (size_t j = 0; j < screenRows; j++) {
            __m256 factor = _mm256_set1_ps(screen->pointFactor[point0 + j]), threshold = _mm256_set1_ps(thresholds[j]);
            for (size_t h = 0; h < 2; h++) {
                size_t lane0 = p * SCREEN_PANEL_LANES + h * lanes;
                estimate[h][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[h][j]),
                                                 _mm256_mul_ps(factor, _mm256_loadu_ps(chunk->scale + lane0)),
                                                 _mm256_loadu_ps(chunk->norms + lane0));
                passing |= _mm256_movemask_ps(_mm256_cmp_ps(estimate[h][j], threshold, _CMP_LT_OQ));
            }
        }
        if (!passing) continue;
        for (size_t j = 0; j < rowCount; j++)
            for (size_t h = 0; h < 2; h++) {
                if (!_mm256_movemask_ps(_mm256_cmp_ps(estimate[h][j], _mm256_set1_ps(thresholds[j]), _CMP_LT_OQ))) continue;
                size_t row = r + j, block = (p * SCREEN_PANEL_LANES + h * lanes) / lanes;
                const float *t = tiles + row / TRAWL_TILE_ROWS * dim * TRAWL_TILE_ROWS;
                const float *blockValues = packed + block * dim * lanes;
                __m256 blockNorms = _mm256_loadu_ps(packedNorms + block * lanes);
                lower_rows_avx2(t, t, row % TRAWL_TILE_ROWS, 1, dim, &blockValues, &blockNorms, 1,
                                splits_block(call_of_row(row, productRows), block, count), norms + row, least + j);
            }
    }
}

__attribute__((target("avx2,fma")))
static void screened_lower_avx2(const TrawlCoresetScreen *screen, size_t productStart, const float *tiles, size_t dim,
                                size_t productRows, size_t first, size_t end, size_t firstCentre,
                                const float *packed, const float *packedNorms, size_t count, const float *norms,
                                float *running, void *scratch) {
    ScreenChunk chunk = pack_screen_chunk(screen, firstCentre, count, packedNorms, scratch);
    for (size_t r = first; r < end; r += screenRows) {
        size_t rowCount = end - r < screenRows ? end - r : screenRows;
        float thresholds[screenRows];
        __m256 least[screenRows];
        for (size_t j = 0; j < screenRows; j++) {
            thresholds[j] = j < rowCount ? screen_threshold(screen, productStart + r + j, &chunk, running[r + j], norms[r + j])
                                         : -INFINITY;
            least[j] = _mm256_set1_ps(INFINITY);
        }
        screen_tile(screen, (productStart + r) / screenRows, r, rowCount, &chunk, thresholds, tiles, dim, productRows,
                    packed, packedNorms, count, norms, least);
        lower_to_least(least, rowCount, running + r);
    }
}
#endif

void trawl_screened_lower_in_blas_order(const TrawlCoresetScreen *screen, size_t productStart, const float *tiles,
                                        size_t dim, size_t productRows, size_t first, size_t end, size_t firstCentre,
                                        const float *packed, const float *packedNorms, size_t count,
                                        const float *norms, float *running, void *scratch) {
#if defined(__x86_64__)
    screened_lower_avx2(screen, productStart, tiles, dim, productRows, first, end, firstCentre, packed, packedNorms,
                        count, norms, running, scratch);
#else
    (void)screen; (void)productStart; (void)firstCentre; (void)scratch;
    trawl_lower_running_in_blas_order_portable(tiles, dim, productRows, first, end, packed, packedNorms, count, norms,
                                               running);
#endif
}
