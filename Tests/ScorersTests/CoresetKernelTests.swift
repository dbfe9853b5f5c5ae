import CDistanceKernels
@testable import Scorers
import Tensors
import XCTest

/// The greedy coreset's fast paths reproduce OpenBLAS's sgemm bits, on which its pinned
/// selections rest; these tests catch an OpenBLAS whose rounding differs from the one measured.
final class CoresetKernelTests: XCTestCase {
    private let (rows, dim) = (1024, 128)

    /// `running` lowered by one sgemm (beta 0) of all `rows` against `centres`, then a scalar
    /// epilogue: the sampler's computation before its fast paths.
    private func reference(_ points: Tensor, _ centres: Tensor, running: [Float]) -> [Float] {
        let count = centres.shape[0]
        let norms = rowNorms(points), centreNorms = rowNorms(centres)
        var lowered = running
        var scaled = [Float](repeating: 0, count: rows * count)
        points.data.withUnsafeBufferPointer { p in
            centres.data.withUnsafeBufferPointer { c in
                scaled.withUnsafeMutableBufferPointer { s in
                    sgemm(m: rows, n: count, k: dim, alpha: -2, a: p.baseAddress!, lda: dim,
                          b: c.baseAddress!, ldb: dim, transposeB: true, c: s.baseAddress!, ldc: count)
                }
            }
        }
        for i in 0..<rows {
            for j in 0..<count { lowered[i] = min(lowered[i], max(0, scaled[i * count + j] + norms[i] + centreNorms[j])) }
        }
        return lowered
    }

    private func rowNorms(_ x: Tensor) -> [Float] {
        x.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: x.shape[0], dim: x.shape[1]) }
    }

    /// `running` lowered through ``CoresetSampler/applyCentres`` in the row pieces the sampler uses.
    private func sampler(_ points: Tensor, _ centres: Tensor, running: [Float]) -> [Float] {
        let count = centres.shape[0]
        let norms = rowNorms(points), centreNorms = rowNorms(centres)
        let tiles = UnsafeMutablePointer<Float>.allocate(capacity: rows * dim)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * CoresetSampler.centreChunk)
        let lowered = UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { tiles.deallocate(); scratch.deallocate(); lowered.deallocate() }
        scratch.initialize(repeating: 0, count: rows * CoresetSampler.centreChunk)
        lowered.initialize(from: running, count: rows)
        points.data.withUnsafeBufferPointer { p in
        centres.data.withUnsafeBufferPointer { c in
        norms.withUnsafeBufferPointer { n in
        centreNorms.withUnsafeBufferPointer { cn in
            trawl_pack_rows(p.baseAddress!, rows, dim, tiles)
            for piece in CoresetSampler.rowPieces(rows, centres: count, dim: dim) {
                CoresetSampler.applyCentres(points: p.baseAddress! + piece.lowerBound * dim, tiles: tiles + piece.lowerBound * dim,
                                            norms: n.baseAddress! + piece.lowerBound, rows: piece.count, dim: dim,
                                            centres: c.baseAddress!, centreNorms: cn.baseAddress!, count: count,
                                            running: lowered + piece.lowerBound, scratch: scratch)
            }
        }
        }
        }
        }
        XCTAssertTrue(UnsafeBufferPointer(start: scratch, count: rows * CoresetSampler.centreChunk).allSatisfy { $0 == 0 },
                      "the epilogue leaves the products zero for the next sgemm")
        return Array(UnsafeBufferPointer(start: lowered, count: rows))
    }

    func testFastPathsGiveOpenBLASBits() throws {
        guard CoresetSampler.knownBLASKernels else {
            print("skipped: OpenBLAS kernels \(BLASLibrary.coreName) are not the ones measured; the sampler uses one sgemm per block there")
            throw XCTSkip("OpenBLAS kernels \(BLASLibrary.coreName)")
        }
        let points = gaussianMatrix(rows, dim, seed: 41)
        // Running distances of the size the distances have, so that many of them are lowered.
        let running = gaussianMatrix(1, rows, seed: 42, scale: 40).data.map { 250 + $0 }
        // 1 … 7 centres take the fused kernel, the rest sgemm in 384-row pieces.
        for count in [1, 2, 3, 5, 7, 8, 9, 16, 37, 100, 256] {
            let centres = gaussianMatrix(count, dim, seed: 43 + UInt64(count))
            let expected = reference(points, centres, running: running)
            let lowered = sampler(points, centres, running: running)
            // Exact equality (no distance here is zero, so no ±0 either).
            XCTAssertEqual(lowered, expected, "\(count) centres")
            XCTAssertGreaterThan(zip(lowered, running).filter { $0 < $1 }.count, 0, "\(count) centres lower something")
        }
    }
}
