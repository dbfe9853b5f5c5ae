#include "gemm_kernels.h"

#include <math.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "output_ending.h"

enum {
    /// Rows of one register block.
    panelRows = 6,
    panelColumns = TRAWL_GEMM_PANEL_COLUMNS,
    /// Depth of one pass: a 256 × 16 slice of B (16 KiB; two, 32 KiB, for the AVX-512 kernel)
    /// stays in L1 while the rows of a row block stream past it.
    depthBlock = 256,
    /// Rows of a row block: its 120 × 256 slice of A (120 KiB) stays in L2 while it meets every
    /// column of a column block.
    rowBlock = 120,
    /// Columns of a column block: its 256 × 192 slice of B (192 KiB) stays in L2 (or L3).
    columnBlock = 192,
    /// Most panels of one block of B copied into a slice (``pack_slice``): 13 · 16 = 208 columns,
    /// so a 14² plane (196 columns) is one block and each row block of A meets it once.
    slicePanels = 13,
};

size_t trawl_gemm_packed_count(size_t k, size_t n) {
    return (n + panelColumns - 1) / panelColumns * panelColumns * k;
}

/// Where packed B's `[depth][16]` slice of the panel from `column` (a multiple of 16) starts,
/// for the depth block from `firstDepth`, `depth` deep: the blocks lie in the order
/// ``gemm_blocked`` visits them (column blocks, then depth blocks, then panels), so one
/// product reads B from start to end.
static size_t panel_offset(size_t n, size_t k, size_t column, size_t firstDepth, size_t depth) {
    size_t firstColumn = column / columnBlock * columnBlock;
    size_t blockColumns = n - firstColumn < columnBlock ? n - firstColumn : columnBlock;
    size_t blockWidth = (blockColumns + panelColumns - 1) / panelColumns * panelColumns;
    return firstColumn * k + firstDepth * blockWidth + (column - firstColumn) * depth;
}

size_t trawl_gemm_packed_offset(size_t k, size_t n, size_t depth, size_t column) {
    size_t firstDepth = depth / depthBlock * depthBlock;
    size_t blockDepth = k - firstDepth < depthBlock ? k - firstDepth : depthBlock;
    size_t panel = column / panelColumns * panelColumns;
    return panel_offset(n, k, panel, firstDepth, blockDepth) + (depth - firstDepth) * panelColumns + column - panel;
}

// A block kernel: `rows` (≤ 6) × `columns` (≤ 32) entries of C at `c` over `depth` depths,
// from `a` (row `i`, depth `d` at `a[i · lda + d · step]`: 1 for a row-major A, 6 for a packed
// one) and two panels of B, the first 16 columns at `b`, the rest at `b + nextPanel` (each
// `depth` rows of 16 columns, row stride `ldb`: a `[depth][16]` slice of one packed panel, or
// the rows of an unpacked B); each chain starts from 0, or from C's entry when `load` is 1.
// With an `ending` (the last depth block's call; its bias and shortcut already at the block's
// first row and column), each entry is ended (``trawl_end``) as it is stored.

/// One panel's `rows` × `columns` (≤ 16) entries.
static void panel_portable(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                           const float *b, size_t ldb, float *c, size_t ldc, int load, const TrawlOutputEnding *ending) {
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < columns; j++) {
            float sum = load ? c[i * ldc + j] : 0;
            for (size_t d = 0; d < depth; d++)
                sum = fmaf(a[i * lda + d * step], b[d * ldb + j], sum);
            c[i * ldc + j] = ending ? trawl_end(sum, ending, i, i * ldc + j) : sum;
        }
    }
}

#if defined(__x86_64__)
/// Asks for the `columns` outputs of row `r` at `line` and the shortcut they add (rows `ldc`
/// apart), so they arrive while the products run: a block's rows lie a plane apart, beyond
/// any prefetcher.
__attribute__((always_inline))
static inline void prefetch_ending(float *line, size_t columns, const TrawlOutputEnding *ending, int r, size_t ldc) {
    __builtin_prefetch(line, 1);
    __builtin_prefetch(line + columns - 1, 1);
    if (ending->shortcut) {
        __builtin_prefetch(ending->shortcut + (size_t)r * ldc);
        __builtin_prefetch(ending->shortcut + (size_t)r * ldc + columns - 1);
    }
}

