import CConvolutionKernels
import Tensors
import XCTest

/// `trawl_depthwise`: every output is its bias, then each tap's product added row by row over
/// the kernel, padding included (each product rounded, then the sum: no fused multiply-add),
/// then clamped, bit for bit, whatever the image's size, the output's position in its row and
/// register block, and the CPU path (AVX2 or portable).
final class DepthwiseKernelTests: XCTestCase {
    /// 3×3 and 5×5 kernels, strides 1 and 2 (and a dilated 3×3), TensorFlow "same" and wider
    /// asymmetric padding, rows narrower than a group, one group wide, whole and partial
    /// register blocks with an overlapping last group, odd row and channel counts; inputs with
    /// ±0, infinity and NaN; no bias, and identity, ReLU and ReLU6 bounds.
    func testBothPathsMatchTheSerialSumBitForBit() {
        var generator = SplitMix64(seed: 2026)
        var checked = 0
        for (kernel, stride, dilation) in [(3, 1, 1), (3, 2, 1), (5, 1, 1), (5, 2, 1), (3, 1, 2)] {
            for (height, width) in [(1, 1), (3, 5), (19, 7), (9, 16), (10, 13), (8, 28), (5, 40), (15, 71)] {
                for (lower, upper) in [(-Float.infinity, Float.infinity), (0, .infinity), (0, 6)] {
                    let reach = (kernel - 1) * dilation
                    let (top, left) = checked % 2 == 0 ? (reach / 2, reach / 2) : (reach, 1)
                    let (bottom, right) = checked % 2 == 0 ? (reach - reach / 2, reach - reach / 2) : (0, reach + 2)
                    let outH = (height + top + bottom - reach - 1) / stride + 1
                    let outW = (width + left + right - reach - 1) / stride + 1
                    guard outH > 0 && outW > 0 else { continue }
                    var layer = TrawlDepthwiseLayer(height: height, width: width, kernelHeight: kernel,
                                                    kernelWidth: kernel, stride: stride, dilation: dilation, top: top,
                                                    left: left, outH: outH, outW: outW, lower: lower, upper: upper)
                    let channels = 3
                    var input = (0..<channels * height * width).map { _ in uniform(&generator) * 4 }
                    // One infinity and one NaN at most: never two NaNs in a sum, whose payload
                    // would depend on the operands' order.
                    for special in [Float(0), -0, .infinity, .nan] {
                        input[Int(generator.next() % UInt64(input.count))] = special
                    }
                    // Nonzero weights: ∞ · 0 would be a second NaN.
                    let weights = (0..<channels * kernel * kernel).map { _ in uniform(&generator) }.map { $0 == 0 ? 0.5 : $0 }
                    let bias: [Float]? = checked % 3 == 0 ? nil : (0..<channels).map { _ in uniform(&generator) }
                    let expected = serialSum(input, layer, channels: channels, weights: weights, bias: bias)
                    for portable in [false, true] {
                        let output = depthwise(&layer, channels: channels, input, weights: weights, bias: bias,
                                               portable: portable)
                        XCTAssertEqual(output.map(\.bitPattern), expected.map(\.bitPattern),
                                       "k\(kernel) s\(stride) d\(dilation) \(height)×\(width) [\(lower), \(upper)] portable \(portable)")
                    }
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 90)
    }

    /// `[channels, outH, outW]`, then eight floats past them that must stay −7 (nothing written past the image).
    private func depthwise(_ layer: inout TrawlDepthwiseLayer, channels: Int, _ input: [Float], weights: [Float],
                           bias: [Float]?, portable: Bool) -> [Float] {
        let count = channels * layer.outH * layer.outW
        var output = [Float](repeating: -7, count: count + 8)
        var scratch = [Float](repeating: .nan, count: trawl_depthwise_scratch_count(&layer))
        if portable {
            trawl_depthwise_portable(&layer, channels, input, weights, bias, &scratch, &output)
        } else {
            trawl_depthwise(&layer, channels, input, weights, bias, &scratch, &output)
        }
        XCTAssertEqual(Array(output[count...]), [Float](repeating: -7, count: 8), "written past the image")
        return Array(output[..<count])
    }

    /// The definition, one output at a time, in Swift (which never fuses a multiply and an add).
    private func serialSum(_ input: [Float], _ layer: TrawlDepthwiseLayer, channels: Int, weights: [Float],
                           bias: [Float]?) -> [Float] {
        let (kh, kw, s, d) = (layer.kernelHeight, layer.kernelWidth, layer.stride, layer.dilation)
        var output: [Float] = []
        for c in 0..<channels {
            for oh in 0..<layer.outH {
                for ow in 0..<layer.outW {
                    var sum = bias?[c] ?? 0
                    for ki in 0..<kh {
                        for kj in 0..<kw {
                            let (iy, ix) = (oh * s - layer.top + ki * d, ow * s - layer.left + kj * d)
                            let inside = iy >= 0 && iy < layer.height && ix >= 0 && ix < layer.width
                            let x = inside ? input[(c * layer.height + iy) * layer.width + ix] : 0
                            let product = weights[(c * kh + ki) * kw + kj] * x
                            sum = sum + product
                        }
                    }
                    if sum < layer.lower { sum = layer.lower }
                    if sum > layer.upper { sum = layer.upper }
                    output.append(sum)
                }
            }
        }
        return output
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }
}
