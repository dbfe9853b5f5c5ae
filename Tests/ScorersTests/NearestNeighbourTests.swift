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
        // 300 queries and 4500 bank rows cross the 128 × 2048 block edges.
        let bank = gaussianMatrix(4500, 24, seed: 1)
        let queries = gaussianMatrix(300, 24, seed: 2)
        for metric in DistanceMetric.allCases {
            for k in [1, 7] {
                let found = try NearestNeighbourIndex(bank: bank, metric: metric).search(queries, k: k)
                let expected = bruteForce(queries, bank, k: k, metric: metric)
                XCTAssertEqual(found.indices, expected.indices, "\(metric) k=\(k) indices")
                assertClose(found.distances, expected.distances, tolerance: 2e-4, relative: true, "\(metric) k=\(k)")
            }
        }
    }

    func testAGroupsResultsDoNotDependOnTheGroupsSearchedWithIt() throws {
        // Groups of 200 rows (an image's patches) cross the 128-row query blocks; OpenBLAS's
        // sums depend on a row's position within its block, so without groups the middle
        // group's bits would change with the group in front of it.
        let bank = gaussianMatrix(3000, 152, seed: 3)
        let groups = (0..<3).map { gaussianMatrix(200, 152, seed: 10 + UInt64($0)) }
        let index = try NearestNeighbourIndex(bank: bank, metric: .euclidean)
        let together = try index.search(Tensor(shape: [600, 152], data: groups.flatMap(\.data)), k: 3, rowsPerGroup: 200)
        for (position, group) in groups.enumerated() {
            let alone = try index.search(group, k: 3, rowsPerGroup: 200)
            XCTAssertEqual(Array(together.distances[position * 600 ..< (position + 1) * 600]).map(\.bitPattern),
                           alone.distances.map(\.bitPattern), "group \(position)")
            XCTAssertEqual(Array(together.indices[position * 600 ..< (position + 1) * 600]), alone.indices)
        }
        let singleRows = try index.search(Tensor(shape: [600, 152], data: groups.flatMap(\.data)), k: 3, rowsPerGroup: 1)
        let lastRow = try index.search(Tensor(shape: [1, 152], data: Array(groups[2].data.suffix(152))), k: 3, rowsPerGroup: 1)
        XCTAssertEqual(Array(singleRows.distances.suffix(3)).map(\.bitPattern), lastRow.distances.map(\.bitPattern))
        XCTAssertThrowsError(try index.search(groups[0], k: 1, rowsPerGroup: 3), "200 rows are not groups of 3")
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
        let found = try NearestNeighbourIndex(bank: bank).searchLeavingOneOut(k: 3)
        let expected = bruteForce(bank, bank, k: 3, metric: .euclidean, leaveOneOut: true)
        XCTAssertEqual(found.indices, expected.indices)
        assertClose(found.distances, expected.distances, tolerance: 1e-4, relative: true, "leave-one-out")
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
