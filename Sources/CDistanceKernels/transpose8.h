// Private to CDistanceKernels: the 8 × 8 float transpose that packs rows into the
// dimension-major tiles its kernels read (coreset_lowering.c, nearest_kernels.c).
#ifndef TRAWL_TRANSPOSE8_H
#define TRAWL_TRANSPOSE8_H
#if defined(__x86_64__)
#include <immintrin.h>

/// `r[i]` (eight floats of row `i`) → `columns[j]` (element `j` of each row, row `i` in lane
/// `i`): three rounds of shuffles, exact copies.
__attribute__((target("avx2"), always_inline))
static inline void trawl_transpose8(const __m256 r[8], __m256 columns[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) {
        columns[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        columns[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
}
#endif
#endif
