import CDistanceKernels
@testable import Scorers
import Tensors
import XCTest

/// The greedy coreset's fused kernels reproduce OpenBLAS 0.3.21's Haswell/Zen sgemm bits, the
/// arithmetic its pinned selections were recorded with; where OpenBLAS runs those kernels, these
/// tests check the reproduction against it (the sampler itself never calls sgemm).
final class CoresetKernelTests: XCTestCase {
    /// `running` lowered by one sgemm (beta 0) of all `points` against each chunk of 256 of
    /// `centres`, then a scalar epilogue: the sampler's computation without its fused kernels.
    private func reference(_ points: Tensor, _ centres: Tensor, running: [Float]) -> [Float] {
        let (rows, dim, count) = (points.shape[0], points.shape[1], centres.shape[0])
        let norms = rowNorms(points), centreNorms = rowNorms(centres)
        var lowered = running
        for c0 in stride(from: 0, to: count, by: CoresetSampler.centreChunk) {
            let chunk = min(count, c0 + CoresetSampler.centreChunk) - c0
            var scaled = [Float](repeating: 0, count: rows * chunk)
            points.data.withUnsafeBufferPointer { p in
                centres.data.withUnsafeBufferPointer { c in
                    scaled.withUnsafeMutableBufferPointer { s in
                        sgemm(m: rows, n: chunk, k: dim, alpha: -2, a: p.baseAddress!, lda: dim,
                              b: c.baseAddress! + c0 * dim, ldb: dim, transposeB: true, c: s.baseAddress!, ldc: chunk)
                    }
                }
            }
            for i in 0..<rows {
                for j in 0..<chunk {
                    lowered[i] = min(lowered[i], max(0, scaled[i * chunk + j] + norms[i] + centreNorms[c0 + j]))
                }
            }
        }
        return lowered
    }

