import CConvolutionKernels
import Foundation

/// Winograd F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for stride-1, undilated, ungrouped 3×3 convolutions, and F(2×2, 3×3) on the
/// image's polyphase components for stride-2 ones.
///
/// Each 4×4 output tile comes from the 6×6 input tile around it: the input tile is
/// transformed (`V = Bᵀ d B`), multiplied elementwise by the transformed kernel
/// (`U = G g Gᵀ`) and summed over input channels, which for all tiles of a group of
/// images at once is 36 sgemms `[tiles, C] · [C, O]`, one per position of the 6×6 transform
/// domain; `Y = Aᵀ M A` gives the outputs. That is 36 multiply-adds per tile and
/// channel pair instead of 144: counting the tiles that overhang the output, 4.0× fewer
/// multiply-adds at 56² and 28², 3.1× at 14². Interpolation points 0, ±1, ±2, ∞.
///
/// At stride 2, an output `y[i] = g0·x[2i] + g1·x[2i+1] + g2·x[2i+2]` is a 2-tap convolution of
/// the even samples plus a 1-tap one of the odd samples. Two outputs read five inputs
/// `d0 … d4`: F(2, 2) on the even ones is `g0·(d0 − d2)`, `(g0 + g2)·d2`, `g2·(d4 − d2)`, the
/// odd ones give `g1·d1`, `g1·d3`, and `y0 = m0 + m1 + m3`, `y1 = m1 + m2 + m4`. In 2-D each
/// 2×2 output tile comes from a 5×5 input tile through 25 products instead of 36
/// (1.44× fewer multiply-adds), with transforms that only add and subtract, so the
/// results are as accurate as im2col's. Tiles start every 4 input rows and columns at either
/// stride.
///
/// Layout: channels are the SIMD lanes. The image is first copied, zero-padded, into
/// blocks of eight channels interleaved per pixel (`[C / 8, H, W, 8]`), so each tile's 36
/// (25) inputs for eight channels are 36 (25) vector loads; the transformed tiles and the
/// products are `[positions, images · tiles, C]` and `[positions, images · tiles, O]`, tile-major,
/// so eight channels of one tile are one vector store or load and the products' rows are whole
/// tiles.
/// Channel counts are rounded up to whole blocks of eight with zeros.
///
/// What runs where: this type plans the scratch and the groups of images; the copy into
/// blocks, `Bᵀ d B`, and `Aᵀ m A` with the bias, activation, residual ending and the write
/// back to `[O, H', W']` run in C (`winograd_transforms.c`: AVX2, one block of eight channels
/// per 256-bit vector, 8 × 8 and 4 × 8 shuffle transposes between the layouts; at stride 1 on
/// AVX-512 CPUs the tile transforms take two blocks per 512-bit vector; or a portable loop with
/// the same bits), the products in ``trawl_gemm``. The transforms are adds,
/// subtracts and multiplications by 2, 4, 5 and 8 in a fixed order, never fused, so their
/// bits are those of the Swift code they replaced (`WinogradBitsTests` pins them).
///
/// The 36 (25) products `[tiles, C] · [C, O]` run on Trawl's own GEMM (``trawl_gemm``), with
/// each `[C, O]` packed into its panels once, when the layer first runs: OpenBLAS packed
/// these up-to-512 × 512 matrices again on every call for only 16–49 rows of work (at 14²
/// and 28²). Measured on one thread over a layer's 36 products: 85–95 GFLOP/s against
/// OpenBLAS's 55–75 with the weights in cache, 45–65 against 35–55 when they stream from
/// memory. Every entry of a product is one multiply-add chain over the channels whatever
/// the product's shape.
///
/// Accuracy: the transforms amplify rounding (coefficients up to 8 in `A`, 5 in `B`),
/// so a layer's results differ from the exact ones by a few 1e-6 of the output's magnitude
/// (im2col: about 1e-7);
/// the README's Backbones section gives the measured cost at each golden tap. The images
/// of a group share the products (their tiles are the products' rows), and each entry of
/// a product is the same fixed chain of operations whatever the other rows, so an image's
/// bits do not depend on its group, the batch or the thread count.
struct Winograd3x3: Sendable {
    /// The convolution's stride: 1 (F(4×4, 3×3)) or 2 (F(2×2, 3×3) on polyphase components).
    let stride: Int
    /// Output tile side: 4 at stride 1, 2 at stride 2.
    var tile: Int { stride == 1 ? 4 : 2 }
    /// Input tile side: 6 at stride 1, 5 at stride 2.
    var span: Int { Self.span(stride: stride) }
    static func span(stride: Int) -> Int { stride == 1 ? 6 : 5 }
    /// Positions of the transform domain (`span` squared).
    var positions: Int { span * span }
    /// Input rows (and columns) from one tile to the next: 4 at either stride.
    static let step = 4

    /// Channels of one block, side by side in one vector (`winograd_transforms.c`).
    static let lanes = 8

