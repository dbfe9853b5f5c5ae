import CGemmKernels
import Tensors
import XCTest

/// `trawl_depthwise_channel`: every output is its bias, then each tap's product added in tap
/// order (each product rounded, then the sum: no fused multiply-add), then clamped, bit for bit,
/// whatever the row's width, the output's position in its row and register block, and the CPU
/// path (AVX2 or portable).
final class DepthwiseKernelTests: XCTestCase {
    /// 3×3 and 5×5 taps (stride 1 and 2 layouts), rows narrower than a group, one group wide,
    /// whole and partial register blocks with an overlapping last group, odd row counts; inputs
    /// with ±0, infinity and NaN where they reach the clamp; identity, ReLU and ReLU6 bounds.
    func testBothPathsMatchTheSerialSumBitForBit() {
        var generator = SplitMix64(seed: 2026)
        var checked = 0
        for (kernel, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            for (outH, outW) in [(1, 1), (3, 5), (2, 8), (5, 13), (4, 28), (3, 40), (7, 71)] {
                for (lower, upper) in [(-Float.infinity, Float.infinity), (0, .infinity), (0, 6)] {
                    // Phases of `stride` columns as Sources/Tensors/DepthwiseConvolution.swift lays them out.
                    let rows = (outH - 1) * stride + kernel
                    let phaseWidth = (outW + 7) / 8 * 8 + (kernel - 1) / stride
                    let taps = (0..<kernel * kernel).map { t -> Int in
                        let (ki, column) = (t / kernel, t % kernel)
                        return ((column % stride) * rows + ki) * phaseWidth + column / stride
                    }
                    var padded = (0..<stride * rows * phaseWidth).map { _ in uniform(&generator) * 4 }
                    // One infinity and one NaN at most: never two NaNs in a sum, whose payload would depend on operand order.
                    for special in [Float(0), -0, .infinity, .nan] {
                        padded[Int(generator.next() % UInt64(padded.count))] = special
                    }
                    let weights = (0..<kernel * kernel).map { _ in uniform(&generator) }.map { $0 == 0 ? 0.5 : $0 }  // ∞ · 0 would be a second NaN
                    let bias = [uniform(&generator), 0, -0][checked % 3]
                    let expected = serialSum(padded, taps: taps, rowStep: stride * phaseWidth, outH: outH, outW: outW,
                                             weights: weights, bias: bias, lower: lower, upper: upper)
                    for portable in [false, true] {
                        let output = channel(padded, taps: taps, rowStep: stride * phaseWidth, outH: outH, outW: outW,
                                             weights: weights, bias: bias, lower: lower, upper: upper, portable: portable)
                        XCTAssertEqual(output.map(\.bitPattern), expected.map(\.bitPattern),
                                       "k\(kernel) s\(stride) \(outH)×\(outW) [\(lower), \(upper)] portable \(portable)")
                        XCTAssertEqual(output.count, outH * outW + 8)
                    }
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 84)
    }

    /// `[outH, outW]` outputs, then eight floats past them that must stay −7 (nothing written past the channel).
    private func channel(_ padded: [Float], taps: [Int], rowStep: Int, outH: Int, outW: Int, weights: [Float],
                         bias: Float, lower: Float, upper: Float, portable: Bool) -> [Float] {
        var output = [Float](repeating: -7, count: outH * outW + 8)
        taps.withUnsafeBufferPointer { taps in
            var geometry = TrawlDepthwiseChannel(taps: taps.baseAddress, tapCount: taps.count, rowStep: rowStep,
                                                 outH: outH, outW: outW, lower: lower, upper: upper)
            if portable {
                trawl_depthwise_channel_portable(&geometry, padded, weights, bias, &output)
            } else {
                trawl_depthwise_channel(&geometry, padded, weights, bias, &output)
            }
        }
        XCTAssertEqual(Array(output[(outH * outW)...]), [Float](repeating: -7, count: 8), "written past the channel")
        return output
    }

    /// The definition, one output at a time, in Swift (which never fuses a multiply and an add).
    private func serialSum(_ padded: [Float], taps: [Int], rowStep: Int, outH: Int, outW: Int, weights: [Float],
                           bias: Float, lower: Float, upper: Float) -> [Float] {
        var output: [Float] = []
        for oh in 0..<outH {
            for ow in 0..<outW {
                var sum = bias
                for t in taps.indices {
                    let product = weights[t] * padded[oh * rowStep + taps[t] + ow]
                    sum = sum + product
                }
                if sum < lower { sum = lower }
                if sum > upper { sum = upper }
                output.append(sum)
            }
        }
        return output + [Float](repeating: -7, count: 8)
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }
}
