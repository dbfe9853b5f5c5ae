import CGemmKernels
import Foundation

/// A layer's ``Winograd3x3`` weights, transformed when the layer first runs: a network built
/// whole but run only to an early tap (WRN-50-2 to `layer3`) never transforms the later layers'
/// weights (`layer4`'s three 1024-channel 3×3 layers: 36 × 1024 × 1024 floats each, 432 MiB
/// together), nor faults in their pages. Shared by copies of the layer (``Conv2D/withPadding(_:)``);
/// the first caller transforms, concurrent ones wait for it.
final class LazyWinograd: @unchecked Sendable {
    private let weight: Tensor
    private var value: Winograd3x3?
    private let lock = NSLock()

    init(weight: Tensor) { self.weight = weight }

    var transformed: Winograd3x3 {
        lock.lock()
        defer { lock.unlock() }
        if let value { return value }
        let made = Winograd3x3(weight: weight)
        value = made
        return made
    }
}

/// Winograd F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for stride-1, undilated, ungrouped 3×3 convolutions.
///
/// Each 4×4 output tile comes from the 6×6 input tile around it: the input tile is
/// transformed (`V = Bᵀ d B`), multiplied elementwise by the transformed kernel
/// (`U = G g Gᵀ`) and summed over input channels, which for all tiles of a group of
/// images at once is 36 sgemms `[tiles, C] · [C, O]`, one per position of the 6×6 transform
/// domain; `Y = Aᵀ M A` gives the outputs. That is 36 multiply-adds per tile and
/// channel pair instead of 144: counting the tiles that overhang the output, 4.0× fewer
/// multiply-adds at 56² and 28², 3.1× at 14². Interpolation points 0, ±1, ±2, ∞.
///
/// Layout: channels are the SIMD lanes. The image is first copied, zero-padded, into
/// blocks of eight channels interleaved per pixel (`[C / 8, H, W, 8]`), so each tile's 36
/// inputs for eight channels are 36 aligned vector loads; the transformed tiles and the
/// products are `[36, images · tiles, C]` and `[36, images · tiles, O]`, tile-major, so eight channels
/// of one tile are one vector store or load and the products' rows are whole tiles.
/// Channel counts are rounded up to whole blocks of eight with zeros.
///
/// The 36 products `[tiles, C] · [C, O]` run on Trawl's own GEMM (``trawl_gemm``), with
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
    /// Output tile side.
    static let tile = 4
    /// Positions of the 6×6 transform domain (the input tile's side, `tile + 2`, squared).
    static let positions = 36

    /// Eight channels side by side, one per SIMD lane.
    typealias Lanes = SIMD8<Float>
    static let lanes = Lanes.scalarCount

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
    /// stride 1, no dilation or groups, and at least 16 input and output channels (below
    /// that, the transforms cost more than the multiply-adds they save). Depends on the
    /// layer's shape only, never on the batch or the thread count.
    static func applies(weight: Tensor, stride: Int, dilation: Int, groups: Int) -> Bool {
        weight.shape[2] == 3 && weight.shape[3] == 3 && stride == 1 && dilation == 1 && groups == 1
            && weight.shape[0] >= 16 && weight.shape[1] >= 16
    }

    /// `count` rounded up to whole lane groups.
    private static func wholeLanes(_ count: Int) -> Int { (count + lanes - 1) / lanes * lanes }

    /// Transforms `weight` `[O, C, 3, 3]`, in Double.
    init(weight: Tensor) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "Winograd needs a 3×3 kernel")
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        let (paddedOutputs, paddedInputs) = (Self.wholeLanes(outputs), Self.wholeLanes(inputs))
        let packedCount = trawl_gemm_packed_count(paddedInputs, paddedOutputs)
        var packed = [Float](repeating: 0, count: Self.positions * packedCount)
        weight.data.withUnsafeBufferPointer { w in
            // Sixteen output channels at a time, input channels in order: the kernels are read as
            // sixteen sequential streams and each position's `[C', O']` is written in whole lines.
            for firstOutput in stride(from: 0, to: outputs, by: 16) {
                for c in 0..<inputs {
                    for o in firstOutput..<min(firstOutput + 16, outputs) {
                        let k = w.baseAddress! + (o * inputs + c) * 9
                        // G k: each kernel column through G (6 × 3), in Double.
                        let column0 = Self.kernelTransform(Double(k[0]), Double(k[3]), Double(k[6]))
                        let column1 = Self.kernelTransform(Double(k[1]), Double(k[4]), Double(k[7]))
                        let column2 = Self.kernelTransform(Double(k[2]), Double(k[5]), Double(k[8]))
                        // (G k) Gᵀ: each row of G k through G.
                        let offset = trawl_gemm_packed_offset(paddedInputs, paddedOutputs, c, o)
                        for i in 0..<6 {
                            let row = Self.kernelTransform(column0[i], column1[i], column2[i])
                            for j in 0..<6 { packed[(i * 6 + j) * packedCount + offset] = Float(row[j]) }
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
        let grid = TileGrid(outH: outH, outW: outW)
        let perProduct = max(1, min(count, Self.groupRows / grid.count))
        let (imageCount, outputCount) = (inputChannels * height * width, outputChannels * outH * outW)
        for first in stride(from: 0, to: count, by: perProduct) {
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
        let tiles = grid.count, rows = count * tiles
        // The padded image extended with zeros to whole tiles, so loads need no bounds checks.
        let blocked = BlockedImage(height: grid.down * Self.tile + 2, width: grid.across * Self.tile + 2,
                                   channels: paddedInputs)
        let (transformedCount, productsCount) = (Self.positions * rows * paddedInputs, Self.positions * rows * paddedOutputs)
        let scratch = ThreadScratch.forCurrentThread.buffer(blocked.count + transformedCount + productsCount)
        let transformed = scratch + blocked.count, products = transformed + transformedCount
        let (imageCount, outputCount) = (inputChannels * height * width, outputChannels * outH * outW)
        for image in 0..<count {
            blocked.fill(scratch, from: images + image * imageCount, channels: inputChannels, height: height,
                         width: width, padding: padding)
            transformInput(blocked, at: scratch, grid: grid, positionStride: rows * paddedInputs,
                           into: transformed + image * tiles * paddedInputs)
        }
        packedWeight.withUnsafeBufferPointer { u in
            for position in 0..<Self.positions {
                trawl_gemm(rows, paddedOutputs, paddedInputs, transformed + position * rows * paddedInputs, paddedInputs,
                           u.baseAddress! + position * packedCount, products + position * rows * paddedOutputs, paddedOutputs)
            }
        }
        for image in 0..<count {
            transformOutput(products + image * tiles * paddedOutputs, grid: grid, positionStride: rows * paddedOutputs,
                            bias: bias, activation: activation, ending: ending?.advanced(by: image * outputCount),
                            into: output + image * outputCount, outH: outH, outW: outW)
        }
    }

    /// The 4×4 output tiles covering an `outH × outW` output, numbered row by row.
    struct TileGrid {
        let down: Int
        let across: Int
        var count: Int { down * across }

        init(outH: Int, outW: Int) {
            down = (outH + Winograd3x3.tile - 1) / Winograd3x3.tile
            across = (outW + Winograd3x3.tile - 1) / Winograd3x3.tile
        }
    }

    /// An image in blocks of eight channels interleaved per pixel, `[channels / 8, height, width, 8]`.
    struct BlockedImage {
        let height: Int
        let width: Int
        /// A whole number of lane groups.
        let channels: Int
        var count: Int { channels * height * width }
        /// Floats from one lane group to the next.
        var blockStride: Int { height * width * Winograd3x3.lanes }

        /// Writes `[channels, imageHeight, imageWidth]` at `image` into `buffer`, offset by
        /// `padding.top` rows and `padding.left` columns, with zeros everywhere else.
        func fill(_ buffer: UnsafeMutablePointer<Float>, from image: UnsafePointer<Float>, channels imageChannels: Int,
                  height imageHeight: Int, width imageWidth: Int, padding: Padding2D) {
            let lanes = Winograd3x3.lanes
            buffer.update(repeating: 0, count: count)
            let rows = min(imageHeight, height - padding.top), columns = min(imageWidth, width - padding.left)
            for c in 0..<imageChannels {
                let plane = image + c * imageHeight * imageWidth
                let block = buffer + (c / lanes) * blockStride + c % lanes
                for y in 0..<rows {
                    let source = plane + y * imageWidth
                    let line = block + ((y + padding.top) * width + padding.left) * lanes
                    for x in 0..<columns { line[x * lanes] = source[x] }
                }
            }
        }
    }

    /// `Bᵀ d B` of every 6×6 tile of the blocked image at `buffer`: position ξ of tile `t`,
    /// channel `c`, goes to `into[ξ · positionStride + t · C' + c]`.
    private func transformInput(_ image: BlockedImage, at buffer: UnsafePointer<Float>, grid: TileGrid,
                                positionStride: Int, into v: UnsafeMutablePointer<Float>) {
        let lanes = Self.lanes
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: Self.positions) { scratch in
            let d = scratch.baseAddress!  // d[i · 6 + j]: the tile's row i, column j, eight channels
            for ty in 0..<grid.down {
                for tx in 0..<grid.across {
                    let t = ty * grid.across + tx
                    for block in 0..<paddedInputs / lanes {
                        let corner = buffer + block * image.blockStride + (ty * image.width + tx) * Self.tile * lanes
                        // Along j (each row of the tile), then along i.
                        for i in 0..<6 {
                            let line = UnsafeRawPointer(corner + i * image.width * lanes)
                            func load(_ j: Int) -> Lanes { line.loadUnaligned(fromByteOffset: j * lanes * 4, as: Lanes.self) }
                            let r = Self.inputTransform(load(0), load(1), load(2), load(3), load(4), load(5))
                            let row = d + i * 6
                            row[0] = r.0; row[1] = r.1; row[2] = r.2; row[3] = r.3; row[4] = r.4; row[5] = r.5
                        }
                        let destination = UnsafeMutableRawPointer(v + t * paddedInputs + block * lanes)
                        for j in 0..<6 {
                            let c = Self.inputTransform(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j])
                            func store(_ value: Lanes, _ i: Int) {
                                destination.storeBytes(of: value, toByteOffset: (i * 6 + j) * positionStride * 4, as: Lanes.self)
                            }
                            store(c.0, 0); store(c.1, 1); store(c.2, 2); store(c.3, 3); store(c.4, 4); store(c.5, 5)
                        }
                    }
                }
            }
        }
    }

    /// `Aᵀ m A` of every tile and output channel of the products `m` (position ξ of tile `t`,
    /// channel `o` at `m[ξ · positionStride + t · O' + o]`), plus `bias`, then `activation`,
    /// clipped to `outH × outW` and written to `[O, outH, outW]`, then the `ending`, if any.
    private func transformOutput(_ m: UnsafePointer<Float>, grid: TileGrid, positionStride: Int, bias: [Float]?,
                                 activation: Activation, ending: ResidualEnding?,
                                 into output: UnsafeMutablePointer<Float>, outH: Int, outW: Int) {
        let lanes = Self.lanes
        var padded = [Float](repeating: 0, count: paddedOutputs)
        if let bias { padded.replaceSubrange(0..<outputChannels, with: bias) }
        let biases = stride(from: 0, to: paddedOutputs, by: lanes).map { Lanes(padded[$0 ..< $0 + lanes]) }
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 24) { scratch in
            let rows = scratch.baseAddress!  // rows[i · 4 + j]: row i of m transformed along j, then y[i][j]
            let scalars = UnsafeRawPointer(rows).assumingMemoryBound(to: Float.self)
            // Sixteen channels (a 64-byte line of the products) over all tiles at a time, so the
            // sixteen output planes being written stay in cache until their lines are whole.
            let blocks = (outputChannels + lanes - 1) / lanes
            for firstBlock in stride(from: 0, to: blocks, by: 2) {
                for ty in 0..<grid.down {
                    for tx in 0..<grid.across {
                        let t = ty * grid.across + tx
                        let (top, left) = (ty * Self.tile, tx * Self.tile)
                        let (tileH, tileW) = (min(Self.tile, outH - top), min(Self.tile, outW - left))
                        for block in firstBlock..<min(firstBlock + 2, blocks) {
                            let source = UnsafeRawPointer(m + t * paddedOutputs + block * lanes)
                            func load(_ position: Int) -> Lanes {
                                source.loadUnaligned(fromByteOffset: position * positionStride * 4, as: Lanes.self)
                            }
                            for i in 0..<6 {
                                let r = Self.outputTransform(load(i * 6), load(i * 6 + 1), load(i * 6 + 2),
                                                             load(i * 6 + 3), load(i * 6 + 4), load(i * 6 + 5))
                                let row = rows + i * 4
                                row[0] = r.0; row[1] = r.1; row[2] = r.2; row[3] = r.3
                            }
                            let b = biases[block]
                            for j in 0..<4 {
                                let y = Self.outputTransform(rows[j], rows[4 + j], rows[8 + j], rows[12 + j],
                                                             rows[16 + j], rows[20 + j])
                                rows[j] = activation(y.0 + b)
                                rows[4 + j] = activation(y.1 + b)
                                rows[8 + j] = activation(y.2 + b)
                                rows[12 + j] = activation(y.3 + b)
                            }
                            for l in 0..<min(lanes, outputChannels - block * lanes) {
                                let offset = ((block * lanes + l) * outH + top) * outW + left
                                for i in 0..<tileH {
                                    let at = offset + i * outW
                                    let s = scalars + i * 4 * lanes + l  // row i of channel l: s[j · lanes]
                                    if tileW == Self.tile {
                                        // A whole row of the tile as one vector store.
                                        var row = SIMD4(s[0], s[lanes], s[2 * lanes], s[3 * lanes])
                                        if let ending { row = ending(row, at: at) }
                                        UnsafeMutableRawPointer(output + at).storeBytes(of: row, as: SIMD4<Float>.self)
                                    } else {
                                        for j in 0..<tileW {
                                            output[at + j] = ending.map { $0(s[j * lanes], at: at + j) } ?? s[j * lanes]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The 1-D kernel transform `G g` of three values: G = [[1/4, 0, 0], [−1/6, −1/6, −1/6],
    /// [−1/6, 1/6, −1/6], [1/24, 1/12, 1/6], [1/24, −1/12, 1/6], [0, 0, 1]].
    private static func kernelTransform(_ g0: Double, _ g1: Double, _ g2: Double) -> SIMD8<Double> {
        let even = g0 + g2, big = g0 / 24 + g2 / 6
        return SIMD8(g0 / 4, -(even + g1) / 6, -(even - g1) / 6, big + g1 / 12, big - g1 / 12, g2, 0, 0)
    }

    /// The 1-D input transform `Bᵀ d` of six values.
    @inline(__always)
    private static func inputTransform(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let a = d4 - 4 * d2, b = d3 - 4 * d1      // r1 = a + b, r2 = a − b
        let c = d4 - d2, e = 2 * (d3 - d1)        // r3 = c + e, r4 = c − e
        return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
    }

    /// The 1-D output transform `Aᵀ m` of six values.
    @inline(__always)
    private static func outputTransform(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes) {
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        return (m0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + m5)
    }
}