/// `rows` (1 … 6, a constant where inlined) × 16 entries in 12 registers: per depth, two
/// vector loads of B and one broadcast of A per row. With `whole` 0, only the first
/// `columns` (< 16) columns are read and written (masked); with `half` 1 as well (`columns`
/// ≤ 8), the second eight are not computed at all (half the multiply-adds of a narrow last panel).
__attribute__((target("avx2,fma"), always_inline))
static inline void block_avx2(int rows, int whole, int half, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                              const float *b, size_t ldb, float *c, size_t ldc, int load, const TrawlOutputEnding *ending) {
    __m256 sum[panelRows][2];
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)columns), lane);
    const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)columns - 8), lane);
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        if (ending) prefetch_ending(line, columns, ending, r, ldc);
        sum[r][1] = _mm256_setzero_ps();
        if (!load) {
            sum[r][0] = _mm256_setzero_ps();
        } else if (whole) {
            sum[r][0] = _mm256_loadu_ps(line);
            sum[r][1] = _mm256_loadu_ps(line + 8);
        } else {
            sum[r][0] = _mm256_maskload_ps(line, mask0);
            if (!half) sum[r][1] = _mm256_maskload_ps(line + 8, mask1);
        }
    }
    const float *left = a, *right = b;
    for (size_t d = 0; d < depth; d++) {
        __m256 b0, b1 = _mm256_setzero_ps();
        if (whole) {
            b0 = _mm256_loadu_ps(right);
            b1 = _mm256_loadu_ps(right + 8);
        } else {
            b0 = _mm256_maskload_ps(right, mask0);
            if (!half) b1 = _mm256_maskload_ps(right + 8, mask1);
        }
        for (int r = 0; r < rows; r++) {
            __m256 value = _mm256_broadcast_ss(left + r * lda);
            sum[r][0] = _mm256_fmadd_ps(value, b0, sum[r][0]);
            if (!half) sum[r][1] = _mm256_fmadd_ps(value, b1, sum[r][1]);
        }
        left += step;
        right += ldb;
    }
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        if (ending) {
            size_t offset = (size_t)r * ldc;
            sum[r][0] = trawl_end_avx2(sum[r][0], ending, r, offset, whole, mask0);
            if (!half) sum[r][1] = trawl_end_avx2(sum[r][1], ending, r, offset + 8, whole, mask1);
        }
        if (whole) {
            _mm256_storeu_ps(line, sum[r][0]);
            _mm256_storeu_ps(line + 8, sum[r][1]);
        } else {
            _mm256_maskstore_ps(line, mask0, sum[r][0]);
            if (!half) _mm256_maskstore_ps(line + 8, mask1, sum[r][1]);
        }
    }
}

/// One panel (`nextPanel` unused).
__attribute__((target("avx2,fma")))
static void block_avx2_dispatch(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                                const float *b, size_t ldb, size_t nextPanel, float *c, size_t ldc, int load,
                                const TrawlOutputEnding *ending) {
    (void)nextPanel;
#define TRAWL_BLOCK(R)                                                                                 \
    case R:                                                                                            \
        if (columns == panelColumns) block_avx2(R, 1, 0, columns, depth, a, lda, step, b, ldb, c, ldc, load, ending); \
        else if (columns <= 8) block_avx2(R, 0, 1, columns, depth, a, lda, step, b, ldb, c, ldc, load, ending);      \
        else block_avx2(R, 0, 0, columns, depth, a, lda, step, b, ldb, c, ldc, load, ending);                        \
        break;
    switch (rows) {
        TRAWL_BLOCK(1) TRAWL_BLOCK(2) TRAWL_BLOCK(3) TRAWL_BLOCK(4) TRAWL_BLOCK(5) TRAWL_BLOCK(6)
    }
#undef TRAWL_BLOCK
}

