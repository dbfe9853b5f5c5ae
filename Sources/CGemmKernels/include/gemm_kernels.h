#ifndef TRAWL_GEMM_KERNELS_H
#define TRAWL_GEMM_KERNELS_H

#include <stddef.h>

/// Columns of a packed right operand's panel (``trawl_gemm_pack_right``).
#define TRAWL_GEMM_PANEL_COLUMNS 16

/// Floats ``trawl_gemm_pack_right`` writes for a `k` × `n` matrix: ceil(n / 16) · 16 · k.
size_t trawl_gemm_packed_right_count(size_t k, size_t n);

/// Row-major `b` (`k` × `n`, row stride `ldb`) into panels of TRAWL_GEMM_PANEL_COLUMNS columns,
/// cut into `[depth][16]` slices laid out in the order ``trawl_gemm`` reads them; columns past
/// `n` are zero. Done once for a constant operand (a layer's weights).
void trawl_gemm_pack_right(const float *b, size_t k, size_t n, size_t ldb, float *packed);

/// `C[m, n] = A[m, k] · B[k, n]`: `a` row-major with row stride `lda`, `packedB` written by
/// ``trawl_gemm_pack_right``, `c` row-major with row stride `ldc`.
///
/// Every entry is one chain of fused multiply-adds over `k` in order,
/// `c = fma(a[i][k−1], b[k−1][j], … fma(a[i][0], b[0][j], 0))`. So an entry's bits depend
/// only on row `i` of A and column `j` of B: never on `m`, `n`, the entry's position or the
/// CPU (AVX2 + FMA when the CPU has them, else a portable loop of `fmaf` with the same bits).
void trawl_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                float *c, size_t ldc);

/// ``trawl_gemm`` on the portable path whatever the CPU (for tests: its bits must be the same).
void trawl_gemm_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                         float *c, size_t ldc);

#endif
