#ifndef TRAWL_WINOGRAD_TRANSFORMS_H
#define TRAWL_WINOGRAD_TRANSFORMS_H

#include <stddef.h>

// The data transforms of `Winograd3x3` (Sources/Tensors/Winograd.swift): the input image into
// blocks of eight channels, `Bᵀ d B` of its tiles, and `Aᵀ m A` of the products with the output
// ending. `stride` 1 is F(4×4, 3×3): 6×6 input tiles, 36 positions, 4×4 output tiles. `stride` 2
// is F(2×2, 3×3) at stride 2 on the image's polyphase components: 5×5 input tiles, 25
// positions, 2×2 output tiles. Either way tile (ty, tx) starts at row 4·ty, column 4·tx of the
// blocked image. Eight channels are one vector (AVX2 when the CPU has it, else a portable loop
// with the same bits: the transforms are adds, subtracts and multiplications by 2, 4, 5 and 8 in
// a fixed order, never fused).

/// Writes the image `[channels, height, width]` at `image` into `blocked`
/// `[blocks, blockedHeight, blockedWidth, 8]` (channel `c` in block `c / 8`, lane `c % 8`),
/// offset by `top` rows and `left` columns, cut at the blocked image's edges, zeros everywhere
/// else (`blocks · 8 ≥ channels`).
void trawl_winograd_fill(const float *image, size_t channels, size_t height, size_t width, size_t top, size_t left,
                         float *blocked, size_t blocks, size_t blockedHeight, size_t blockedWidth);

/// `Bᵀ d B` of the `tilesDown × tilesAcross` tiles of `blocked` for the convolution's `stride`
/// (1 or 2; laid out as ``trawl_winograd_fill`` writes it, at least `4 · tiles + 2` on each side at
/// stride 1, `4 · tiles + 1` at stride 2): position ξ (0 … 35, or 0 … 24, row-major in the
/// transform domain) of tile `t = ty · tilesAcross + tx`, channel `c`, goes to
/// `v[ξ · positionStride + t · tileStride + c]`.
void trawl_winograd_transform_input(size_t stride, const float *blocked, size_t blocks, size_t blockedHeight,
                                    size_t blockedWidth, size_t tilesDown, size_t tilesAcross, float *v,
                                    size_t tileStride, size_t positionStride);

/// `Aᵀ m A` for the convolution's `stride` of every tile and of the first `channels` channels
/// of the products `m` (position ξ of tile `t`, channel `o` at
/// `m[ξ · positionStride + t · tileStride + o]`), plus `bias[o]` (`bias` holds whole blocks of eight: zeros past `channels`, and all zeros for a layer
/// without bias), clamped to `lower…upper` (the activation), cut to `outH × outW` and written to
/// `output` `[channels, outH, outW]`; then, when `shortcut` (laid out as `output`) is not NULL,
/// each output plus its shortcut clamped to `finalLower…finalUpper`.
void trawl_winograd_transform_output(size_t stride, const float *m, size_t tileStride, size_t positionStride,
                                     size_t tilesDown, size_t tilesAcross, size_t channels, const float *bias,
                                     float lower, float upper, const float *shortcut, float finalLower,
                                     float finalUpper, float *output, size_t outH, size_t outW);

/// The three transforms on the portable path whatever the CPU (for tests: their bits must be
/// the same).
void trawl_winograd_fill_portable(const float *image, size_t channels, size_t height, size_t width, size_t top,
                                  size_t left, float *blocked, size_t blocks, size_t blockedHeight,
                                  size_t blockedWidth);
void trawl_winograd_transform_input_portable(size_t stride, const float *blocked, size_t blocks, size_t blockedHeight,
                                             size_t blockedWidth, size_t tilesDown, size_t tilesAcross, float *v,
                                             size_t tileStride, size_t positionStride);
void trawl_winograd_transform_output_portable(size_t stride, const float *m, size_t tileStride,
                                              size_t positionStride, size_t tilesDown, size_t tilesAcross,
                                              size_t channels, const float *bias, float lower, float upper,
                                              const float *shortcut, float finalLower, float finalUpper,
                                              float *output, size_t outH, size_t outW);

#endif