/// `rows` (1 … 6, a constant where inlined) × up to 32 entries in 12 512-bit registers: per
/// depth, one (masked) load of each panel and one broadcast of A per row. With `two` 0
/// (`columns` ≤ 16) the second panel is not computed at all. Where the CPU has AVX-512 this
/// doubles the independent chains of the 256-bit kernel, which the multiply-adds' latency needs.
__attribute__((target("avx512f"), always_inline))
static inline void block_avx512(int rows, int two, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                                const float *b, size_t ldb, size_t nextPanel, float *c, size_t ldc, int load,
                                const TrawlOutputEnding *ending) {
    const __mmask16 mask0 = columns >= 16 ? 0xFFFF : (__mmask16)((1u << columns) - 1);
    const __mmask16 mask1 = columns >= 32 ? 0xFFFF : columns > 16 ? (__mmask16)((1u << (columns - 16)) - 1) : 0;
    __m512 sum[panelRows][2];
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        if (ending) prefetch_ending(line, columns, ending, r, ldc);
        sum[r][0] = load ? _mm512_maskz_loadu_ps(mask0, line) : _mm512_setzero_ps();
        sum[r][1] = load && two ? _mm512_maskz_loadu_ps(mask1, line + 16) : _mm512_setzero_ps();
    }
    const float *left = a, *right = b;
    for (size_t d = 0; d < depth; d++) {
        __m512 b0 = _mm512_maskz_loadu_ps(mask0, right), b1 = _mm512_setzero_ps();
        if (two) b1 = _mm512_maskz_loadu_ps(mask1, right + nextPanel);
        for (int r = 0; r < rows; r++) {
            __m512 value = _mm512_set1_ps(left[r * lda]);
            sum[r][0] = _mm512_fmadd_ps(value, b0, sum[r][0]);
            if (two) sum[r][1] = _mm512_fmadd_ps(value, b1, sum[r][1]);
        }
        left += step;
        right += ldb;
    }
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        size_t offset = (size_t)r * ldc;
        if (ending) sum[r][0] = trawl_end_avx512(sum[r][0], ending, r, offset, mask0);
        _mm512_mask_storeu_ps(line, mask0, sum[r][0]);
        if (two) {
            if (ending) sum[r][1] = trawl_end_avx512(sum[r][1], ending, r, offset + 16, mask1);
            _mm512_mask_storeu_ps(line + 16, mask1, sum[r][1]);
        }
    }
}

__attribute__((target("avx512f")))
static void block_avx512_dispatch(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                                  const float *b, size_t ldb, size_t nextPanel, float *c, size_t ldc, int load,
                                  const TrawlOutputEnding *ending) {
#define TRAWL_BLOCK(R)                                                                                               \
    case R:                                                                                                          \
        if (columns > 16) block_avx512(R, 1, columns, depth, a, lda, step, b, ldb, nextPanel, c, ldc, load, ending); \
        else block_avx512(R, 0, columns, depth, a, lda, step, b, ldb, nextPanel, c, ldc, load, ending);              \
        break;
    switch (rows) {
        TRAWL_BLOCK(1) TRAWL_BLOCK(2) TRAWL_BLOCK(3) TRAWL_BLOCK(4) TRAWL_BLOCK(5) TRAWL_BLOCK(6)
    }
#undef TRAWL_BLOCK
}
#endif

typedef void (*BlockKernel)(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                            const float *b, size_t ldb, size_t nextPanel, float *c, size_t ldc, int load,
                            const TrawlOutputEnding *ending);

/// `ending` moved to the block from row `row` and column `column` of C (row stride `ldc`).
static TrawlOutputEnding ending_at(const TrawlOutputEnding *ending, size_t row, size_t column, size_t ldc) {
    TrawlOutputEnding moved = *ending;
    if (moved.bias) moved.bias += row;
    if (moved.shortcut) moved.shortcut += row * ldc + column;
    return moved;
}

/// The block kernel of a CPU and how many panels of B (16 columns each) one call takes.
typedef struct {
    BlockKernel run;
    size_t panels;
} Kernel;

static void block_portable(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, size_t step,
                           const float *b, size_t ldb, size_t nextPanel, float *c, size_t ldc, int load,
                           const TrawlOutputEnding *ending) {
    (void)nextPanel;
    panel_portable(rows, columns, depth, a, lda, step, b, ldb, c, ldc, load, ending);
}

static const Kernel portableKernel = {block_portable, 1};

