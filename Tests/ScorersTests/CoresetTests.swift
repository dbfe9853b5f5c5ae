@testable import Scorers
import Tensors
import XCTest

final class CoresetTests: XCTestCase {
    /// Textbook greedy k-center in Double on the sampler's own projected points and starts.
    private func bruteForceGreedy(_ prepared: CoresetSampler.Prepared, count: Int, referenceStart: Bool) -> [Int] {
        let p = prepared.points
        let (n, d) = (p.shape[0], p.shape[1])
        func distance(_ a: Int, _ b: Int) -> Double {
            var s: Double = 0
            for j in 0..<d { let v = Double(p.data[a * d + j]) - Double(p.data[b * d + j]); s += v * v }
            return s.squareRoot()
        }
        var running: [Double]
        var selected = [Int]()
        if referenceStart {
            running = (0..<n).map { i in prepared.starts.reduce(0) { $0 + distance(i, $1) } / Double(prepared.starts.count) }
        } else {
            selected = [prepared.starts[0]]
            running = (0..<n).map { distance($0, prepared.starts[0]) }
            running[prepared.starts[0]] = -1
        }
        while selected.count < count {
            var best = 0
            for i in 1..<n where running[i] > running[best] { best = i }
            selected.append(best)
            for i in 0..<n where running[i] >= 0 { running[i] = min(running[i], distance(i, best)) }
            running[best] = -1
        }
        return selected
    }

    func testLazySelectionEqualsBruteForceGreedy() throws {
        // 3000 points span three 1024-row blocks; 200 dims exercise the projection.
        for (dimension, start) in [(16, CoresetSampler.Start.randomPoint), (16, .referenceMean(points: 10)),
                                   (200, .referenceMean(points: 10))] {
            let features = gaussianMatrix(3000, dimension, seed: 21)
            let sampler = CoresetSampler(size: .count(150), start: start, seed: 5, showsProgress: false)
            let prepared = sampler.prepare(features)
            XCTAssertEqual(prepared.points.shape, [3000, min(dimension, 128)])
            let expected = bruteForceGreedy(prepared, count: 150, referenceStart: start != .randomPoint)
            XCTAssertEqual(try sampler.select(from: features), expected, "D = \(dimension), \(start)")
        }
    }

    /// FNV-1a of a selection's indices.
    private func checksum(_ indices: [Int]) -> UInt64 {
        indices.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    func testSelectionsArePinned() throws {
        // The exact selections of the greedy loop as of commit 1c50663, which a faster loop must
        // not move by a single index: 12,000 Gaussian rows of 152 dims (projected to 128), 10 %,
        // both starts; and rows in 40 tight clusters, where near-ties make the selection sensitive
        // to the last bit of a distance (changing the 1024-row blocks alone moves it: OpenBLAS's
        // sgemm bits depend on the call's shape, so the block and centre-chunk layout is pinned too).
        // The clustered sum was pinned again when the start distances moved from the installed
        // OpenBLAS's sgemm to Trawl's GEMM (the same bits on every CPU; the first Intel host
        // whose OpenBLAS ran its Prescott kernels gave a third sum).
        let gaussian = gaussianMatrix(12_000, 152, seed: 31)
        var clustered = gaussianMatrix(12_000, 152, seed: 32, scale: 0.05)
        let clusterCentres = gaussianMatrix(40, 152, seed: 33, scale: 3)
        for r in 0..<12_000 { for j in 0..<152 { clustered.data[r * 152 + j] += clusterCentres.data[(r * 7 % 40) * 152 + j] } }
        let cases: [(Tensor, CoresetSampler.Start, [Int], UInt64)] = [
            (gaussian, .referenceMean(points: 10), [5983, 5159, 9273, 6856, 5390, 7689], 0x503c_e065_523b_6e74),
            (gaussian, .randomPoint, [2722, 6121, 7034, 8956, 249, 1737], 0x1e59_721a_de5e_53e8),
            (clustered, .referenceMean(points: 10), [4960, 8350, 8872, 6739, 9521, 3453], 0xf0e1_794d_e511_c249),
        ]
        for (features, start, prefix, sum) in cases {
            let selection = try CoresetSampler(size: .fraction(0.1), start: start, seed: 0, showsProgress: false)
                .select(from: features)
            XCTAssertEqual(selection.count, 1200)
            XCTAssertEqual(Array(selection.prefix(6)), prefix, "\(start)")
            XCTAssertEqual(checksum(selection), sum, "\(start): 0x\(String(checksum(selection), radix: 16))")
        }
    }

    func testHandWorkedLine() throws {
        // Points 0…10 on a line, started from the seeded point s: the next centre is
        // the far end (10 when s < 5, else 0; at s = 5 the tie goes to the lower index).
        let xs: [Float] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let features = Tensor(shape: [11, 1], data: xs)
        let sampler = CoresetSampler(size: .count(3), start: .randomPoint, seed: 3, showsProgress: false)
        let first = sampler.prepare(features).starts[0]
        let selection = try sampler.select(from: features)
        XCTAssertEqual(selection[0], first)
        // After the start, the farthest point is an end of the line.
        XCTAssertEqual(selection[1], first < 5 ? 10 : 0)
    }

    func testDeterministicAndSizes() throws {
        let features = gaussianMatrix(2500, 140, seed: 8)
        let sampler = CoresetSampler(size: .fraction(0.1), seed: 9, showsProgress: false)
        let a = try sampler.select(from: features), b = try sampler.select(from: features)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 250)
        XCTAssertEqual(Set(a).count, 250, "indices are distinct")
        XCTAssertEqual(try sampler.sample(features), try sampler.sample(features))
        let other = try CoresetSampler(size: .fraction(0.1), seed: 10, showsProgress: false).select(from: features)
        XCTAssertNotEqual(a, other, "another seed draws another projection and start")
    }

