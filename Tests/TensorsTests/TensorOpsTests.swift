import Foundation
import XCTest
import Tensors
import TestSupport

/// Convolution, pooling, resize and blur against `Tests/Fixtures/tensors/reference.json`
/// (direct-loop and scipy references from `make_fixtures.py`), plus hand-worked cases.
final class TensorOpsTests: XCTestCase {
    struct Case: Decodable {
        struct Array: Decodable { let shape: [Int]; let data: [Float] }
        let input: Array
        let output: Array
        let weight: Array?
        let bias: [Float]?
        let stride: Int?
        let padding: [Int]?
        let dilation: Int?
        let groups: Int?
    }

    static let cases: [String: Case] = {
        let url = fixturesDirectory.appendingPathComponent("tensors/reference.json")
        return try! JSONDecoder().decode([String: Case].self, from: Data(contentsOf: url))
    }()

    func tensor(_ a: Case.Array) -> Tensor { Tensor(shape: a.shape, data: a.data) }

    func assertClose(_ actual: Tensor, _ expected: Case.Array, tolerance: Float = 1e-5,
                     _ name: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, name, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let worst = zip(actual.data, expected.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, "max abs error \(name)", file: file, line: line)
    }

    func testConvolutionsMatchDirectLoops() {
        for name in ["conv3x3", "conv_stride2_asym", "conv5x5_dilated", "conv_grouped",
                     "conv_depthwise_s2", "conv1x1"] {
            let c = Self.cases[name]!
            let p = c.padding!
            let conv = Conv2D(weight: tensor(c.weight!), bias: c.bias, stride: c.stride!,
                              padding: Padding2D(top: p[0], left: p[1], bottom: p[2], right: p[3]),
                              dilation: c.dilation!, groups: c.groups!)
            assertClose(conv(tensor(c.input)), c.output, tolerance: 1e-4, name)
        }
    }

    func testConvolutionOfABatchEqualsPerImageResults() {
        // Bit-identical whatever the batch: resumed caches and determinism rely on it.
        let c = Self.cases["conv3x3"]!
        let conv = Conv2D(weight: tensor(c.weight!), bias: c.bias, padding: .uniform(1))
        let one = tensor(c.input).slice(0)
        let batch = Tensor.stack([Tensor](repeating: one, count: 3))
        let expected = conv(Tensor.stack([one]))
        let out = conv(batch)
        for i in 0..<3 { XCTAssertEqual(out.slice(i), expected.slice(0)) }
    }

    func testBatchNormFoldingEqualsConvThenNormalise() {
        let c = Self.cases["conv3x3"]!
        let conv = Conv2D(weight: tensor(c.weight!), bias: c.bias, padding: .uniform(1))
        let bn = BatchNorm(scale: [1.5, -0.5, 2, 0.25, 1], shift: [0.1, 0.2, -0.3, 0, 1],
                           mean: [0.5, -1, 0, 2, 0.1], variance: [1, 4, 0.25, 9, 2], epsilon: 1e-3)
        let plain = conv(tensor(c.input))
        let folded = Conv2D(weight: tensor(c.weight!), bias: c.bias, foldingBatchNorm: bn, padding: .uniform(1))(tensor(c.input))
        let plane = plain.shape[2] * plain.shape[3]
        for i in 0..<plain.count {
            let ch = (i / plane) % 5
            let expected = (plain.data[i] - bn.mean[ch]) / (bn.variance[ch] + bn.epsilon).squareRoot()
                * bn.scale[ch] + bn.shift[ch]
            XCTAssertEqual(folded.data[i], expected, accuracy: 1e-4)
        }
    }

    func testPoolingMatchesDirectLoops() {
        let maxCase = Self.cases["maxpool_k3_s2_p1"]!
        assertClose(maxPool2d(tensor(maxCase.input), kernel: 3, stride: 2, padding: 1), maxCase.output)
        let include = Self.cases["avgpool_k3_s1_p1_include"]!
        assertClose(avgPool2d(tensor(include.input), kernel: 3, stride: 1, padding: 1), include.output)
        let exclude = Self.cases["avgpool_k3_s2_p1_exclude"]!
        assertClose(avgPool2d(tensor(exclude.input), kernel: 3, stride: 2, padding: 1,
                              countIncludePad: false), exclude.output)
    }