    /// `G g Gᵀ` for every input and output channel: for each position ξ, the `[C', O']`
    /// right operand of its product (`C'`, `O'` the channel counts rounded up to whole lane
    /// groups, zeros beyond) packed for `trawl_gemm` (`trawl_gemm_packed_offset`),
    /// `packedCount` floats each, position after position.
    let packedWeight: [Float]
    /// Floats of one position's packed `[C', O']`.
    let packedCount: Int
    let outputChannels: Int
    let inputChannels: Int
    /// `C'` and `O'`.
    let paddedInputs: Int
    let paddedOutputs: Int

    /// Whether `Conv2D` computes a convolution of this geometry with Winograd: 3×3,
    /// stride 1 or 2, no dilation or groups, and at least 16 input and output channels (below
    /// that, the transforms cost more than the multiply-adds they save). Depends on the
    /// layer's shape only, never on the batch or the thread count.
    static func applies(weight: Tensor, stride: Int, dilation: Int, groups: Int) -> Bool {
        weight.shape[2] == 3 && weight.shape[3] == 3 && (stride == 1 || stride == 2) && dilation == 1 && groups == 1
            && weight.shape[0] >= 16 && weight.shape[1] >= 16
    }

    /// `count` rounded up to whole lane groups.
    private static func wholeLanes(_ count: Int) -> Int { (count + lanes - 1) / lanes * lanes }

