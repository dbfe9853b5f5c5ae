#ifndef TRAWL_GEMM_KERNELS_H
#define TRAWL_GEMM_KERNELS_H

#include <stddef.h>

/// Rows of a packed left operand's panel (``trawl_gemm_pack_left``).
#define TRAWL_GEMM_PANEL_ROWS 6
/// Columns of a packed right operand's panel (``trawl_gemm_pack_right``).
#define TRAWL_GEMM_PANEL_COLUMNS 16

/// An operand of ``trawl_gemm``: either a row-major matrix (`packed` 0, row stride `stride`)
/// or one packed once by ``trawl_gemm_pack_left`` / ``trawl_gemm_pack_right`` (`packed` 1,
/// `stride` = its depth K).
typedef struct {
    const float *data;
    size_t stride;
    int packed;
} TrawlGemmOperand;

/// Floats ``trawl_gemm_pack_left`` writes for an `m` × `k` matrix: ceil(m / 6) · 6 · k.
size_t trawl_gemm_packed_left_count(size_t m, size_t k);
/// Floats ``trawl_gemm_pack_right`` writes for a `k` × `n` matrix: ceil(n / 16) · 16 · k.
size_t trawl_gemm_packed_right_count(size_t k, size_t n);

/// Row-major `a` (`m` × `k`, row stride `lda`) into panels of TRAWL_GEMM_PANEL_ROWS rows, each
/// `[k][6]` (depth-major), panels one after another; rows past `m` are zero.
void trawl_gemm_pack_left(const float *a, size_t m, size_t k, size_t lda, float *packed);
/// Row-major `b` (`k` × `n`, row stride `ldb`) into panels of TRAWL_GEMM_PANEL_COLUMNS columns,
/// each `[k][16]`, panels one after another; columns past `n` are zero.
void trawl_gemm_pack_right(const float *b, size_t k, size_t n, size_t ldb, float *packed);

/// `C[m, n] (+)= A[m, k] · B[k, n]`, `C` row-major with row stride `ldc`.
///
/// Every entry is one chain of fused multiply-adds over `k` in order,
/// `c = fma(a[i][k−1], b[k−1][j], … fma(a[i][0], b[0][j], c₀))`, with `c₀` = 0, or `C`'s own
/// entry when `accumulate` is 1. So an entry's bits depend only on row `i` of A, column `j` of
/// B and `c₀`: never on `m`, `n`, the entry's position, the operands' layouts or the CPU
/// (AVX2 + FMA when the CPU has them, else a portable loop of `fmaf` with the same bits).
void trawl_gemm(size_t m, size_t n, size_t k, TrawlGemmOperand a, TrawlGemmOperand b,
                float *c, size_t ldc, int accumulate);

/// ``trawl_gemm`` on the portable path whatever the CPU (for tests: its bits must be the same).
void trawl_gemm_portable(size_t m, size_t n, size_t k, TrawlGemmOperand a, TrawlGemmOperand b,
                         float *c, size_t ldc, int accumulate);

#endif
