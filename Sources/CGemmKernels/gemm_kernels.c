#include "gemm_kernels.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    panelRows = TRAWL_GEMM_PANEL_ROWS,
    panelColumns = TRAWL_GEMM_PANEL_COLUMNS,
    /// Depth of one pass over a block: a 6 × 256 slice of A (6 KiB) stays in L1 while it meets
    /// every column of the block.
    depthBlock = 256,
    /// Columns of one block: its 256 × 96 slice of B (96 KiB) stays in L2 while every row meets it.
    columnBlock = 96,
};

size_t trawl_gemm_packed_left_count(size_t m, size_t k) {
    return (m + panelRows - 1) / panelRows * panelRows * k;
}

size_t trawl_gemm_packed_right_count(size_t k, size_t n) {
    return (n + panelColumns - 1) / panelColumns * panelColumns * k;
}

void trawl_gemm_pack_left(const float *a, size_t m, size_t k, size_t lda, float *packed) {
    for (size_t first = 0; first < m; first += panelRows) {
        float *panel = packed + first * k;
        for (size_t d = 0; d < k; d++)
            for (size_t r = 0; r < panelRows; r++)
                panel[d * panelRows + r] = first + r < m ? a[(first + r) * lda + d] : 0;
    }
}

void trawl_gemm_pack_right(const float *b, size_t k, size_t n, size_t ldb, float *packed) {
    for (size_t first = 0; first < n; first += panelColumns) {
        float *panel = packed + first * k;
        for (size_t d = 0; d < k; d++)
            for (size_t j = 0; j < panelColumns; j++)
                panel[d * panelColumns + j] = first + j < n ? b[d * ldb + first + j] : 0;
    }
}

/// Where a block of A starts (row `row`, a multiple of 6, depth `depth`) and how to step
/// from one of its rows, and from one depth, to the next.
typedef struct {
    const float *start;
    size_t rowStep;
    size_t depthStep;
} LeftBlock;

static LeftBlock left_block(TrawlGemmOperand a, size_t row, size_t depth) {
    if (a.packed) return (LeftBlock){ a.data + row * a.stride + depth * panelRows, 1, panelRows };
    return (LeftBlock){ a.data + row * a.stride + depth, a.stride, 1 };
}

/// Where row `depth` of B's columns from `column` (a multiple of 16) starts, and the step
/// from one depth to the next.
typedef struct {
    const float *start;
    size_t depthStep;
} RightBlock;

static RightBlock right_block(TrawlGemmOperand b, size_t depth, size_t column) {
    if (b.packed) return (RightBlock){ b.data + column * b.stride + depth * panelColumns, panelColumns };
    return (RightBlock){ b.data + depth * b.stride + column, b.stride };
}

static void block_portable(size_t rows, size_t columns, size_t depth, LeftBlock a, RightBlock b,
                           float *c, size_t ldc, int load) {
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < columns; j++) {
            float sum = load ? c[i * ldc + j] : 0;
            for (size_t d = 0; d < depth; d++)
                sum = fmaf(a.start[i * a.rowStep + d * a.depthStep], b.start[d * b.depthStep + j], sum);
            c[i * ldc + j] = sum;
        }
    }
}

#if defined(__x86_64__)
/// `rows` (1 … 6, a constant where inlined) × 16 entries in 12 registers: per depth, two
/// vector loads of B and one broadcast of A per row. With `whole` 0, only the first
/// `columns` (< 16) columns are read and written (masked).
__attribute__((target("avx2,fma"), always_inline))
static inline void block_avx2(int rows, int whole, size_t columns, size_t depth, LeftBlock a, RightBlock b,
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
    const float *left = a.start, *right = b.start;
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
            __m256 value = _mm256_broadcast_ss(left + r * a.rowStep);
            sum[r][0] = _mm256_fmadd_ps(value, b0, sum[r][0]);
            sum[r][1] = _mm256_fmadd_ps(value, b1, sum[r][1]);
        }
        left += a.depthStep;
        right += b.depthStep;
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
static void block_avx2_dispatch(size_t rows, size_t columns, size_t depth, LeftBlock a, RightBlock b,
                                float *c, size_t ldc, int load) {
#define TRAWL_BLOCK(R)                                                                   \
    case R:                                                                              \
        if (columns == panelColumns) block_avx2(R, 1, columns, depth, a, b, c, ldc, load); \
        else block_avx2(R, 0, columns, depth, a, b, c, ldc, load);                        \
        break;
    switch (rows) {
        TRAWL_BLOCK(1) TRAWL_BLOCK(2) TRAWL_BLOCK(3) TRAWL_BLOCK(4) TRAWL_BLOCK(5) TRAWL_BLOCK(6)
    }
#undef TRAWL_BLOCK
}
#endif

typedef void (*BlockKernel)(size_t rows, size_t columns, size_t depth, LeftBlock a, RightBlock b,
                            float *c, size_t ldc, int load);

/// Blocks of 96 columns, 256 depths, 6 rows, then 16 columns; a depth block after the
/// first continues each entry's chain from the value the previous one stored (a float, so
/// the chain's bits are those of one unbroken pass).
static void gemm_blocked(size_t m, size_t n, size_t k, TrawlGemmOperand a, TrawlGemmOperand b,
                         float *c, size_t ldc, int accumulate, BlockKernel kernel) {
    if (k == 0) {
        if (!accumulate)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) c[i * ldc + j] = 0;
        return;
    }
    for (size_t firstColumn = 0; firstColumn < n; firstColumn += columnBlock) {
        size_t lastColumn = firstColumn + columnBlock < n ? firstColumn + columnBlock : n;
        for (size_t firstDepth = 0; firstDepth < k; firstDepth += depthBlock) {
            size_t depth = k - firstDepth < depthBlock ? k - firstDepth : depthBlock;
            int load = accumulate || firstDepth > 0;
            for (size_t row = 0; row < m; row += panelRows) {
                size_t rows = m - row < panelRows ? m - row : panelRows;
                LeftBlock left = left_block(a, row, firstDepth);
                for (size_t column = firstColumn; column < lastColumn; column += panelColumns) {
                    size_t columns = lastColumn - column < panelColumns ? lastColumn - column : panelColumns;
                    kernel(rows, columns, depth, left, right_block(b, firstDepth, column),
                           c + row * ldc + column, ldc, load);
                }
            }
        }
    }
}

void trawl_gemm_portable(size_t m, size_t n, size_t k, TrawlGemmOperand a, TrawlGemmOperand b,
                         float *c, size_t ldc, int accumulate) {
    gemm_blocked(m, n, k, a, b, c, ldc, accumulate, block_portable);
}

void trawl_gemm(size_t m, size_t n, size_t k, TrawlGemmOperand a, TrawlGemmOperand b,
                float *c, size_t ldc, int accumulate) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        gemm_blocked(m, n, k, a, b, c, ldc, accumulate, block_avx2_dispatch);
        return;
    }
#endif
    gemm_blocked(m, n, k, a, b, c, ldc, accumulate, block_portable);
}
