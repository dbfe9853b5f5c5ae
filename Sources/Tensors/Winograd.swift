/// Winograd F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for stride-1, undilated, ungrouped 3×3 convolutions.
///
/// Each 4×4 output tile comes from the 6×6 input tile around it: the input tile is
/// transformed (`V = Bᵀ d B`), multiplied elementwise by the transformed kernel
/// (`U = G g Gᵀ`) and summed over input channels, which for all tiles of an image at
/// once is 36 sgemms `[O, C] · [C, tiles]`, one per position of the 6×6 transform
/// domain; `Y = Aᵀ M A` gives the outputs. That is 36 multiply-adds per tile and
/// channel pair instead of 144: counting the tiles that overhang the output and the
/// columns that round the tile count up to whole SIMD groups, 3.9× fewer multiply-adds
/// at 56², 3.5× at 28², 3.1× at 14². Interpolation points 0, ±1, ±2, ∞.
///
/// Accuracy: the transforms amplify rounding (coefficients up to 8 in `A`, 5 in `B`),
/// so a layer's results differ from the exact ones by a few 1e-6 of the output's magnitude
/// (im2col: about 1e-7);
/// the README's Backbones section gives the measured cost at each golden tap. Each
/// image is computed on its own with a fixed sequence of operations, so its bits do
/// not depend on the batch or the thread count.
struct Winograd3x3: Sendable {
    /// Output tile side.
    static let tile = 4
    /// Positions of the 6×6 transform domain (the input tile's side, `tile + 2`, squared).
    static let positions = 36

    /// `G g Gᵀ` for every output and input channel, `[36, O, C]` (position-major, so
    /// position ξ's matrix is the `[O, C]` left operand of its sgemm).
    let transformedWeight: [Float]
    let outputChannels: Int
    let inputChannels: Int

    /// Whether `Conv2D` computes a convolution of this geometry with Winograd: 3×3,
    /// stride 1, no dilation or groups, and at least 16 input and output channels (below
    /// that, the transforms cost more than the multiply-adds they save). Depends on the
    /// layer's shape only, never on the batch or the thread count.
    static func applies(weight: Tensor, stride: Int, dilation: Int, groups: Int) -> Bool {
        weight.shape[2] == 3 && weight.shape[3] == 3 && stride == 1 && dilation == 1 && groups == 1
            && weight.shape[0] >= 16 && weight.shape[1] >= 16
    }

