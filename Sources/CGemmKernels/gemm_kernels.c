#include "gemm_kernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    /// Rows of one register block.
    panelRows = 6,
    panelColumns = TRAWL_GEMM_PANEL_COLUMNS,
    /// Depth of one pass: a 256 × 16 slice of B (16 KiB) stays in L1 while the rows of a row
    /// block stream past it.
    depthBlock = 256,
    /// Rows of a row block: its 120 × 256 slice of A (120 KiB) stays in L2 while it meets every
    /// column of a column block.
    rowBlock = 120,
    /// Columns of a column block: its 256 × 192 slice of B (192 KiB) stays in L2 (or L3).
    columnBlock = 192,
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

// A block kernel: `rows` (≤ 6) × `columns` (≤ 16) entries of C at `c` over `depth` depths,
// from `a` (row-major, row stride `lda`) and `b` (a `[depth][16]` slice of one packed panel);
// each chain starts from 0, or from C's entry when `load` is 1.

static void block_portable(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, const float *b,
                           float *c, size_t ldc, int load) {
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < columns; j++) {
            float sum = load ? c[i * ldc + j] : 0;
            for (size_t d = 0; d < depth; d++)
                sum = fmaf(a[i * lda + d], b[d * panelColumns + j], sum);
            c[i * ldc + j] = sum;
        }
    }
}

#if defined(__x86_64__)
/// `rows` (1 … 6, a constant where inlined) × 16 entries in 12 registers: per depth, two
/// vector loads of B and one broadcast of A per row. With `whole` 0, only the first
/// `columns` (< 16) columns are read and written (masked).
__attribute__((target("avx2,fma"), always_inline))
static inline void block_avx2(int rows, int whole, size_t columns, size_t depth, const float *a, size_t lda, const float *b,
                              float *c, size_t ldc, int load) {
    __m256 sum[panelRows][2];
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)columns), lane);
    const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)columns - 8), lane);
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        if (!load) {
            sum[r][0] = _mm256_setzero_ps();
            sum[r][1] = _mm256_setzero_ps();
        } else if (whole) {
            sum[r][0] = _mm256_loadu_ps(line);
            sum[r][1] = _mm256_loadu_ps(line + 8);
        } else {
            sum[r][0] = _mm256_maskload_ps(line, mask0);
            sum[r][1] = _mm256_maskload_ps(line + 8, mask1);
        }
    }
    const float *left = a, *right = b;
    for (size_t d = 0; d < depth; d++) {
        __m256 b0, b1;
        if (whole) {
            b0 = _mm256_loadu_ps(right);
            b1 = _mm256_loadu_ps(right + 8);
        } else {
            b0 = _mm256_maskload_ps(right, mask0);
            b1 = _mm256_maskload_ps(right + 8, mask1);
        }
        for (int r = 0; r < rows; r++) {
            __m256 value = _mm256_broadcast_ss(left + r * lda);
            sum[r][0] = _mm256_fmadd_ps(value, b0, sum[r][0]);
            sum[r][1] = _mm256_fmadd_ps(value, b1, sum[r][1]);
        }
        left += 1;
        right += panelColumns;
    }
    for (int r = 0; r < rows; r++) {
        float *line = c + r * ldc;
        if (whole) {
            _mm256_storeu_ps(line, sum[r][0]);
            _mm256_storeu_ps(line + 8, sum[r][1]);
        } else {
            _mm256_maskstore_ps(line, mask0, sum[r][0]);
            _mm256_maskstore_ps(line + 8, mask1, sum[r][1]);
        }
    }
}

__attribute__((target("avx2,fma")))
static void block_avx2_dispatch(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, const float *b,
                                float *c, size_t ldc, int load) {
#define TRAWL_BLOCK(R)                                                                   \
    case R:                                                                              \
        if (columns == panelColumns) block_avx2(R, 1, columns, depth, a, lda, b, c, ldc, load); \
        else block_avx2(R, 0, columns, depth, a, lda, b, c, ldc, load);                        \
        break;
    switch (rows) {
        TRAWL_BLOCK(1) TRAWL_BLOCK(2) TRAWL_BLOCK(3) TRAWL_BLOCK(4) TRAWL_BLOCK(5) TRAWL_BLOCK(6)
    }
#undef TRAWL_BLOCK
}
#endif

typedef void (*BlockKernel)(size_t rows, size_t columns, size_t depth, const float *a, size_t lda, const float *b,
                            float *c, size_t ldc, int load);

/// Blocks of 192 columns, 256 depths and 120 rows, then 16 columns, then 6 rows; a depth
/// block after the first continues each entry's chain from the value the previous one stored
/// (a float, so the chain's bits are those of one unbroken pass).
static void gemm_blocked(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                         float *c, size_t ldc, BlockKernel kernel) {
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = 0;
        return;
    }
    for (size_t firstColumn = 0; firstColumn < n; firstColumn += columnBlock) {
        size_t lastColumn = firstColumn + columnBlock < n ? firstColumn + columnBlock : n;
        for (size_t firstDepth = 0; firstDepth < k; firstDepth += depthBlock) {
            size_t depth = k - firstDepth < depthBlock ? k - firstDepth : depthBlock;
            int load = firstDepth > 0;
            for (size_t firstRow = 0; firstRow < m; firstRow += rowBlock) {
                size_t lastRow = firstRow + rowBlock < m ? firstRow + rowBlock : m;
                for (size_t column = firstColumn; column < lastColumn; column += panelColumns) {
                    size_t columns = lastColumn - column < panelColumns ? lastColumn - column : panelColumns;
                    const float *panel = packedB + panel_offset(n, k, column, firstDepth, depth);
                    for (size_t row = firstRow; row < lastRow; row += panelRows) {
                        size_t rows = lastRow - row < panelRows ? lastRow - row : panelRows;
                        kernel(rows, columns, depth, a + row * lda + firstDepth, lda, panel, c + row * ldc + column, ldc,
                               load);
                    }
                }
            }
        }
    }
}

void trawl_gemm_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                         float *c, size_t ldc) {
    gemm_blocked(m, n, k, a, lda, packedB, c, ldc, block_portable);
}

void trawl_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                float *c, size_t ldc) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        gemm_blocked(m, n, k, a, lda, packedB, c, ldc, block_avx2_dispatch);
        return;
    }
#endif
    gemm_blocked(m, n, k, a, lda, packedB, c, ldc, block_portable);
}