/// Copies the `depth` × `columns` slice of row-major B at `b` (row stride `ldb`) into `slice`,
/// panel after panel of 16 columns, each `[depth][16]` (a last, partial panel's columns past
/// `columns` are left as they were: the kernels read them masked).
static void pack_slice(size_t depth, size_t columns, const float *b, size_t ldb, float *slice) {
    for (size_t d = 0; d < depth; d++) {
        const float *row = b + d * ldb;
        // Eight rows ahead, one touch per cache line: the rows lie a plane apart, each only a
        // few lines long, too short for the hardware prefetcher to follow.
        for (size_t column = 0; column < columns; column += 16) __builtin_prefetch(row + 8 * ldb + column);
        for (size_t column = 0; column < columns; column += panelColumns) {
            size_t width = columns - column < panelColumns ? columns - column : panelColumns;
            float *line = slice + column * depth + d * panelColumns;
            for (size_t j = 0; j < width; j++) line[j] = row[column + j];
        }
    }
}

/// Blocks of 192 columns (with a `slice`, B's panels split evenly into blocks of at most
/// ``slicePanels``), 256 depths and 120 rows, then 16 columns, then 6 rows; a depth
/// block after the first continues each entry's chain from the value the previous one stored
/// (a float, so the chain's bits are those of one unbroken pass); the last one ends the
/// entries (`ending`, if not NULL). A is packed (``trawl_gemm_pack_a``) where `lda` is 0, else
/// row-major with row stride `lda`. B is packed (``trawl_gemm_packed_offset``) where `ldb` is
/// 0, else row-major with row stride `ldb`: read as it lies where `slice` is NULL, else each
/// block first copied into `slice` (64-byte aligned, ``pack_slice``) and read there.
static void gemm_blocked(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                         float *c, size_t ldc, const TrawlOutputEnding *ending, Kernel kernel, float *slice) {
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = ending ? trawl_end(0, ending, i, i * ldc + j) : 0;
        return;
    }
    size_t wholeRows = (m + panelRows - 1) / panelRows * panelRows;
    size_t panels = (n + panelColumns - 1) / panelColumns;
    size_t blocks = slice ? (panels + slicePanels - 1) / slicePanels : (n + columnBlock - 1) / columnBlock;
    for (size_t block = 0; block < blocks; block++) {
        size_t firstColumn = slice ? block * panels / blocks * panelColumns : block * columnBlock;
        size_t end = slice ? (block + 1) * panels / blocks * panelColumns : firstColumn + columnBlock;
        size_t lastColumn = end < n ? end : n;
        for (size_t firstDepth = 0; firstDepth < k; firstDepth += depthBlock) {
            size_t depth = k - firstDepth < depthBlock ? k - firstDepth : depthBlock;
            int load = firstDepth > 0, last = firstDepth + depth == k;
            if (slice) pack_slice(depth, lastColumn - firstColumn, b + firstDepth * ldb + firstColumn, ldb, slice);
            for (size_t firstRow = 0; firstRow < m; firstRow += rowBlock) {
                size_t lastRow = firstRow + rowBlock < m ? firstRow + rowBlock : m;
                size_t width = kernel.panels * panelColumns;
                for (size_t column = firstColumn; column < lastColumn; column += width) {
                    size_t columns = lastColumn - column < width ? lastColumn - column : width;
                    const float *panel = slice ? slice + (column - firstColumn) * depth
                                         : ldb ? b + firstDepth * ldb + column
                                               : b + panel_offset(n, k, column, firstDepth, depth);
                    size_t panelStride = slice || !ldb ? panelColumns : ldb;
                    size_t nextPanel = slice || !ldb ? panelColumns * depth : panelColumns;
                    for (size_t row = firstRow; row < lastRow; row += panelRows) {
                        size_t rows = lastRow - row < panelRows ? lastRow - row : panelRows;
                        TrawlOutputEnding blockEnding;
                        if (last && ending) blockEnding = ending_at(ending, row, column, ldc);
                        const float *left = lda ? a + row * lda + firstDepth : a + firstDepth * wholeRows + row * depth;
                        kernel.run(rows, columns, depth, left, lda ? lda : 1, lda ? 1 : panelRows, panel, panelStride,
                                   nextPanel, c + row * ldc + column, ldc, load, last && ending ? &blockEnding : NULL);
                    }
                }
            }
        }
    }
}

