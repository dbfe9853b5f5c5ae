import Tensors
import XCTest

/// Conv2D against a direct loop over many small geometries: strides 1–3,
/// asymmetric padding wider than the kernel reach, dilation, grouped and
/// depthwise weights, images narrower than the kernel's span. Exercises
/// every branch of im2col's row copy (all-padding rows, left and right zero
/// runs, strided gathers).
final class ConvolutionEdgeTests: XCTestCase {
    func testMatchesDirectLoopOverGeometries() {
        var generator = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        func next() -> Float { uniform(&generator) }
        var checked = 0
        for (channels, groups) in [(2, 1), (4, 2), (3, 3)] {
            for kernel in [1, 3, 5] {
                for stride in 1...3 {
                    for dilation in 1...2 {
                        for (top, left, bottom, right) in [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0), (3, 4, 2, 5)] {
                            for (height, width) in [(5, 4), (7, 9), (3, 11), (4, 2)] {
                                let padding = Padding2D(top: top, left: left, bottom: bottom, right: right)
                                let outputs = groups == channels ? channels : 4
                                let weight = randomTensor([outputs, channels / groups, kernel, kernel], &generator)
                                let conv = Conv2D(weight: weight, bias: (0..<outputs).map { _ in next() }, stride: stride,
                                                  padding: padding, dilation: dilation, groups: groups)
                                let (outH, outW) = conv.outputSize(height: height, width: width)
                                guard outH > 0 && outW > 0 else { continue }
                                let x = randomTensor([2, channels, height, width], &generator)
                                let y = conv(x)
                                let expected = directConvolution(x, conv)
                                let worst = zip(y.data, expected.data).map { abs($0 - $1) }.max() ?? 0
                                XCTAssertLessThanOrEqual(worst, 1e-5, "c\(channels) g\(groups) k\(kernel) s\(stride) d\(dilation) p\(padding) \(height)x\(width)")
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }

    /// Depthwise layers as EfficientNet-Lite has them (3×3 and 5×5, strides 1 and 2, ReLU6) on
    /// rows wide enough for several pairs of SIMD groups, an odd group count (the last group
    /// pairs with itself), a last group that overlaps its neighbour, and an odd row count.
    func testDepthwiseOnWideRowsMatchesDirectLoop() {
        var generator = SplitMix64(seed: 7)
        for (kernel, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            for (height, width) in [(9, 41), (6, 23), (5, 48)] {
                let weight = randomTensor([3, 1, kernel, kernel], &generator)
                let conv = Conv2D(weight: weight, bias: [0.5, -0.25, 0], stride: stride, padding: .uniform(kernel / 2),
                                  groups: 3, activation: .relu6)
                let x = randomTensor([2, 3, height, width], &generator)
                let expected = directConvolution(x, conv)
                let clamped = expected.data.map { min(max($0, 0), 6) }
                let worst = zip(conv(x).data, clamped).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-5, "k\(kernel) s\(stride) \(height)x\(width)")
            }
        }
    }

    /// 3×3 layers of ≥ 16 channels run as Winograd, F(4×4, 3×3) at stride 1 and F(2×2, 3×3) on
    /// the polyphase components at stride 2: against the Double direct loop on sizes that leave
    /// partial tiles at the right and bottom (odd and even sizes at stride 2), channel counts
    /// that leave partial groups of eight lanes, with symmetric, asymmetric and wide padding;
    /// each image of a batch gets the bits it gets alone. The stride-2 transforms only add and
    /// subtract, so their error is held to a tenth of stride 1's bound.
    func testWinogradMatchesDirectLoop() {
        var generator = SplitMix64(seed: 42)
        func next() -> Float { uniform(&generator) }
        for (stride, bound) in [(1, Float(1e-5)), (2, 1e-6)] {
            var worstRatio: Float = 0
            for (channels, outputs) in [(16, 24), (32, 16), (19, 21)] {
                for padding in [Padding2D.uniform(1), .uniform(0), Padding2D(top: 0, left: 1, bottom: 2, right: 3)] {
                    for (height, width) in [(14, 14), (7, 45), (3, 3), (17, 66), (28, 13)] {
                        let weight = randomTensor([outputs, channels, 3, 3], &generator)
                        let conv = Conv2D(weight: weight, bias: (0..<outputs).map { _ in next() }, stride: stride,
                                          padding: padding)
                        let (outH, outW) = conv.outputSize(height: height, width: width)
                        guard outH > 0 && outW > 0 else { continue }
                        let x = randomTensor([2, channels, height, width], &generator)
                        let y = conv(x)
                        let expected = directConvolution(x, conv)
                        let worst = zip(y.data, expected.data).map { abs($0 - $1) }.max() ?? 0
                        let ratio = worst / expected.maxMagnitude
                        worstRatio = max(worstRatio, ratio)
                        XCTAssertLessThanOrEqual(ratio, bound, "s\(stride) c\(channels) o\(outputs) p\(padding) \(height)x\(width)")
                        XCTAssertEqual(conv(Tensor.stack([x.slice(1)])).slice(0), y.slice(1), "batch and single results differ")
                    }
                }
            }
            print(String(format: "Winograd stride %d: worst max abs error / max magnitude %.2e", stride, worstRatio))
        }
    }

    /// Winograd runs several images' tiles as the rows of one product per position: at
    /// widths past the GEMM's column and depth blocks (WRN-50-2's are 256 and 512), at stride 1
    /// on 14² (16 tiles an image: seven images in one product, then one, then one in a call of
    /// its own) and at stride 2 on 28² (49 tiles: two images a product), nine images each get
    /// the bits they get alone.
    func testWinogradGroupOfImagesMatchesSingleImages() {
        var generator = SplitMix64(seed: 7)
        let (channels, outputs) = (300, 260)
        for (stride, side) in [(1, 14), (2, 28)] {
            let conv = Conv2D(weight: randomTensor([outputs, channels, 3, 3], &generator),
                              bias: (0..<outputs).map { _ in uniform(&generator) }, stride: stride, padding: .uniform(1),
                              activation: .relu)
            let x = randomTensor([9, channels, side, side], &generator)
            let batch = conv(x)
            for i in 0..<9 {
                XCTAssertEqual(conv(Tensor.stack([x.slice(i)])).slice(0), batch.slice(i),
                               "stride \(stride), image \(i): group and single results differ")
            }
        }
    }

    /// A residual block's ending fused into the convolution (`conv(x, adding: s, then: .relu)`)
    /// gives the bits of the convolution, then `add`, then `relu`, on every path: Winograd with
    /// whole and partial tiles, 1×1, strided im2col and depthwise, in batches of two.
    func testFusedResidualEndingMatchesSeparatePasses() {
        var generator = SplitMix64(seed: 11)
        let layers: [(weight: [Int], stride: Int, padding: Int, groups: Int, side: Int)] = [
            ([24, 16, 3, 3], 1, 1, 1, 16), ([24, 16, 3, 3], 1, 1, 1, 13), ([24, 16, 1, 1], 1, 0, 1, 9),
            ([24, 16, 3, 3], 2, 1, 1, 11), ([24, 16, 1, 1], 2, 0, 1, 10), ([16, 1, 3, 3], 1, 1, 16, 9),
        ]
        for layer in layers {
            let outputs = layer.weight[0]
            let conv = Conv2D(weight: randomTensor(layer.weight, &generator),
                              bias: (0..<outputs).map { _ in uniform(&generator) }, stride: layer.stride,
                              padding: .uniform(layer.padding), groups: layer.groups, activation: .relu)
            let x = randomTensor([2, 16, layer.side, layer.side], &generator)
            var expected = conv(x)
            let shortcut = randomTensor(expected.shape, &generator)
            add(&expected, shortcut)
            relu(&expected)
            XCTAssertEqual(conv(x, adding: shortcut, then: .relu), expected, "\(layer)")
        }
    }

    /// 1×1 convolutions on both of their kernels (Trawl's GEMM reading the image as it lies for
    /// few outputs over wide planes, copying it into panels block by block otherwise;
    /// `Conv2D.pointwiseReadsImageUnpacked`), with bias,
    /// ReLU6 and a residual ending: near the direct loop, and each image of a batch gets the bits
    /// it gets alone.
    func testPointwiseOnBothKernelsMatchesDirectLoop() {
        var generator = SplitMix64(seed: 12)
        for (inputs, outputs, side) in [(16, 13, 28), (300, 13, 7), (200, 13, 29), (16, 64, 29), (16, 13, 9)] {
            let conv = Conv2D(weight: randomTensor([outputs, inputs, 1, 1], &generator),
                              bias: (0..<outputs).map { _ in uniform(&generator) }, activation: .relu6)
            let x = randomTensor([3, inputs, side, side], &generator)
            let shortcut = randomTensor([3, outputs, side, side], &generator)
            let y = conv(x, adding: shortcut, then: .relu)
            var expected = directConvolution(x, conv)
            expected.data = expected.data.map { min(max($0, 0), 6) }
            add(&expected, shortcut)
            relu(&expected)
            let worst = zip(y.data, expected.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(inputs) → \(outputs) at \(side)²")
            for i in 0..<3 {
                XCTAssertEqual(conv(Tensor.stack([x.slice(i)]), adding: Tensor.stack([shortcut.slice(i)]), then: .relu).slice(0),
                               y.slice(i), "\(inputs) → \(outputs) at \(side)², image \(i): batch and single results differ")
            }
        }
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }

    /// A tensor of `shape` filled with ``uniform(_:)`` values in row-major order.
    private func randomTensor(_ shape: [Int], _ generator: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in uniform(&generator) })
    }

    /// The textbook definition, in Double.
    private func directConvolution(_ x: Tensor, _ conv: Conv2D) -> Tensor {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = conv.outputSize(height: height, width: width)
        let outputs = conv.outputChannels, groupIn = channels / conv.groups, groupOut = outputs / conv.groups
        var y = Tensor(shape: [n, outputs, outH, outW])
        for i in 0..<n {
            for o in 0..<outputs {
                let g = o / groupOut
                for oh in 0..<outH {
                    for ow in 0..<outW {
                        var sum = Double(conv.bias?[o] ?? 0)
                        for ci in 0..<groupIn {
                            let c = g * groupIn + ci
                            for ki in 0..<conv.kernelHeight {
                                for kj in 0..<conv.kernelWidth {
                                    let ih = oh * conv.stride - conv.padding.top + ki * conv.dilation
                                    let iw = ow * conv.stride - conv.padding.left + kj * conv.dilation
                                    guard ih >= 0 && ih < height && iw >= 0 && iw < width else { continue }
                                    let w = conv.weight.data[((o * groupIn + ci) * conv.kernelHeight + ki) * conv.kernelWidth + kj]
                                    sum += Double(w) * Double(x.data[((i * channels + c) * height + ih) * width + iw])
                                }
                            }
                        }
                        y.data[((i * outputs + o) * outH + oh) * outW + ow] = Float(sum)
                    }
                }
            }
        }
        return y
    }
}