    func testSelectsEveryPointWhenAskedForAll() throws {
        let features = Tensor(shape: [4, 2], data: [0, 0, 0, 0, 1, 1, 1, 1])   // duplicates
        let selection = try CoresetSampler(size: .count(4), start: .randomPoint, showsProgress: false).select(from: features)
        XCTAssertEqual(selection.sorted(), [0, 1, 2, 3])
    }

    func testRejectsBadInput() {
        let features = gaussianMatrix(10, 3, seed: 1)
        assertThrows(.invalidParameter(name: "coreset fraction", value: "0.0", reason: "must be in (0, 1]"),
                     try CoresetSampler(size: .fraction(0), showsProgress: false).select(from: features))
        assertThrows(.invalidParameter(name: "coreset count", value: "11", reason: "must be in 1...10 (the number of features)"),
                     try CoresetSampler(size: .count(11), showsProgress: false).select(from: features))
        assertThrows(.empty(argument: "coreset features"),
                     try CoresetSampler(size: .count(1), showsProgress: false).select(from: Tensor(shape: [0, 3])))
        var poisoned = features
        poisoned.data[7] = .infinity
        assertThrows(.nonFinite(argument: "coreset features", index: 7),
                     try CoresetSampler(size: .count(2), showsProgress: false).select(from: poisoned))
    }

    // MARK: Two-round sharded selection

    /// Largest distance from a point of `features` to its nearest selected point.
    private func coveringRadius(_ features: Tensor, _ selected: [Int]) -> Double {
        let (n, d) = (features.shape[0], features.shape[1])
        return (0..<n).map { i in
            selected.map { c in
                (0..<d).reduce(0.0) { sum, j in
                    let v = Double(features.data[i * d + j]) - Double(features.data[c * d + j])
                    return sum + v * v
                }.squareRoot()
            }.min()!
        }.max()!
    }

    /// 2000 rows in 4 shards of unequal size, interleaved as images' patches are.
    private let shards: [[Int]] = (0..<4).map { shard in (0..<2000).filter { ($0 / 7 + $0 / 300) % 4 == shard } }

    func testShardedSelectionIsTheTwoRoundScheme() throws {
        let features = gaussianMatrix(2000, 16, seed: 31)
        let sampler = CoresetSampler(size: .fraction(0.05), start: .referenceMean(points: 10), seed: 4, showsProgress: false)
        let selected = try sampler.select(from: features, shards: shards)
        // The scheme restated: each shard keeps ⌈2 · 100 · rows / 2000⌉ of its rows, one pass over the union keeps 100.
        var union = [Int]()
        for rows in shards {
            var first = sampler
            first.size = .count(Int((2 * 100 * Double(rows.count) / 2000).rounded(.up)))
            let sub = Tensor(shape: [rows.count, 16], data: rows.flatMap { features.data[$0 * 16 ..< ($0 + 1) * 16] })
            union += try first.select(from: sub).map { rows[$0] }
        }
        union.sort()
        var second = sampler
        second.size = .count(100)
        let unionRows = Tensor(shape: [union.count, 16], data: union.flatMap { features.data[$0 * 16 ..< ($0 + 1) * 16] })
        XCTAssertEqual(selected, try second.select(from: unionRows).map { union[$0] })
        XCTAssertEqual(selected.count, 100)
        XCTAssertEqual(Set(selected).count, 100)
        XCTAssertEqual(try sampler.select(from: features, shards: shards), selected, "deterministic")
        XCTAssertEqual(try sampler.select(from: features, shards: [Array(0..<2000)]), try sampler.select(from: features),
                       "one shard is the single pass")
    }

    func testShardedCoveringRadiusIsWithinTheTwoRoundBound() throws {
        // Greedy k-center is a 2-approximation, the two-round scheme a 4-approximation (Malkomes et
        // al. 2015), so its covering radius is at most 4 × the optimum ≤ 4 × the single pass's.
        let features = gaussianMatrix(2000, 16, seed: 32)
        let sampler = CoresetSampler(size: .count(60), start: .randomPoint, seed: 6, showsProgress: false)
        let single = coveringRadius(features, try sampler.select(from: features))
        let sharded = coveringRadius(features, try sampler.select(from: features, shards: shards))
        XCTAssertLessThanOrEqual(sharded, 4 * single)
        XCTAssertLessThanOrEqual(sharded, 1.5 * single, "with 2× oversampling the radius stays close to the single pass's")
    }

    func testShardsMustPartitionTheRows() {
        let features = gaussianMatrix(10, 3, seed: 1)
        let sampler = CoresetSampler(size: .count(2), showsProgress: false)
        for bad in [[[0, 1, 2], [3, 4]], [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9]], [Array(0..<9) + [10]]] {
            assertThrows(.invalidParameter(name: "coreset shards", value: "\(bad.count) shards",
                                           reason: "must hold every one of the 10 rows exactly once"),
                         try sampler.select(from: features, shards: bad))
        }
    }
}
