import CConvolutionKernels
import Tensors
import XCTest

/// `winograd_transforms.c`: the AVX-512 (two blocks of eight channels at a time), AVX2 and
/// portable paths give the same bits at strides 1 and 2 on every geometry (partial tiles, a
/// pair's second block with 5 of its 8 channels, channels that are not whole blocks of eight,
/// offsets that cut the image, residual endings, NaN, ±infinity and −0 among the values), and
/// the fill puts every value where the layout says.
final class WinogradTransformTests: XCTestCase {
    func testFillPlacesEveryValueOnBothPaths() {
        var generator = SplitMix64(seed: 21)
        for (channels, blocks, height, width, top, left, blockedHeight, blockedWidth) in [
            (3, 1, 5, 7, 1, 1, 7, 9), (19, 3, 13, 17, 1, 2, 18, 22), (16, 2, 9, 20, 0, 0, 10, 18),
            (8, 1, 6, 6, 3, 4, 6, 14), (9, 2, 4, 4, 9, 1, 6, 6), (3, 1, 4, 5, 0, 7, 6, 6),
        ] {
            let image = (0..<channels * height * width).map { _ in uniform(&generator) }
            let count = blocks * 8 * blockedHeight * blockedWidth
            var fast = [Float](repeating: .nan, count: count), portable = [Float](repeating: .nan, count: count)
            trawl_winograd_fill(image, channels, height, width, top, left, &fast, blocks, blockedHeight, blockedWidth)
            trawl_winograd_fill_portable(image, channels, height, width, top, left, &portable, blocks, blockedHeight,
                                         blockedWidth)
            var expected = [Float](repeating: 0, count: count)
            for c in 0..<channels {
                for y in 0..<height where y + top < blockedHeight {
                    for x in 0..<width where x + left < blockedWidth {
                        let at = (((c / 8) * blockedHeight + y + top) * blockedWidth + x + left) * 8 + c % 8
                        expected[at] = image[(c * height + y) * width + x]
                    }
                }
            }
            let label = "c\(channels) \(height)×\(width) at (\(top), \(left)) in \(blockedHeight)×\(blockedWidth)"
            XCTAssertEqual(fast.map(\.bitPattern), expected.map(\.bitPattern), label)
            XCTAssertEqual(portable.map(\.bitPattern), expected.map(\.bitPattern), label)
        }
    }

    func testInputTransformBitsAreTheSameOnBothPaths() {
        var generator = SplitMix64(seed: 22)
        for stride in [1, 2] {
            let positions = stride == 1 ? 36 : 25
            for (blocks, tilesDown, tilesAcross) in [(1, 1, 1), (2, 3, 4), (3, 4, 1)] {
                let (blockedHeight, blockedWidth) = (tilesDown * 4 + 2, tilesAcross * 4 + 3)
                let blocked = values(blocks * 8 * blockedHeight * blockedWidth, &generator)
                let (tileStride, positionStride) = (blocks * 8 + 8, tilesDown * tilesAcross * (blocks * 8 + 8) + 5)
                var fast = [Float](repeating: -7, count: positions * positionStride), portable = fast
                trawl_winograd_transform_input(stride, blocked, blocks, blockedHeight, blockedWidth, tilesDown,
                                               tilesAcross, &fast, tileStride, positionStride)
                trawl_winograd_transform_input_portable(stride, blocked, blocks, blockedHeight, blockedWidth, tilesDown,
                                                        tilesAcross, &portable, tileStride, positionStride)
                let label = "stride \(stride), \(blocks) blocks, \(tilesDown)×\(tilesAcross) tiles"
                XCTAssertEqual(fast.map(bits), portable.map(bits), label)
                XCTAssertTrue(fast.contains(-7), "entries between the rows were written: \(label)")
            }
        }
    }

    func testOutputTransformBitsAreTheSameOnBothPaths() {
        var generator = SplitMix64(seed: 23)
        let bounds: [(Float, Float)] = [(-.infinity, .infinity), (0, .infinity), (0, 6)]
        for stride in [1, 2] {
            let (tile, positions) = stride == 1 ? (4, 36) : (2, 25)
            for (channels, outH, outW) in [(8, 4, 4), (21, 13, 17), (16, 14, 14), (5, 3, 6), (13, 5, 7)] {
                let (tilesDown, tilesAcross) = ((outH + tile - 1) / tile, (outW + tile - 1) / tile)
                let paddedChannels = (channels + 7) / 8 * 8
                let (tileStride, positionStride) = (paddedChannels, tilesDown * tilesAcross * paddedChannels)
                let products = values(positions * positionStride, &generator)
                var bias = [Float](repeating: 0, count: paddedChannels)
                for o in 0..<channels { bias[o] = uniform(&generator) }
                let shortcut = values(channels * outH * outW, &generator)
                for (lower, upper) in bounds {
                    for ending in [nil, (Float(0), Float.infinity), (-Float.infinity, Float.infinity)] as [(Float, Float)?] {
                        func run(portable: Bool) -> [UInt32] {
                            var output = [Float](repeating: -7, count: channels * outH * outW + 3)
                            shortcut.withUnsafeBufferPointer { s in
                                let (ends, finalLower, finalUpper) = (ending == nil ? nil : s.baseAddress!, ending?.0 ?? 0, ending?.1 ?? 0)
                                if portable {
                                    trawl_winograd_transform_output_portable(stride, products, tileStride, positionStride,
                                                                             tilesDown, tilesAcross, channels, bias, lower,
                                                                             upper, ends, finalLower, finalUpper, &output,
                                                                             outH, outW)
                                } else {
                                    trawl_winograd_transform_output(stride, products, tileStride, positionStride, tilesDown,
                                                                    tilesAcross, channels, bias, lower, upper, ends,
                                                                    finalLower, finalUpper, &output, outH, outW)
                                }
                            }
                            XCTAssertEqual(output.suffix(3), [-7, -7, -7], "written past the output")
                            XCTAssertFalse(output.dropLast(3).contains(-7), "an output left unwritten")
                            return output.map(bits)
                        }
                        XCTAssertEqual(run(portable: false), run(portable: true),
                                       "stride \(stride) c\(channels) \(outH)×\(outW) clamp \(lower)…\(upper) ending \(String(describing: ending))")
                    }
                }
            }
        }
    }

    /// `value`'s bits, with every NaN as the one quiet NaN: which operand's NaN an operation passes
    /// on is the compiler's choice (it may swap an addition's operands), not the kernels'.
    private func bits(_ value: Float) -> UInt32 { value.isNaN ? Float.nan.bitPattern : value.bitPattern }

    /// `count` values in [-1, 1) with a NaN, ±infinity, −0 and +0 every 97 entries.
    private func values(_ count: Int, _ generator: inout SplitMix64) -> [Float] {
        let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0]
        return (0..<count).map { i in i % 97 < specials.count ? specials[i % 97] : uniform(&generator) }
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }
}