    /// Transforms `weight` `[O, C, 3, 3]`, in Double.
    init(weight: Tensor) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3, "Winograd needs a 3×3 kernel")
        let (outputs, inputs) = (weight.shape[0], weight.shape[1])
        var transformed = [Float](repeating: 0, count: Self.positions * outputs * inputs)
        weight.data.withUnsafeBufferPointer { w in
            for o in 0..<outputs {
                for c in 0..<inputs {
                    let k = w.baseAddress! + (o * inputs + c) * 9
                    // G k: each kernel column through G (6 × 3), in Double.
                    let column0 = Self.kernelTransform(Double(k[0]), Double(k[3]), Double(k[6]))
                    let column1 = Self.kernelTransform(Double(k[1]), Double(k[4]), Double(k[7]))
                    let column2 = Self.kernelTransform(Double(k[2]), Double(k[5]), Double(k[8]))
                    // (G k) Gᵀ: each row of G k through G.
                    for i in 0..<6 {
                        let row = Self.kernelTransform(column0[i], column1[i], column2[i])
                        for j in 0..<6 { transformed[((i * 6 + j) * outputs + o) * inputs + c] = Float(row[j]) }
                    }
                }
            }
        }
        self.transformedWeight = transformed
        self.outputChannels = outputs
        self.inputChannels = inputs
    }

    /// One image `[C, height, width]` at `image`, zero-padded by `padding`, into
    /// `[O, outH, outW]` at `output`, plus `bias` (`[O]`) when given, then `activation`.
    func convolve(_ image: UnsafePointer<Float>, height: Int, width: Int, padding: Padding2D,
                  outH: Int, outW: Int, bias: [Float]?, activation: Activation,
                  into output: UnsafeMutablePointer<Float>) {
        let grid = TileGrid(outH: outH, outW: outW)
        let (inputs, outputs) = (inputChannels, outputChannels)
        // Tiles rounded up to whole SIMD groups; the extra columns hold zeros, then are ignored.
        let columns = grid.paddedCount
        // One channel with its padding, extended with zeros to whole tiles, so loads need no bounds checks.
        let paddedH = grid.down * Self.tile + 2, paddedW = grid.across * Self.tile + 2
        let (transformedCount, productsCount) = (Self.positions * inputs * columns, Self.positions * outputs * columns)
        let transformed = ThreadScratch.forCurrentThread.buffer(transformedCount + productsCount + paddedH * paddedW)
        let products = transformed + transformedCount, padded = products + productsCount
        padded.update(repeating: 0, count: paddedH * paddedW)
        let rows = min(height, paddedH - padding.top), count = min(width, paddedW - padding.left)
        for c in 0..<inputs {
            let plane = image + c * height * width
            for y in 0..<rows {
                (padded + (y + padding.top) * paddedW + padding.left).update(from: plane + y * width, count: count)
            }
            transformInput(padded, paddedWidth: paddedW, grid: grid, into: transformed + c * columns,
                           positionStride: inputs * columns)
        }
        transformedWeight.withUnsafeBufferPointer { u in
            for position in 0..<Self.positions {
                sgemm(m: outputs, n: columns, k: inputs,
                      a: u.baseAddress! + position * outputs * inputs, lda: inputs,
                      b: transformed + position * inputs * columns, ldb: columns,
                      c: products + position * outputs * columns, ldc: columns)
            }
        }
        for o in 0..<outputs {
            transformOutput(products + o * columns, positionStride: outputs * columns, grid: grid,
                            bias: bias?[o] ?? 0, activation: activation, into: output + o * outH * outW,
                            outH: outH, outW: outW)
        }
    }

    /// Tiles transformed side by side, one per SIMD lane.
    typealias Lanes = SIMD8<Float>

    /// The 4×4 output tiles covering an `outH × outW` output, numbered row by row.
    struct TileGrid {
        let down: Int
        let across: Int
        var count: Int { down * across }
        /// `count` rounded up to a multiple of the SIMD width.
        var paddedCount: Int { (count + Lanes.scalarCount - 1) / Lanes.scalarCount * Lanes.scalarCount }

        init(outH: Int, outW: Int) {
            down = (outH + Winograd3x3.tile - 1) / Winograd3x3.tile
            across = (outW + Winograd3x3.tile - 1) / Winograd3x3.tile
        }
    }

    /// `Bᵀ d B` of every 6×6 tile of one padded channel plane; position ξ of tile `t`
    /// goes to `into[ξ · positionStride + t]` (tiles past the grid's count get zeros).
    private func transformInput(_ plane: UnsafePointer<Float>, paddedWidth: Int, grid: TileGrid,
                                into v: UnsafeMutablePointer<Float>, positionStride: Int) {
        let lanes = Lanes.scalarCount
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: Self.positions) { buffer in
            let d = buffer.baseAddress!  // d[i · 6 + j], lane l: tile first + l
            let scalars = UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self)
            for first in stride(from: 0, to: grid.paddedCount, by: lanes) {
                for l in 0..<lanes {
                    let t = first + l
                    guard t < grid.count else {
                        for k in 0..<Self.positions { scalars[k * lanes + l] = 0 }
                        continue
                    }
                    let corner = plane + (t / grid.across) * Self.tile * paddedWidth + (t % grid.across) * Self.tile
                    for i in 0..<6 {
                        let line = corner + i * paddedWidth
                        for j in 0..<6 { scalars[(i * 6 + j) * lanes + l] = line[j] }
                    }
                }
                // Along j (each row of d), then along i.
                for i in 0..<6 {
                    let row = d + i * 6
                    let r = Self.inputTransform(row[0], row[1], row[2], row[3], row[4], row[5])
                    row[0] = r.0; row[1] = r.1; row[2] = r.2; row[3] = r.3; row[4] = r.4; row[5] = r.5
                }
                for j in 0..<6 {
                    let c = Self.inputTransform(d[j], d[6 + j], d[12 + j], d[18 + j], d[24 + j], d[30 + j])
                    func store(_ value: Lanes, _ i: Int) {
                        UnsafeMutableRawPointer(v + (i * 6 + j) * positionStride + first).storeBytes(of: value, as: Lanes.self)
                    }
                    store(c.0, 0); store(c.1, 1); store(c.2, 2); store(c.3, 3); store(c.4, 4); store(c.5, 5)
                }
            }
        }
    }

    /// `Aᵀ m A` of every tile of one output channel, plus `bias`, then `activation`,
    /// clipped to `outH × outW`.
    private func transformOutput(_ m: UnsafePointer<Float>, positionStride: Int, grid: TileGrid,
                                 bias: Float, activation: Activation, into output: UnsafeMutablePointer<Float>, outH: Int, outW: Int) {
        let lanes = Lanes.scalarCount
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 24) { buffer in
            let rows = buffer.baseAddress!  // rows[i · 4 + j]: row i of m transformed along j, then y[i][j]
            let scalars = UnsafeMutableRawPointer(rows).assumingMemoryBound(to: Float.self)
            for first in stride(from: 0, to: grid.paddedCount, by: lanes) {
                func load(_ position: Int) -> Lanes {
                    UnsafeRawPointer(m + position * positionStride + first).loadUnaligned(as: Lanes.self)
                }
                for i in 0..<6 {
                    let r = Self.outputTransform(load(i * 6), load(i * 6 + 1), load(i * 6 + 2),
                                                 load(i * 6 + 3), load(i * 6 + 4), load(i * 6 + 5))
                    let row = rows + i * 4
                    row[0] = r.0; row[1] = r.1; row[2] = r.2; row[3] = r.3
                }
                for j in 0..<4 {
                    let y = Self.outputTransform(rows[j], rows[4 + j], rows[8 + j], rows[12 + j],
                                                 rows[16 + j], rows[20 + j])
                    rows[j] = activation(y.0 + bias)
                    rows[4 + j] = activation(y.1 + bias)
                    rows[8 + j] = activation(y.2 + bias)
                    rows[12 + j] = activation(y.3 + bias)
                }
                for l in 0..<min(lanes, grid.count - first) {
                    let t = first + l
                    let (top, left) = ((t / grid.across) * Self.tile, (t % grid.across) * Self.tile)
                    let corner = output + top * outW + left
                    if top + Self.tile <= outH && left + Self.tile <= outW {
                        for i in 0..<4 {
                            for j in 0..<4 { corner[i * outW + j] = scalars[(i * 4 + j) * lanes + l] }
                        }
                    } else {
                        for i in 0..<min(4, outH - top) {
                            for j in 0..<min(4, outW - left) { corner[i * outW + j] = scalars[(i * 4 + j) * lanes + l] }
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