    private func rowNorms(_ x: Tensor) -> [Float] {
        x.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: x.shape[0], dim: x.shape[1]) }
    }

    /// `running` lowered through ``CoresetSampler/lowerRunning`` one piece of rows at a time,
    /// as the workers of a round take them.
    private func sampler(_ points: Tensor, _ centres: Tensor, running: [Float], pieces: [Range<Int>]) -> [Float] {
        let (rows, dim, count) = (points.shape[0], points.shape[1], centres.shape[0])
        let norms = rowNorms(points), centreNorms = rowNorms(centres)
        let tileRows = Int(TRAWL_TILE_ROWS)
        let tiles = UnsafeMutablePointer<Float>.allocate(capacity: (rows + tileRows - 1) / tileRows * tileRows * dim)
        let scratchSize = CoresetSampler.centreChunk * (dim + 1)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchSize)
        defer { tiles.deallocate(); scratch.deallocate() }
        var lowered = running
        points.data.withUnsafeBufferPointer { p in
        centres.data.withUnsafeBufferPointer { c in
        norms.withUnsafeBufferPointer { n in
        centreNorms.withUnsafeBufferPointer { cn in
        lowered.withUnsafeMutableBufferPointer { l in
            trawl_pack_rows(p.baseAddress!, rows, dim, tiles)
            for piece in pieces {
                CoresetSampler.lowerRunning(tiles: tiles, norms: n.baseAddress!, blockRows: rows,
                                            rows: piece, dim: dim, centres: c.baseAddress!, centreNorms: cn.baseAddress!,
                                            seen: 0..<count, running: l.baseAddress!, scratch: scratch)
            }
        }
        }
        }
        }
        }
        return lowered
    }

    func testFusedKernelsGiveOpenBLASBits() throws {
        guard ["Zen", "Haswell"].contains(BLASLibrary.coreName) else {
            print("skipped: OpenBLAS runs its \(BLASLibrary.coreName) kernels here, not the Haswell/Zen ones the sampler's kernels reproduce")
            throw XCTSkip("OpenBLAS kernels \(BLASLibrary.coreName)")
        }
        // A whole block and three sizes of the last block (twelve-row calls, then four-row calls
        // and one to three rows: 1001 = 83 · 12 + 4 + 1); 128 dimensions as the sampler projects
        // to, 20 (a dimension tail after the kernel's steps of eight) and 200.
        for (rows, dim) in [(1024, 128), (1001, 20), (998, 200), (37, 128)] {
            let points = gaussianMatrix(rows, dim, seed: 41)
            // Running distances of the size the distances have, so that many of them are lowered.
            let running = gaussianMatrix(1, rows, seed: 42, scale: Double(dim) / 3).data.map { 2 * Float(dim) + $0 }
            // 1 … 7 centres take the small-chunk kernel, the rest the OpenBLAS-order kernel, whose
            // sums depend on the count modulo 16 and on the parity of the number of full eights;
            // 260 and 300 are two chunks (260's second of four centres takes the small-chunk kernel).
            for count in [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 40, 100, 255, 256, 260, 300] {
                let centres = gaussianMatrix(count, dim, seed: 43 + UInt64(count))
                let expected = reference(points, centres, running: running)
                // The whole block, the two workers' halves and pieces of 24 rows and their multiples.
                let pieces = [[0..<rows], CoresetSampler.deal([(rows, count)]).flatMap { $0.map(\.rows) },
                              stride(from: 0, to: rows, by: 72).map { $0 ..< min(rows, $0 + 72) }]
                for rowPieces in pieces {
                    // Exact equality (no distance here is zero, so no ±0 either).
                    XCTAssertEqual(sampler(points, centres, running: running, pieces: rowPieces), expected,
                                   "\(rows) rows of \(dim) dimensions, \(count) centres, pieces \(rowPieces)")
                }
                XCTAssertGreaterThan(zip(expected, running).filter { $0 < $1 }.count, 0, "\(count) centres lower something")
            }
        }
    }

    /// The kernels the sampler runs on every CPU (AVX-512 and AVX2, or the portable loops)
    /// give the portable loops' bits: twelve-row calls with their split blocks, four-row and
    /// single-row calls, centre counts around the kernels' groupings of blocks (one, two, four)
    /// and the small-chunk kernel's one to seven centres.
    func testFastKernelsGiveThePortableBits() {
        for (rows, dim) in [(1024, 128), (1001, 20), (998, 200), (37, 128)] {
            let points = gaussianMatrix(rows, dim, seed: 51)
            let norms = rowNorms(points)
            let running = gaussianMatrix(1, rows, seed: 52, scale: Double(dim) / 3).data.map { 2 * Float(dim) + $0 }
            let tileRows = Int(TRAWL_TILE_ROWS)
            var tiles = [Float](repeating: 0, count: (rows + tileRows - 1) / tileRows * tileRows * dim)
            trawl_pack_rows(points.data, rows, dim, &tiles)
            for count in [1, 3, 7, 8, 16, 17, 24, 31, 32, 40, 47, 56, 100, 255, 256] {
                let centres = gaussianMatrix(count, dim, seed: 53 + UInt64(count))
                let centreNorms = rowNorms(centres)
                var fast = running, portable = running
                if count <= Int(TRAWL_MAX_LOWERING_CENTRES) {
                    trawl_lower_running_distances(tiles, rows, dim, centres.data, centreNorms, count, norms, &fast)
                    trawl_lower_running_distances_portable(tiles, rows, dim, centres.data, centreNorms, count, norms,
                                                           &portable)
                } else {
                    let blocks = (count + 7) / 8
                    var packed = [Float](repeating: 0, count: blocks * 8 * dim)
                    var packedNorms = [Float](repeating: 0, count: blocks * 8)
                    trawl_pack_centres(centres.data, centreNorms, count, dim, &packed, &packedNorms)
                    trawl_lower_running_in_blas_order(tiles, dim, rows, 0, rows, packed, packedNorms, count, norms, &fast)
                    trawl_lower_running_in_blas_order_portable(tiles, dim, rows, 0, rows, packed, packedNorms, count,
                                                               norms, &portable)
                }
                XCTAssertEqual(fast.map(\.bitPattern), portable.map(\.bitPattern), "\(rows) rows of \(dim), \(count) centres")
                XCTAssertGreaterThan(zip(fast, running).filter { $0 < $1 }.count, 0, "\(count) centres lower something")
            }
        }
    }

    /// The 8-bit screen gives the OpenBLAS-order kernel's bits: Gaussian rows at the sampler's 128
    /// dimensions, 200 and 37 (a step tail), tight clusters, values offset by 300, identical
    /// rows; a product that is the second block of its points; centre counts around the screen's
    /// panels of sixteen and the kernels' split blocks. Half the rows' running distances lie one
    /// step above their nearest centre's float distance, so that a centre the screen wrongly
    /// ruled out would leave them a bit too high, and the other half one step below it, so that
    /// nothing may lower them.
    func testTheScreenGivesTheKernelsBits() throws {
        let clustered = Tensor(shape: [1024, 128], data: gaussianMatrix(1024, 128, seed: 61).data.enumerated().map { i, x in
            Float((i / 128) % 4) * 3 + 0.01 * x
        })
        let offset = Tensor(shape: [1024, 64], data: gaussianMatrix(1024, 64, seed: 62).data.map { 300 + $0 })
        let identical = Tensor(shape: [1024, 32], data: (0..<1024 * 32).map { Float($0 % 32) / 7 })
        let cases: [(String, Tensor, productStart: Int)] = [
            ("gaussian 128", gaussianMatrix(1024, 128, seed: 63), 0), ("gaussian 200", gaussianMatrix(998, 200, seed: 64), 0),
            ("gaussian 37", gaussianMatrix(1001, 37, seed: 65), 0), ("second block", gaussianMatrix(2000, 128, seed: 66), 1024),
            ("clustered", clustered, 0), ("offset 300", offset, 0), ("identical", identical, 0),
        ]
        for (name, points, productStart) in cases {
            let (allRows, dim) = (points.shape[0], points.shape[1])
            let rows = allRows - productStart
            let norms = rowNorms(points)
            let tileRows = Int(TRAWL_TILE_ROWS)
            var tiles = [Float](repeating: 0, count: (allRows + tileRows - 1) / tileRows * tileRows * dim)
            trawl_pack_rows(points.data, allRows, dim, &tiles)
            for count in [8, 16, 17, 24, 31, 40, 100, 256] {
                let centreRows = (0..<count).map { ($0 * 7919 + 13) % allRows }
                let centres = gatherRows(points, centreRows)
                let centreNorms = centreRows.map { norms[$0] }
                let screen = try XCTUnwrap(trawl_coreset_screen_make(points.data, allRows, dim, count), "\(name): no screen")
                defer { trawl_coreset_screen_free(screen) }
                for slot in 0..<count { trawl_coreset_screen_add_centre(screen, slot, Array(centres.data[slot * dim ..< (slot + 1) * dim])) }
                let blocks = (count + 7) / 8
                var packed = [Float](repeating: 0, count: blocks * 8 * dim)
                var packedNorms = [Float](repeating: 0, count: blocks * 8)
                trawl_pack_centres(centres.data, centreNorms, count, dim, &packed, &packedNorms)
                let tileOffset = productStart * dim, product = Array(norms[productStart...])
                var nearest = [Float](repeating: .infinity, count: rows)
                tiles.withUnsafeBufferPointer { t in
                    trawl_lower_running_in_blas_order_portable(t.baseAddress! + tileOffset, dim, rows, 0, rows, packed,
                                                               packedNorms, count, product, &nearest)
                }
                let running = nearest.enumerated().map { r, d in r % 2 == 0 ? d.nextUp : d.nextDown }
                var screened = running, expected = running
                var scratch = [UInt8](repeating: 0, count: trawl_coreset_screen_scratch_bytes(screen, count))
                tiles.withUnsafeBufferPointer { t in
                    trawl_lower_running_in_blas_order_portable(t.baseAddress! + tileOffset, dim, rows, 0, rows, packed,
                                                               packedNorms, count, product, &expected)
                    // Two pieces, as two workers take a block.
                    let cut = rows / 2 / 12 * 12
                    for piece in [0..<cut, cut..<rows] {
                        trawl_screened_lower_in_blas_order(screen, productStart, t.baseAddress! + tileOffset, dim, rows,
                                                           piece.lowerBound, piece.upperBound, 0, packed, packedNorms,
                                                           count, product, &screened, &scratch)
                    }
                }
                XCTAssertEqual(screened.map(\.bitPattern), expected.map(\.bitPattern), "\(name), \(count) centres")
                XCTAssertEqual(zip(expected, running).filter { $0 < $1 }.count, (rows + 1) / 2, "\(name), \(count) centres")
            }
        }
    }

    func testDealingGivesEveryRowToOneWorker() {
        // Every block is halved at the cut nearest its middle that its kernels allow: a tile (8 rows)
        // for 3 centres (small-chunk kernel), a twelve-row call for 300 (OpenBLAS-order kernel),
        // both (24) for 260, whose last chunk of four takes the small-chunk kernel; a short last block.
        let blocks = [(rows: 1024, centres: 3), (rows: 1024, centres: 300), (rows: 1024, centres: 260), (rows: 16, centres: 20)]
        XCTAssertEqual(blocks.map { CoresetSampler.rowQuantum(centres: $0.centres) }, [8, 12, 24, 12])
        let shares = CoresetSampler.deal(blocks)
        XCTAssertEqual(shares.count, CoresetSampler.workers)
        XCTAssertEqual(shares.map { $0.map(\.slot) }, [[0, 1, 2, 3], [0, 1, 2, 3]])
        XCTAssertEqual(shares.map { $0.map(\.rows) }, [[0..<512, 0..<516, 0..<504, 0..<12], [512..<1024, 516..<1024, 504..<1024, 12..<16]])
        // Too short a block to cut goes whole to the first worker.
        XCTAssertEqual(CoresetSampler.deal([(rows: 10, centres: 260)]).map { $0.map(\.rows) }, [[0..<10], []])
    }
}