    /// Max pooling on rows wide enough for its eight-window SIMD path (stride 2, from the first
    /// window inside the row to the last whose loads stay inside), with the windows before and
    /// after it, against the textbook loop: every output equal.
    func testMaxPoolingOnWideRowsMatchesDirectLoop() {
        var generator = SplitMix64(seed: 3)
        for (kernel, stride, padding) in [(3, 2, 1), (2, 2, 0), (3, 2, 0), (3, 1, 1)] {
            for width in [16, 33, 57, 112] {
                let x = Tensor(shape: [2, 3, 7, width],
                               data: (0..<(2 * 3 * 7 * width)).map { _ in Float(generator.next() >> 40) / Float(1 << 23) - 1 })
                let y = maxPool2d(x, kernel: kernel, stride: stride, padding: padding)
                let (outH, outW) = (y.shape[2], y.shape[3])
                for p in 0..<6 {
                    for i in 0..<outH {
                        for j in 0..<outW {
                            var m = -Float.infinity
                            for r in i * stride - padding ..< i * stride - padding + kernel where r >= 0 && r < 7 {
                                for c in j * stride - padding ..< j * stride - padding + kernel where c >= 0 && c < width {
                                    m = max(m, x.data[(p * 7 + r) * width + c])
                                }
                            }
                            XCTAssertEqual(y.data[(p * outH + i) * outW + j], m, "k\(kernel) s\(stride) p\(padding) w\(width) (\(i), \(j))")
                        }
                    }
                }
            }
        }
    }

    func testAdaptiveAveragePoolingBins() {
        // 5 → 3 bins: rows [0,2), [1,4), [3,5) (PyTorch's floor/ceil rule).
        let x = Tensor(shape: [1, 1, 1, 5], data: [1, 2, 3, 4, 5])
        let y = adaptiveAvgPool2d(x, height: 1, width: 3)
        XCTAssertEqual(y.data, [1.5, 3, 4.5])
        let global = adaptiveAvgPool2d(Tensor(shape: [1, 2, 2, 2], data: [1, 2, 3, 4, 10, 20, 30, 40]),
                                       height: 1, width: 1)
        XCTAssertEqual(global.data, [2.5, 25])
    }

    func testBilinearResizeMatchesAlignCornersFalse() {
        let up = Self.cases["bilinear_up"]!
        assertClose(resizeBilinear(tensor(up.input), height: 12, width: 17), up.output)
        let down = Self.cases["bilinear_down"]!
        assertClose(resizeBilinear(tensor(down.input), height: 3, width: 4), down.output)
        // Hand-worked: [0, 1] upsampled ×2 → [0, 0.25, 0.75, 1].
        let line = resizeBilinear(Tensor(shape: [1, 2], data: [0, 1]), height: 1, width: 4)
        XCTAssertEqual(line.data, [0, 0.25, 0.75, 1])
    }

    func testNearestResize() {
        let x = Tensor(shape: [1, 3], data: [1, 2, 3])
        XCTAssertEqual(resizeNearest(x, height: 1, width: 6).data, [1, 1, 2, 2, 3, 3])
        XCTAssertEqual(resizeNearest(x, height: 2, width: 2).data, [1, 2, 1, 2])
    }

    func testGaussianBlurMatchesScipy() {
        let big = Self.cases["blur_sigma4"]!
        assertClose(gaussianBlur(tensor(big.input), sigma: 4), big.output, tolerance: 1e-6)
        // Radius 8 exceeds the 5×6 image: reflection must wrap more than once.
        let small = Self.cases["blur_sigma2_small"]!
        assertClose(gaussianBlur(tensor(small.input), sigma: 2), small.output, tolerance: 1e-6)
    }

    func testActivationsAndConcatenation() {
        let x = Tensor(shape: [4], data: [-1, 0.5, 3, 7])
        var r = x
        relu(&r)
        XCTAssertEqual(r.data, [0, 0.5, 3, 7])
        var r6 = x
        relu6(&r6)
        XCTAssertEqual(r6.data, [0, 0.5, 3, 6])
        var sum = x
        add(&sum, x)
        XCTAssertEqual(sum.data, [-2, 1, 6, 14])
        let a = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2, 1, 2], data: [5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(concatChannels([a, b]).data, [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
    }

    func testMatmulAndLinear() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], data: [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(matmul(a, b).data, [58, 64, 139, 154])
        let layer = Linear(weight: Tensor(shape: [1, 3], data: [1, 0, -1]), bias: [0.5])
        XCTAssertEqual(layer(a).data, [-1.5, -1.5])
    }
}
