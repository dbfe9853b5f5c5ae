import CDistanceKernels
@testable import Scorers
import Tensors
import XCTest

final class NearestNeighbourTests: XCTestCase {
    /// Brute force in Double: sorted (distance, index) with ties to the lower index.
    private func bruteForce(_ queries: Tensor, _ bank: Tensor, k: Int, metric: DistanceMetric,
                            leaveOneOut: Bool = false) -> (distances: [Double], indices: [Int]) {
        let d = bank.shape[1]
        func row(_ t: Tensor, _ r: Int) -> [Double] {
            var v = (0..<d).map { Double(t.data[r * d + $0]) }
            if metric == .cosine {
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                v = v.map { $0 / norm }
            }
            return v
        }
        var distances = [Double](), indices = [Int]()
        for q in 0..<queries.shape[0] {
            let a = row(queries, q)
            var all = [(Double, Int)]()
            for m in 0..<bank.shape[0] where !(leaveOneOut && m == q) {
                let b = row(bank, m)
                let squared = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                switch metric {
                case .euclidean: all.append((squared.squareRoot(), m))
                case .squaredEuclidean: all.append((squared, m))
                case .cosine: all.append((1 - zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }, m))
                }
            }
            all.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            distances += all.prefix(k).map(\.0)
            indices += all.prefix(k).map(\.1)
        }
        return (distances, indices)
    }

    func testMatchesBruteForceAcrossBlocks() throws {
        // 300 queries cross the 256-row blocks and end in a partial panel of 16; 4501 bank rows
        // of 24 dims cross the kernel's 2046-row chunks and end in a partial tile of 6.
        let bank = gaussianMatrix(4501, 24, seed: 1)
        let queries = gaussianMatrix(300, 24, seed: 2)
        for metric in DistanceMetric.allCases {
            for k in [1, 7, 50] {
                let found = try NearestNeighbourIndex(bank: bank, metric: metric).search(queries, k: k)
                let expected = bruteForce(queries, bank, k: k, metric: metric)
                XCTAssertEqual(found.indices, expected.indices, "\(metric) k=\(k) indices")
                assertClose(found.distances, expected.distances, tolerance: 2e-4, relative: true, "\(metric) k=\(k)")
            }
        }
    }

    func testAQuerysResultsAreTheSameBitsAloneAndInAnyBlockAtAnyPosition() throws {
        // 600 queries: several 256-row blocks, 16-query panels; 3001 bank rows of 152 dims cross
        // the kernel's chunks and end in a partial tile.
        let bank = gaussianMatrix(3001, 152, seed: 3)
        let queries = gaussianMatrix(600, 152, seed: 10)
        let index = try NearestNeighbourIndex(bank: bank, metric: .euclidean)
        for k in [1, 3] {
            let together = try index.search(queries, k: k)
            for row in [0, 7, 15, 16, 255, 256, 300, 599] {
                let expected = (Array(together.distances[row * k ..< (row + 1) * k]).map(\.bitPattern),
                                Array(together.indices[row * k ..< (row + 1) * k]))
                // Alone, then last of 37 rows (another lane, panel and block position).
                let alone = try index.search(gatherRows(queries, [row]), k: k)
                let behind = try index.search(gatherRows(queries, (1...36).map { (row + $0 * 11) % 600 } + [row]), k: k)
                for (found, label) in [(alone, "alone"), (behind, "after 36 others")] {
                    XCTAssertEqual(Array(found.distances.suffix(k)).map(\.bitPattern), expected.0, "k = \(k), row \(row) \(label)")
                    XCTAssertEqual(Array(found.indices.suffix(k)), expected.1, "k = \(k), row \(row) \(label)")
                }
            }
        }
        // k = 1 (the running-nearest kernel) and k = 3 (the distance scan) agree bit for bit.
        let one = try index.search(queries, k: 1), three = try index.search(queries, k: 3)
        XCTAssertEqual(one.distances.map(\.bitPattern), (0..<600).map { three.distances[$0 * 3].bitPattern })
        XCTAssertEqual(one.indices, (0..<600).map { three.indices[$0 * 3] })
    }

    func testManyQueriesGoInLargerBlocksWithTheSameBits() throws {
        // Blocks grow from 256 to 1024 queries while every core keeps at least 8; a query's results
        // do not depend on them: enough queries for blocks of 1024 (and a partial one) give the bits
        // they get searched 600 at a time (blocks of 256).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        XCTAssertEqual(NearestNeighbourIndex.queryBlock(queries: 600), 256)
        XCTAssertEqual(NearestNeighbourIndex.queryBlock(queries: 512 * 8 * cores), 512)
        XCTAssertEqual(NearestNeighbourIndex.queryBlock(queries: 1_000_000_000), 1024)
        let q = 1024 * 8 * cores + 37
        let bank = gaussianMatrix(500, 8, seed: 30), queries = gaussianMatrix(q, 8, seed: 31)
        let index = try NearestNeighbourIndex(bank: bank, metric: .squaredEuclidean)
        for k in [1, 2] {
            let together = try index.search(queries, k: k)
            var distances = [Float](), indices = [Int]()
            for q0 in stride(from: 0, to: q, by: 600) {
                let part = try index.search(gatherRows(queries, Array(q0 ..< min(q, q0 + 600))), k: k)
                distances += part.distances
                indices += part.indices
            }
            XCTAssertEqual(together.distances.map(\.bitPattern), distances.map(\.bitPattern), "k = \(k)")
            XCTAssertEqual(together.indices, indices, "k = \(k)")
        }
    }

    func testTheAVX2KernelsGiveThePortableKernelsBits() {
        // Both kernels, with and without own rows to skip (own offsets inside, before and past the
        // bank), partial panels, chunks and tiles, dimensions packed eight at a time and one by one
        // (27 = 3 · 8 + 3). On a CPU without AVX2+FMA both calls run the portable code and the
        // test checks nothing.
        for (q, m, d, seed) in [(37, 1001, 5, UInt64(20)), (50, 4099, 152, 21), (16, 7, 3, 22), (40, 2500, 27, 23)] {
            let queries = gaussianMatrix(q, d, seed: seed), bank = gaussianMatrix(m, d, seed: seed + 100)
            let lanes = Int(TRAWL_QUERY_PANEL_ROWS), panels = (q + lanes - 1) / lanes
            var packed = [Float](repeating: 0, count: panels * lanes * d)
            trawl_pack_query_panels(queries.data, q, d, &packed)
            let queryNorms = queries.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: q, dim: d) }
                + [Float](repeating: 0, count: panels * lanes - q)
            let bankNorms = bank.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: m, dim: d) }
            for own in [nil, 2, -7, m - 3] {
                let (skips, offset): (Int32, Int) = (own == nil ? 0 : 1, own ?? 0)
                var fast = ([Float](repeating: 0, count: panels * lanes), [Int32](repeating: 0, count: panels * lanes))
                var portable = fast
                trawl_nearest_rows(packed, panels, queryNorms, bank.data, m, d, bankNorms, skips, offset, &fast.0, &fast.1)
                trawl_nearest_rows_portable(packed, panels, queryNorms, bank.data, m, d, bankNorms, skips, offset,
                                            &portable.0, &portable.1)
                XCTAssertEqual(fast.0.prefix(q).map(\.bitPattern), portable.0.prefix(q).map(\.bitPattern), "nearest \(q)×\(m)×\(d) own \(String(describing: own))")
                XCTAssertEqual(fast.1.prefix(q), portable.1.prefix(q))
                var fastDistances = [Float](repeating: 0, count: m * lanes), portableDistances = fastDistances
                for p in 0..<panels {
                    packed.withUnsafeBufferPointer { panel in
                        let first = panel.baseAddress! + p * lanes * d
                        trawl_panel_distances(first, Array(queryNorms[p * lanes ..< (p + 1) * lanes]), bank.data, m, d, bankNorms,
                                              skips, offset + p * lanes, &fastDistances)
                        trawl_panel_distances_portable(first, Array(queryNorms[p * lanes ..< (p + 1) * lanes]), bank.data, m, d,
                                                       bankNorms, skips, offset + p * lanes, &portableDistances)
                    }
                    XCTAssertEqual(fastDistances.map(\.bitPattern), portableDistances.map(\.bitPattern), "distances, panel \(p)")
                    // The scan of the written distances finds the running-nearest kernel's row.
                    for lane in 0 ..< min(lanes, q - p * lanes) {
                        let column = (0..<m).map { fastDistances[$0 * lanes + lane] }
                        let least = column.min()!
                        XCTAssertEqual(least.bitPattern, fast.0[p * lanes + lane].bitPattern)
                        if least < .infinity { XCTAssertEqual(Int32(column.firstIndex(of: least)!), fast.1[p * lanes + lane]) }
                    }
                }
            }
        }
    }

    func testTheScreenedSearchGivesTheFloatKernelsBits() throws {
        // Whatever rows the 8-bit screen rules out, each query's distance and row must be the float
        // kernel's. Gaussian rows; tight clusters, whose rows lie within the screen's error of each
        // other (long candidate lists, and queries that keep too many and go to the float kernel);
        // a large common offset (the float kernel's own rounding then widens every window); identical
        // rows (all tie); exact duplicate rows (ties go to the lower row); queries equal to bank rows (distance 0); 37
        // and 33 dimensions (steps of 4 and transposes of 8 with a remainder); 1,031 rows (a
        // partial tile of 6).
        let base = gaussianMatrix(64, 152, seed: 40)
        let clustered = Tensor(shape: [4100, 152], data: (0..<4100).flatMap { r in
            let noise = gaussianMatrix(1, 152, seed: UInt64(1000 + r), scale: 1e-3).data
            return (0..<152).map { base.data[(r % 64) * 152 + $0] + noise[$0] }
        })
        let gaussian = gaussianMatrix(3001, 37, seed: 41)
        let offset = Tensor(shape: [1031, 33], data: gaussianMatrix(1031, 33, seed: 42).data.map { $0 + 300 })
        let duplicated = gaussianMatrix(1100, 64, seed: 43)
        var duplicates = duplicated
        for r in stride(from: 1, to: 1100, by: 2) { duplicates.data.replaceSubrange(r * 64 ..< (r + 1) * 64, with: duplicated.data[(r - 1) * 64 ..< r * 64]) }
        // Pairs of rows a hair apart (each with its negation, so the column means are 0) whose codes
        // err by +0.49 and −0.49 of a step in every dimension, along their query: the screen's
        // estimates of the two err in opposite directions, against the true order, by a large
        // part of its bound (with a window a quarter as wide, most queries lose their nearest row).
        let step = Float(1.0 / 127)
        var random = SeededRandom(seed: 47)
        var pairRows = [Float](), pairQueries = [Float]()
        for _ in 0..<300 {
            let levels = (1..<64).map { _ in Float(10 + Int(random.nextUnit() * 90)) }
            let near = [1] + levels.map { ($0 + 0.49) * step }, far = [1] + levels.map { ($0 + 0.51) * step }
            pairRows += near + far + near.map { -$0 } + far.map { -$0 }
            pairQueries += [1] + levels.map { ($0 + 0.45) * step }
        }
        let pairs = Tensor(shape: [1200, 64], data: pairRows)
        let cases: [(String, Tensor, Tensor)] = [
            ("aligned residuals", pairs, Tensor(shape: [300, 64], data: pairQueries)),
            ("gaussian", gaussian, gaussianMatrix(300, 37, seed: 44)),
            ("clustered", clustered, gatherRows(clustered, Array(stride(from: 5, to: 4100, by: 13)))),
            ("offset", offset, Tensor(shape: [200, 33], data: gaussianMatrix(200, 33, seed: 45).data.map { $0 + 300 })),
            ("identical rows", Tensor(shape: [1500, 40], data: (0..<1500).flatMap { _ in duplicated.data.prefix(40) }),
             gaussianMatrix(40, 40, seed: 48)),
            ("duplicates", duplicates, Tensor(shape: [150, 64], data: gatherRows(duplicates, Array(0..<75)).data
                                                                    + gaussianMatrix(75, 64, seed: 46).data)),
        ]
        for (label, bank, queries) in cases {
            let (m, q, d) = (bank.shape[0], queries.shape[0], bank.shape[1])
            guard let screen = ScreenedBank(bank) else { throw XCTSkip("the screen needs AVX2+FMA; this CPU searches without it") }
            let lanes = Int(TRAWL_QUERY_PANEL_ROWS), panels = (q + lanes - 1) / lanes
            var packed = [Float](repeating: 0, count: panels * lanes * d)
            trawl_pack_query_panels(queries.data, q, d, &packed)
            let queryNorms = queries.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: q, dim: d) }
            let bankNorms = bank.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: m, dim: d) }
            var exact = ([Float](repeating: 0, count: panels * lanes), [Int32](repeating: 0, count: panels * lanes))
            trawl_nearest_rows_portable(packed, panels, queryNorms + [Float](repeating: 0, count: panels * lanes - q),
                                        bank.data, m, d, bankNorms, 0, 0, &exact.0, &exact.1)
            var screened = ([Float](repeating: 0, count: q), [Int32](repeating: 0, count: q))
            let passedOn = trawl_screened_nearest_rows(screen.codes, queries.data, q, queryNorms, bank.data, bankNorms,
                                                       &screened.0, &screened.1)
            // Where every row ties (identical rows) or the float kernel's own rounding is wider than the
            // rows' spread (offset), no query can rule rows out, and all go to the float kernel.
            XCTAssertEqual(passedOn == q, ["identical rows", "offset"].contains(label), "\(label): \(passedOn) of \(q) passed on")
            XCTAssertEqual(screened.0.map(\.bitPattern), exact.0.prefix(q).map(\.bitPattern), label)
            XCTAssertEqual(screened.1, Array(exact.1.prefix(q)), label)
        }
        // An index whose queries keep passing on stops screening.
        let screen = try XCTUnwrap(ScreenedBank(gaussian))
        screen.record(queries: 4000, overflowed: 4000)
        XCTAssertTrue(screen.pays, "decides only after 4,096 queries")
        screen.record(queries: 96, overflowed: 0)
        XCTAssertFalse(screen.pays)
        screen.record(queries: 12_000, overflowed: 0)
        XCTAssertTrue(screen.pays, "fewer than a quarter passed on")
        // The duplicates case reaches what it is meant to: a query equal to two rows gets the lower
        // one, at a distance that is 0 but for the expansion's rounding.
        let found = try NearestNeighbourIndex(bank: duplicates, metric: .squaredEuclidean).search(gatherRows(duplicates, [1, 2, 3]), k: 1)
        XCTAssertEqual(found.indices, [0, 2, 2])
        XCTAssertLessThan(found.distances.max()!, 1e-4)
    }

    func testRecallAtOneComparesNearestNeighboursOfTheTruthsQueries() {
        // 3 neighbours for 5 queries; the truth covers the first 4 with 1 neighbour each.
        let found = Neighbours(k: 3, distances: [Float](repeating: 0, count: 15),
                               indices: [7, 1, 2, 4, 7, 9, 5, 3, 0, 8, 6, 1, 2, 2, 2])
        let truth = Neighbours(k: 1, distances: [0, 0, 0, 0], indices: [7, 7, 5, 6])
        XCTAssertEqual(found.recallAtOne(against: truth), 0.5)   // query 1's 7 is its second, query 3 finds 8
        XCTAssertEqual(truth.recallAtOne(against: truth), 1)
    }

    func testLeaveOneOutExcludesSelf() throws {
        let bank = gaussianMatrix(2100, 8, seed: 3)
        for k in [1, 3] {
            let found = try NearestNeighbourIndex(bank: bank).searchLeavingOneOut(k: k)
            let expected = bruteForce(bank, bank, k: k, metric: .euclidean, leaveOneOut: true)
            XCTAssertEqual(found.indices, expected.indices, "k = \(k)")
            assertClose(found.distances, expected.distances, tolerance: 1e-4, relative: true, "leave-one-out, k = \(k)")
        }
    }

    func testTiesGoToLowerIndexAndDuplicatesAreAtZero() throws {
        let bank = Tensor(shape: [4, 2], data: [1, 0, 0, 1, 1, 0, -1, 0])
        let found = try NearestNeighbourIndex(bank: bank).search(Tensor(shape: [1, 2], data: [1, 0]), k: 3)
        XCTAssertEqual(found.indices, [0, 2, 1])
        XCTAssertEqual(found.distances[0], 0)
        XCTAssertEqual(found.distances[1], 0)
        XCTAssertEqual(found.distances[2], Float(2).squareRoot(), accuracy: 1e-6)
    }

    func testEdgeCasesThrowTypedErrors() throws {
        let bank = gaussianMatrix(5, 3, seed: 4)
        assertThrows(.empty(argument: "bank"), try NearestNeighbourIndex(bank: Tensor(shape: [0, 3])))
        assertThrows(.notEnoughNeighbours(requested: 6, available: 5),
                     try NearestNeighbourIndex(bank: bank).search(gaussianMatrix(2, 3, seed: 5), k: 6))
        assertThrows(.notEnoughNeighbours(requested: 5, available: 4),
                     try NearestNeighbourIndex(bank: bank).searchLeavingOneOut(k: 5))
        var poisoned = gaussianMatrix(2, 3, seed: 6)
        poisoned.data[4] = .nan
        assertThrows(.nonFinite(argument: "queries", index: 4), try NearestNeighbourIndex(bank: bank).search(poisoned, k: 1))
        assertThrows(.badShape(argument: "queries", shape: [2, 4], expected: "[Q, 3]"),
                     try NearestNeighbourIndex(bank: bank).search(gaussianMatrix(2, 4, seed: 7), k: 1))
    }
}
