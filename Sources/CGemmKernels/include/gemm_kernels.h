#ifndef TRAWL_GEMM_KERNELS_H
#define TRAWL_GEMM_KERNELS_H

#include <stddef.h>

/// Columns of a packed right operand's panel (``trawl_gemm_packed_offset``).
#define TRAWL_GEMM_PANEL_COLUMNS 16

/// Floats of a packed `k` × `n` right operand: ceil(n / 16) · 16 · k.
size_t trawl_gemm_packed_count(size_t k, size_t n);

/// Where entry (`depth`, `column`) of a `k` × `n` right operand lies in its packed form:
/// panels of TRAWL_GEMM_PANEL_COLUMNS columns cut into `[depth][16]` slices, laid out in the
/// order ``trawl_gemm`` reads them. A constant operand (a layer's weights) is written there
/// once; columns past `n` must be zero.
size_t trawl_gemm_packed_offset(size_t k, size_t n, size_t depth, size_t column);

/// `C[m, n] = A[m, k] · B[k, n]`: `a` row-major with row stride `lda`, `packedB` packed
/// (``trawl_gemm_packed_offset``), `c` row-major with row stride `ldc`.
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
