import CGemmKernels
import Tensors
import XCTest

/// `trawl_gemm`: every entry is the fused multiply-add chain of its row of A and column of B
/// in depth order, bit for bit, whatever the product's shape, the entry's row and column, the
/// operands' layouts (row-major or packed), the depth blocking and the CPU path.
final class GemmKernelTests: XCTestCase {
    /// One row of A and one column of B, with their chain computed here; placed at every row
    /// and column position of products of many shapes, packed and not, on both paths.
    func testEntryBitsDoNotDependOnShapePositionOrLayout() {
        var generator = SplitMix64(seed: 15)
        for depth in [1, 7, 64, 256, 300, 600] {
            let row = (0..<depth).map { _ in uniform(&generator) }
            let column = (0..<depth).map { _ in uniform(&generator) }
            let start = uniform(&generator)
            let expected = chain(row, column, from: 0)
            let expectedFromStart = chain(row, column, from: start)
            var checked = 0
            for (m, n) in [(1, 1), (5, 17), (6, 16), (7, 33), (16, 64), (13, 100)] where depth <= 300 || m * n <= 100 {
                let a = (0..<m * depth).map { _ in uniform(&generator) }
                let b = (0..<depth * n).map { _ in uniform(&generator) }
                var positions: [(Int, Int)] = []
                for p in [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (m - 1, 0)] where !positions.contains(where: { $0 == p }) {
                    positions.append(p)
                }
                for (i, j) in positions {
                    var (rowA, columnB) = (a, b)
                    rowA.replaceSubrange(i * depth ..< (i + 1) * depth, with: row)
                    for d in 0..<depth { columnB[d * n + j] = column[d] }
                    for packedA in [false, true] {
                        for packedB in [false, true] {
                            for portable in [false, true] {
                                for accumulate in [false, true] {
                                    var c = (0..<m * n).map { _ in accumulate ? uniform(&generator) : Float.nan }
                                    if accumulate { c[i * n + j] = start }
                                    product(m: m, n: n, k: depth, rowA, packedA: packedA, columnB, packedB: packedB,
                                            into: &c, accumulate: accumulate, portable: portable)
                                    let want = accumulate ? expectedFromStart : expected
                                    XCTAssertEqual(c[i * n + j].bitPattern, want.bitPattern,
                                                   "k\(depth) \(m)×\(n) at (\(i), \(j)) packed \(packedA)/\(packedB) portable \(portable) accumulate \(accumulate)")
                                    checked += 1
                                }
                            }
                        }
                    }
                }
            }
            XCTAssertGreaterThan(checked, 0)
        }
    }

    /// Every entry of one product equals its own chain (not only the planted ones), and the
    /// entries outside `m × n` in `C`'s rows are left alone.
    func testWholeProductAndStrideAreRespected() {
        var generator = SplitMix64(seed: 16)
        let (m, n, k, ldc) = (11, 37, 290, 41)
        let a = (0..<m * k).map { _ in uniform(&generator) }
        let b = (0..<k * n).map { _ in uniform(&generator) }
        var c = [Float](repeating: -7, count: m * ldc)
        var packed = [Float](repeating: 0, count: trawl_gemm_packed_right_count(k, n))
        trawl_gemm_pack_right(b, k, n, n, &packed)
        a.withUnsafeBufferPointer { pa in
            packed.withUnsafeBufferPointer { pb in
                trawl_gemm(m, n, k, TrawlGemmOperand(data: pa.baseAddress!, stride: k, packed: 0),
                           TrawlGemmOperand(data: pb.baseAddress!, stride: k, packed: 1), &c, ldc, 0)
            }
        }
        for i in 0..<m {
            for j in 0..<ldc {
                if j < n {
                    let want = chain(Array(a[i * k ..< (i + 1) * k]), (0..<k).map { b[$0 * n + j] }, from: 0)
                    XCTAssertEqual(c[i * ldc + j].bitPattern, want.bitPattern, "(\(i), \(j))")
                } else {
                    XCTAssertEqual(c[i * ldc + j], -7, "(\(i), \(j)) outside the product was written")
                }
            }
        }
    }

    /// `fma(row[k−1], column[k−1], … fma(row[0], column[0], start))`.
    private func chain(_ row: [Float], _ column: [Float], from start: Float) -> Float {
        zip(row, column).reduce(start) { $0.addingProduct($1.0, $1.1) }
    }

    private func product(m: Int, n: Int, k: Int, _ a: [Float], packedA: Bool, _ b: [Float], packedB: Bool,
                         into c: inout [Float], accumulate: Bool, portable: Bool) {
        var left = a, right = b
        if packedA {
            left = [Float](repeating: 0, count: trawl_gemm_packed_left_count(m, k))
            trawl_gemm_pack_left(a, m, k, k, &left)
        }
        if packedB {
            right = [Float](repeating: 0, count: trawl_gemm_packed_right_count(k, n))
            trawl_gemm_pack_right(b, k, n, n, &right)
        }
        left.withUnsafeBufferPointer { pa in
            right.withUnsafeBufferPointer { pb in
                let operandA = TrawlGemmOperand(data: pa.baseAddress!, stride: k, packed: packedA ? 1 : 0)
                let operandB = TrawlGemmOperand(data: pb.baseAddress!, stride: packedB ? k : n, packed: packedB ? 1 : 0)
                if portable {
                    trawl_gemm_portable(m, n, k, operandA, operandB, &c, n, accumulate ? 1 : 0)
                } else {
                    trawl_gemm(m, n, k, operandA, operandB, &c, n, accumulate ? 1 : 0)
                }
            }
        }
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }
}
