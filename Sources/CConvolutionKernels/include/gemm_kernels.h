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
/// CPU (AVX-512 when the CPU has it, else AVX2 + FMA, else a portable loop of `fmaf`: the same
/// chains, so the same bits).
void trawl_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                float *c, size_t ldc);

/// ``trawl_gemm`` on the portable path whatever the CPU (for tests: its bits must be the same).
void trawl_gemm_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *packedB,
                         float *c, size_t ldc);

/// What a kernel does to each output entry (row `i`, offset `p` in C) as it stores it:
/// `y = clamp(y + bias[i], lower, upper)` (no addition where `bias` is NULL), then, where
/// `shortcut` is not NULL, `y = clamp(y + shortcut[p], finalLower, finalUpper)`: a layer's bias
/// and activation, then a residual block's shortcut and last activation. The clamp replaces
/// values below `lower` by `lower`, then those above `upper` by `upper` (±infinity where there is
/// no bound); NaN passes through. `shortcut` has C's layout (row stride `ldc`).
typedef struct {
    const float *bias;
    float lower, upper;
    const float *shortcut;
    float finalLower, finalUpper;
} TrawlOutputEnding;

/// ``trawl_gemm`` with B unpacked, row-major `[k, n]` with row stride `ldb` (≥ `n`): every
/// entry is the same chain, so its bits equal ``trawl_gemm``'s for the same operands; then,
/// where `ending` is not NULL, the entry is ended (``TrawlOutputEnding``) as it is stored.
/// A 1×1 convolution is `[O, C] · [C, H · W]` straight from an NCHW image, without packing.
void trawl_gemm_unpacked(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                         float *c, size_t ldc, const TrawlOutputEnding *ending);

/// ``trawl_gemm_unpacked`` on the portable path whatever the CPU (for tests: same bits).
void trawl_gemm_unpacked_portable(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                  float *c, size_t ldc, const TrawlOutputEnding *ending);

/// Floats of a packed `m` × `k` left operand: ceil(m / 6) · 6 · k.
size_t trawl_gemm_packed_a_count(size_t m, size_t k);

/// Writes row-major `a` (`m` × `k`, row stride `lda`) into `packedA` (``trawl_gemm_packed_a_count``
/// floats) in the order ``trawl_gemm_packing`` reads it: per block of 256 depths, per six
/// rows, `[depth][6]` (rows past `m` zero). A constant operand (a layer's weights) is packed once.
void trawl_gemm_pack_a(size_t m, size_t k, const float *a, size_t lda, float *packedA);

/// Floats of the scratch ``trawl_gemm_packing`` needs.
size_t trawl_gemm_packing_scratch_count(void);

/// ``trawl_gemm_unpacked`` (same bits, same ending) of a packed A (``trawl_gemm_pack_a``) that
/// first copies each block of B (256 depths, up to 208 columns) into `scratch` (``trawl_gemm_packing_scratch_count``
/// floats, their values do not matter) in ``trawl_gemm``'s panels, then runs every row of A over
/// the copy: the kernel reads A and B as sequential streams, where B as it lies is one page per
/// depth for a wide image and A six short streams per block.
void trawl_gemm_packing(size_t m, size_t n, size_t k, const float *packedA, const float *b, size_t ldb,
                        float *c, size_t ldc, const TrawlOutputEnding *ending, float *scratch);

/// ``trawl_gemm_packing`` on the portable path whatever the CPU (for tests: same bits).
void trawl_gemm_packing_portable(size_t m, size_t n, size_t k, const float *packedA, const float *b,
                                 size_t ldb, float *c, size_t ldc, const TrawlOutputEnding *ending, float *scratch);

#endif
