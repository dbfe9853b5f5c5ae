import CConvolutionKernels
import Tensors
import XCTest

/// `trawl_gemm`: every entry is the fused multiply-add chain of its row of A and column of B
/// in depth order, bit for bit, whatever the product's shape, the entry's row and column, the
/// depth blocking and the CPU path (AVX2 or portable).
final class GemmKernelTests: XCTestCase {
    /// One row of A and one column of B, with their chain computed here, placed at several
    /// row and column positions of products of many shapes (whole and partial register blocks
    /// and panels, several row, column and depth blocks, together), on both paths.
    func testEntryBitsDoNotDependOnShapeOrPosition() {
        var generator = SplitMix64(seed: 15)
        var checked = 0
        for depth in [1, 7, 64, 256, 300, 600] {
            let row = (0..<depth).map { _ in uniform(&generator) }
            let column = (0..<depth).map { _ in uniform(&generator) }
            let expected = chain(row, column)
            for (m, n) in [(1, 1), (5, 17), (6, 16), (7, 33), (16, 64), (13, 100), (9, 210), (130, 200)]
            where m * n * depth <= 4_000_000 {
                let a = (0..<m * depth).map { _ in uniform(&generator) }
                let b = (0..<depth * n).map { _ in uniform(&generator) }
                var positions: [(Int, Int)] = []
                for p in [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (m - 1, 0)] where !positions.contains(where: { $0 == p }) {
                    positions.append(p)
                }
                for (i, j) in positions {
                    var (planted, plantedB) = (a, b)
                    planted.replaceSubrange(i * depth ..< (i + 1) * depth, with: row)
                    for d in 0..<depth { plantedB[d * n + j] = column[d] }
                    for portable in [false, true] {
                        let c = product(m: m, n: n, k: depth, planted, plantedB, ldc: n, portable: portable)
                        XCTAssertEqual(c[i * n + j].bitPattern, expected.bitPattern,
                                       "k\(depth) \(m)×\(n) at (\(i), \(j)) portable \(portable)")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 150)
    }

    /// Every entry of one product equals its own chain (not only planted ones), both paths give
    /// the same bits, and `C`'s entries past `n` in each row are left alone.
    func testWholeProductMatchesChainsAndKeepsOutsideColumns() {
        var generator = SplitMix64(seed: 16)
        let (m, n, k, ldc) = (11, 37, 290, 41)
        let a = (0..<m * k).map { _ in uniform(&generator) }
        let b = (0..<k * n).map { _ in uniform(&generator) }
        let c = product(m: m, n: n, k: k, a, b, ldc: ldc, portable: false)
        XCTAssertEqual(c, product(m: m, n: n, k: k, a, b, ldc: ldc, portable: true))
        for i in 0..<m {
            for j in 0..<ldc {
                if j < n {
                    let want = chain(Array(a[i * k ..< (i + 1) * k]), (0..<k).map { b[$0 * n + j] })
                    XCTAssertEqual(c[i * ldc + j].bitPattern, want.bitPattern, "(\(i), \(j))")
                } else {
                    XCTAssertEqual(c[i * ldc + j], -7, "(\(i), \(j)) outside the product was written")
                }
            }
        }
    }

    /// `trawl_gemm_unpacked` (B read as it lies, row stride past `n`, from several offsets: its
    /// columns before a cache line boundary go first) and `trawl_gemm_packing` (B copied into
    /// panels block by block) give `trawl_gemm`'s bits for the same operands, on both paths,
    /// across whole and partial register blocks, panels, column, row and depth blocks; without an
    /// ending they write nothing outside the product.
    func testUnpackedProductHasThePackedProductsBits() {
        var generator = SplitMix64(seed: 17)
        for (m, n, k) in [(1, 1, 1), (7, 33, 5), (6, 16, 256), (13, 200, 300), (130, 197, 40), (9, 390, 600)] {
            let (ldb, ldc) = (n + 3, n + 2)
            let a = (0..<m * k).map { _ in uniform(&generator) }
            let b = (0..<k * ldb + 16).map { _ in uniform(&generator) }
            for first in [0, 1, 5, 13] {
                let dense = (0..<k).flatMap { d in b[first + d * ldb ..< first + d * ldb + n] }
                let packed = product(m: m, n: n, k: k, a, dense, ldc: ldc, portable: false)
                for portable in [false, true] {
                    for packing in [false, true] {
                        let unpacked = b.withUnsafeBufferPointer { values in
                            unpackedProduct(m: m, n: n, k: k, a, values.baseAddress! + first, ldb: ldb, ldc: ldc,
                                            ending: nil, packing: packing, portable: portable)
                        }
                        XCTAssertEqual(unpacked, packed,
                                       "\(m)×\(n)×\(k) from \(first) packing \(packing) portable \(portable)")
                    }
                }
            }
        }
    }

    /// With an ending, every entry is `clamp(clamp(chain + bias[i], lower, upper) + shortcut,
    /// finalLower, finalUpper)`, computed here from `trawl_gemm`'s entries, on both paths: ReLU6
    /// then ReLU with a shortcut, a bias alone (no clamp), no bias and ReLU with a shortcut, over several depth blocks (only the last ends) and partial blocks; NaN passes through.
    func testUnpackedEndingMatchesASeparatePass() {
        var generator = SplitMix64(seed: 18)
        let (m, n, k, ldc) = (14, 37, 520, 40)
        var a = (0..<m * k).map { _ in uniform(&generator) * 4 }
        a[k] = .nan
        let b = (0..<k * n).map { _ in uniform(&generator) }
        let bias = (0..<m).map { _ in uniform(&generator) * 8 }
        let shortcut = (0..<m * ldc).map { _ in uniform(&generator) * 8 }
        let chains = product(m: m, n: n, k: k, a, b, ldc: ldc, portable: false)
        func clamp(_ x: Float, _ lower: Float, _ upper: Float) -> Float {
            let raised = x < lower ? lower : x
            return raised > upper ? upper : raised
        }
        let endings: [(bias: [Float]?, lower: Float, upper: Float, shortcut: Bool, finalLower: Float, finalUpper: Float)] = [
            (bias, 0, 6, true, 0, .infinity), (bias, -.infinity, .infinity, false, 0, 0),
            (nil, 0, .infinity, true, 0, .infinity),
        ]
        for ending in endings {
            var expected = chains
            for i in 0..<m {
                for j in 0..<n {
                    var value = expected[i * ldc + j]
                    if let bias = ending.bias { value += bias[i] }
                    value = clamp(value, ending.lower, ending.upper)
                    if ending.shortcut { value = clamp(value + shortcut[i * ldc + j], ending.finalLower, ending.finalUpper) }
                    expected[i * ldc + j] = value
                }
            }
            for portable in [false, true] {
                for packing in [false, true] {
                    let got = (ending.bias ?? []).withUnsafeBufferPointer { biasValues in
                        shortcut.withUnsafeBufferPointer { shortcutValues in
                            unpackedProduct(m: m, n: n, k: k, a, b, ldb: n, ldc: ldc,
                                            ending: TrawlOutputEnding(bias: ending.bias == nil ? nil : biasValues.baseAddress,
                                                                      lower: ending.lower, upper: ending.upper,
                                                                      shortcut: ending.shortcut ? shortcutValues.baseAddress : nil,
                                                                      finalLower: ending.finalLower, finalUpper: ending.finalUpper),
                                            packing: packing, portable: portable)
                        }
                    }
                    XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                   "\(ending) packing \(packing) portable \(portable)")
                    XCTAssertTrue(got[ldc].isNaN && got[ldc + n - 1].isNaN, "NaN passes through")
                }
            }
        }
    }

    /// `fma(row[k−1], column[k−1], … fma(row[0], column[0], 0))`.
    private func chain(_ row: [Float], _ column: [Float]) -> Float {
        zip(row, column).reduce(0) { $0.addingProduct($1.0, $1.1) }
    }

    /// `a` `[m, k]` times `b` `[k, n]` (packed here) into a `[m, ldc]` matrix of −7s.
    private func product(m: Int, n: Int, k: Int, _ a: [Float], _ b: [Float], ldc: Int, portable: Bool) -> [Float] {
        var packed = [Float](repeating: 0, count: trawl_gemm_packed_count(k, n))
        for d in 0..<k {
            for j in 0..<n { packed[trawl_gemm_packed_offset(k, n, d, j)] = b[d * n + j] }
        }
        var c = [Float](repeating: -7, count: m * ldc)
        if portable {
            trawl_gemm_portable(m, n, k, a, k, packed, &c, ldc)
        } else {
            trawl_gemm(m, n, k, a, k, packed, &c, ldc)
        }
        return c
    }

    /// `a` `[m, k]` times `b` `[k, n]` with row stride `ldb`, ended by `ending`, into a `[m, ldc]`
    /// matrix of −7s, by `trawl_gemm_packing` (`a` packed by `trawl_gemm_pack_a`, its scratch full
    /// of NaNs) or `trawl_gemm_unpacked`.
    private func unpackedProduct(m: Int, n: Int, k: Int, _ a: [Float], _ b: UnsafePointer<Float>, ldb: Int, ldc: Int,
                                 ending: TrawlOutputEnding?, packing: Bool, portable: Bool) -> [Float] {
        var c = [Float](repeating: -7, count: m * ldc)
        var scratch = [Float](repeating: .nan, count: trawl_gemm_packing_scratch_count())
        var packedA = [Float](repeating: .nan, count: trawl_gemm_packed_a_count(m, k))
        trawl_gemm_pack_a(m, k, a, k, &packedA)
        var end = ending ?? TrawlOutputEnding()
        withUnsafePointer(to: &end) { pointer in
            let endingPointer = ending == nil ? nil : pointer
            switch (packing, portable) {
            case (false, false): trawl_gemm_unpacked(m, n, k, a, k, b, ldb, &c, ldc, endingPointer)
            case (false, true): trawl_gemm_unpacked_portable(m, n, k, a, k, b, ldb, &c, ldc, endingPointer)
            case (true, false): trawl_gemm_packing(m, n, k, packedA, b, ldb, &c, ldc, endingPointer, &scratch)
            case (true, true): trawl_gemm_packing_portable(m, n, k, packedA, b, ldb, &c, ldc, endingPointer, &scratch)
            }
        }
        return c
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }
}