/// The block kernel of this CPU: AVX-512 where it has it, else AVX2 + FMA, else the portable one
/// (all the same bits).
static Kernel best_kernel(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return (Kernel){block_avx512_dispatch, 2};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return (Kernel){block_avx2_dispatch, 1};
#endif
    return portableKernel;
}

void trawl_gemm_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                         float *c, size_t ldc) {
    gemm_blocked(m, n, k, a, lda, packedB, 0, c, ldc, NULL, portableKernel, NULL);
}

void trawl_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                float *c, size_t ldc) {
    gemm_blocked(m, n, k, a, lda, packedB, 0, c, ldc, NULL, best_kernel(), NULL);
}

/// ``gemm_blocked`` of unpacked B in two parts: the columns before B's first 64-byte boundary,
/// then the rest, so that every whole panel's 16 columns lie in one cache line per row (a panel
/// across two lines per row measured up to 25 % slower). Entries do not depend on the blocking.
static void gemm_unpacked(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                          float *c, size_t ldc, const TrawlOutputEnding *ending, Kernel kernel) {
    size_t lead = (64 - (uintptr_t)b % 64) % 64 / sizeof(float);
    if (lead >= n || (uintptr_t)b % sizeof(float)) lead = 0;
    if (lead) gemm_blocked(m, lead, k, a, lda, b, ldb, c, ldc, ending, kernel, NULL);
    TrawlOutputEnding moved;
    if (ending) moved = ending_at(ending, 0, lead, ldc);
    gemm_blocked(m, n - lead, k, a, lda, b + lead, ldb, c + lead, ldc, ending ? &moved : NULL, kernel, NULL);
}

void trawl_gemm_unpacked_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                  float *c, size_t ldc, const TrawlOutputEnding *ending) {
    gemm_unpacked(m, n, k, a, lda, b, ldb, c, ldc, ending, portableKernel);
}

void trawl_gemm_unpacked(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                         float *c, size_t ldc, const TrawlOutputEnding *ending) {
    gemm_unpacked(m, n, k, a, lda, b, ldb, c, ldc, ending, best_kernel());
}

size_t trawl_gemm_packed_a_count(size_t m, size_t k) { return (m + panelRows - 1) / panelRows * panelRows * k; }

void trawl_gemm_pack_a(size_t m, size_t k, const float *a, size_t lda, float *packedA) {
    size_t wholeRows = (m + panelRows - 1) / panelRows * panelRows;
    for (size_t firstDepth = 0; firstDepth < k; firstDepth += depthBlock) {
        size_t depth = k - firstDepth < depthBlock ? k - firstDepth : depthBlock;
        for (size_t row = 0; row < wholeRows; row += panelRows) {
            float *panel = packedA + firstDepth * wholeRows + row * depth;
            for (size_t d = 0; d < depth; d++)
                for (size_t r = 0; r < panelRows; r++)
                    panel[d * panelRows + r] = row + r < m ? a[(row + r) * lda + firstDepth + d] : 0;
        }
    }
}

size_t trawl_gemm_packing_scratch_count(void) {
    return (size_t)depthBlock * slicePanels * panelColumns + 64 / sizeof(float);
}

/// `scratch` moved up to its first 64-byte boundary.
static float *aligned_slice(float *scratch) {
    return (float *)((uintptr_t)scratch + (64 - (uintptr_t)scratch % 64) % 64);
}

void trawl_gemm_packing_portable(size_t m, size_t n, size_t k, const float *packedA, const float *b, size_t ldb,
                                 float *c, size_t ldc, const TrawlOutputEnding *ending, float *scratch) {
    gemm_blocked(m, n, k, packedA, 0, b, ldb, c, ldc, ending, portableKernel, aligned_slice(scratch));
}

void trawl_gemm_packing(size_t m, size_t n, size_t k, const float *packedA, const float *b, size_t ldb,
                        float *c, size_t ldc, const TrawlOutputEnding *ending, float *scratch) {
    gemm_blocked(m, n, k, packedA, 0, b, ldb, c, ldc, ending, best_kernel(), aligned_slice(scratch));
}