    /// Transforms `weight` `[O, C, 3, 3]` of a convolution of `stride` 1 or 2, in Double.
    init(weight: Tensor, stride: Int) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "Winograd needs a 3×3 kernel")
        precondition(stride == 1 || stride == 2, "Winograd runs strides 1 and 2, not \(stride)")
        self.stride = stride
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        let (paddedOutputs, paddedInputs) = (Self.wholeLanes(outputs), Self.wholeLanes(inputs))
        let packedCount = trawl_gemm_packed_count(paddedInputs, paddedOutputs)
        let span = Self.span(stride: stride)
        let kernelTransform = stride == 1 ? Self.kernelTransform : Self.kernelTransformStride2
        var packed = [Float](repeating: 0, count: span * span * packedCount)
        weight.data.withUnsafeBufferPointer { w in
            // Sixteen output channels at a time, input channels in order: the kernels are read as
            // sixteen sequential streams and each position's `[C', O']` is written in whole lines.
            for firstOutput in Swift.stride(from: 0, to: outputs, by: 16) {
                for c in 0..<inputs {
                    for o in firstOutput..<min(firstOutput + 16, outputs) {
                        let k = w.baseAddress! + (o * inputs + c) * 9
                        // G k: each kernel column through G (span × 3), in Double.
                        let column0 = kernelTransform(Double(k[0]), Double(k[3]), Double(k[6]))
                        let column1 = kernelTransform(Double(k[1]), Double(k[4]), Double(k[7]))
                        let column2 = kernelTransform(Double(k[2]), Double(k[5]), Double(k[8]))
                        // (G k) Gᵀ: each row of G k through G.
                        let offset = trawl_gemm_packed_offset(paddedInputs, paddedOutputs, c, o)
                        for i in 0..<span {
                            let row = kernelTransform(column0[i], column1[i], column2[i])
                            for j in 0..<span { packed[(i * span + j) * packedCount + offset] = Float(row[j]) }
                        }
                    }
                }
            }
        }
        self.packedWeight = packed
        self.packedCount = packedCount
        self.outputChannels = outputs
        self.inputChannels = inputs
        self.paddedOutputs = paddedOutputs
        self.paddedInputs = paddedInputs
    }

    /// Most images one ``convolve(_:count:height:width:padding:outH:outW:bias:activation:ending:into:)``
    /// call takes.
    static let largestGroup = 8

    /// Rows (tiles) a product gathers from several images: one of ``trawl_gemm``'s row
    /// blocks. Measured on one thread (WRN-50-2, four images): at 14² (16 tiles per image) a
    /// 512-channel layer takes 5.8 ms per image with its weights streamed once for four
    /// images against 6.9 ms once per image; at 56² (196 tiles) grouping made a 128-channel
    /// layer slower (6.5 ms against 5.8), its transformed tiles and products no longer in cache.
    static let groupRows = 120

    /// `count` images `[count, C, height, width]` at `images`, each zero-padded by `padding`,
    /// into `[count, O, outH, outW]` at `output`, plus `bias` (`[O]`) when given, then
    /// `activation`, then the `ending` (its shortcut laid out as `output`), if any. As many images as fit in ``groupRows`` tiles (at least one) are the rows of
    /// one product per position (`[images · tiles, C'] · [C', O']`), so each position's weights
    /// stream from memory once for them, not once per image; ``trawl_gemm``'s entries do not
    /// depend on the product's shape, so an image's outputs are the same bits whatever group
    /// it is in.
    func convolve(_ images: UnsafePointer<Float>, count: Int, height: Int, width: Int, padding: Padding2D,
                  outH: Int, outW: Int, bias: [Float]?, activation: Activation, ending: ResidualEnding?,
                  into output: UnsafeMutablePointer<Float>) {
        precondition(count >= 1 && count <= Self.largestGroup, "Winograd group of \(count) images")
        let grid = TileGrid(outH: outH, outW: outW, tile: tile)
        let perProduct = max(1, min(count, Self.groupRows / grid.count))
        let (imageCount, outputCount) = (inputChannels * height * width, outputChannels * outH * outW)
        for first in Swift.stride(from: 0, to: count, by: perProduct) {
            convolveTogether(images + first * imageCount, count: min(perProduct, count - first), grid: grid,
                             height: height, width: width, padding: padding, outH: outH, outW: outW, bias: bias,
                             activation: activation, ending: ending?.advanced(by: first * outputCount),
                             into: output + first * outputCount)
        }
    }

    /// `count` images whose tiles are the rows of one product per position.
    private func convolveTogether(_ images: UnsafePointer<Float>, count: Int, grid: TileGrid, height: Int, width: Int,
                                  padding: Padding2D, outH: Int, outW: Int, bias: [Float]?, activation: Activation,
                                  ending: ResidualEnding?, into output: UnsafeMutablePointer<Float>) {
        let tiles = grid.count, rows = count * tiles, blocks = paddedInputs / Self.lanes
        // The padded image extended with zeros to whole tiles, so loads need no bounds checks:
        // `[C' / 8, blockedHeight, blockedWidth, 8]`.
        let overhang = span - Self.step
        let (blockedHeight, blockedWidth) = (grid.down * Self.step + overhang, grid.across * Self.step + overhang)
        let blockedCount = paddedInputs * blockedHeight * blockedWidth
        let (transformedCount, productsCount) = (positions * rows * paddedInputs, positions * rows * paddedOutputs)
        let scratch = ThreadScratch.forCurrentThread.buffer(blockedCount + transformedCount + productsCount)
        let transformed = scratch + blockedCount, products = transformed + transformedCount
        let (imageCount, outputCount) = (inputChannels * height * width, outputChannels * outH * outW)
        for image in 0..<count {
            trawl_winograd_fill(images + image * imageCount, inputChannels, height, width, padding.top, padding.left,
                                scratch, blocks, blockedHeight, blockedWidth)
            trawl_winograd_transform_input(stride, scratch, blocks, blockedHeight, blockedWidth, grid.down, grid.across,
                                           transformed + image * tiles * paddedInputs, paddedInputs, rows * paddedInputs)
        }
        packedWeight.withUnsafeBufferPointer { u in
            for position in 0..<positions {
                trawl_gemm(rows, paddedOutputs, paddedInputs, transformed + position * rows * paddedInputs, paddedInputs,
                           u.baseAddress! + position * packedCount, products + position * rows * paddedOutputs, paddedOutputs)
            }
        }
        // The bias in whole blocks of eight, zeros past the outputs (and everywhere without one:
        // the transform adds it either way, as the Swift activation did).
        var paddedBias = [Float](repeating: 0, count: paddedOutputs)
        if let bias { paddedBias.replaceSubrange(0..<outputChannels, with: bias) }
        let (lower, upper) = activation.bounds
        let (finalLower, finalUpper) = (ending?.activation ?? activation).bounds
        for image in 0..<count {
            trawl_winograd_transform_output(stride, products + image * tiles * paddedOutputs, paddedOutputs, rows * paddedOutputs,
                                            grid.down, grid.across, outputChannels, paddedBias, lower[0], upper[0],
                                            ending?.shortcut.advanced(by: image * outputCount), finalLower[0],
                                            finalUpper[0], output + image * outputCount, outH, outW)
        }
    }

    /// The `tile × tile` output tiles covering an `outH × outW` output, numbered row by row.
    struct TileGrid {
        let down: Int
        let across: Int
        var count: Int { down * across }

        init(outH: Int, outW: Int, tile: Int) {
            down = (outH + tile - 1) / tile
            across = (outW + tile - 1) / tile
        }
    }

    /// The 1-D kernel transform `G g` of three values: G = [[1/4, 0, 0], [−1/6, −1/6, −1/6],
    /// [−1/6, 1/6, −1/6], [1/24, 1/12, 1/6], [1/24, −1/12, 1/6], [0, 0, 1]].
    private static func kernelTransform(_ g0: Double, _ g1: Double, _ g2: Double) -> SIMD8<Double> {
        let even = g0 + g2, big = g0 / 24 + g2 / 6
        return SIMD8(g0 / 4, -(even + g1) / 6, -(even - g1) / 6, big + g1 / 12, big - g1 / 12, g2, 0, 0)
    }

    /// The stride-2 scheme's 1-D kernel transform `G g` of three values: `g0`, `g0 + g2`, `g2`
    /// (F(2, 2) of the even taps), then `g1` twice (the odd tap, once per output).
    private static func kernelTransformStride2(_ g0: Double, _ g1: Double, _ g2: Double) -> SIMD8<Double> {
        SIMD8(g0, g0 + g2, g2, g1, g1, 0, 0, 0)
    }
}
