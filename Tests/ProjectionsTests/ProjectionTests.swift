import CBLAS
import Foundation
@testable import Projections
import Scorers
import Tensors
import TestSupport
import XCTest

/// A JSON fixture under `Tests/Fixtures/projections/`.
private func fixture(_ name: String) throws -> Any {
    let url = fixturesDirectory.appendingPathComponent("projections").appendingPathComponent(name)
    return try JSONSerialization.jsonObject(with: Data(contentsOf: url))
}

private func assertClose(_ actual: [Double], _ expected: [Double], tolerance: Double, _ message: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): count", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > tolerance * max(1, abs(e)) {
        XCTFail("\(message)[\(i)]: \(a) vs expected \(e)", file: file, line: line)
        return
    }
}

/// Three well-separated Gaussian blobs in 10-D, 50 points each, in blob order.
private func blobs() -> (points: Tensor, labels: [Int]) {
    var random = SeededRandom(seed: 5)
    var data = [Float](), labels = [Int]()
    for blob in 0..<3 {
        for _ in 0..<50 {
            data += (0..<10).map { Float(random.nextGaussian()) + ($0 == blob ? 12 : 0) }
            labels.append(blob)
        }
    }
    return (Tensor(shape: [150, 10], data: data), labels)
}

/// `[rows, columns]` of seeded standard-normal floats.
private func gaussianPoints(_ rows: Int, _ columns: Int) -> Tensor {
    var random = SeededRandom(seed: 9)
    return Tensor(shape: [rows, columns], data: (0..<rows * columns).map { _ in Float(random.nextGaussian()) })
}

final class PCATests: XCTestCase {
    /// Against numpy (eigh of the covariance, sklearn's sign convention).
    func testMatchesNumpy() throws {
        let json = try XCTUnwrap(try fixture("pca.json") as? [String: Any])
        let shape = try XCTUnwrap(json["points_shape"] as? [Int])
        let points = Tensor(shape: shape, data: try XCTUnwrap(json["points"] as? [Double]).map(Float.init))
        let pca = try PCA(fitting: points, components: 3)
        assertClose(pca.mean, try XCTUnwrap(json["mean"] as? [Double]), tolerance: 1e-10, "mean")
        assertClose(pca.explainedVariance, try XCTUnwrap(json["explained_variance"] as? [Double]),
                    tolerance: 1e-10, "explained variance")
        assertClose(pca.axes, try XCTUnwrap(json["axes"] as? [Double]), tolerance: 1e-9, "axes")
        assertClose(try pca.transform(points).data.map(Double.init), try XCTUnwrap(json["transformed"] as? [Double]),
                    tolerance: 1e-5, "transformed")
    }

    func testRejectsBadInput() {
        XCTAssertThrowsError(try PCA(fitting: Tensor(shape: [1, 3], data: [1, 2, 3])))
        XCTAssertThrowsError(try PCA(fitting: Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, .nan])))
        XCTAssertThrowsError(try PCA(fitting: Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6]), components: 3))
    }
}

final class UMAPPiecesTests: XCTestCase {
    /// a, b against scipy `curve_fit` run as umap-learn's `find_ab_params`.
    func testCurveParametersMatchUMAPLearn() throws {
        let cases = try XCTUnwrap(try fixture("curve.json") as? [[String: Double]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let curve = LowDimensionalCurve(minDistance: c["min_dist"]!, spread: c["spread"]!)
            XCTAssertEqual(curve.a, c["a"]!, accuracy: 1e-5 * c["a"]!, "a for \(c)")
            XCTAssertEqual(curve.b, c["b"]!, accuracy: 1e-5 * c["b"]!, "b for \(c)")
        }
    }

    /// Row (0, 1, 2, 3), k = 4: ρ = 1 and 1 + t + t² = log₂ 4 with t = exp(−1/σ), so
    /// t = (√5 − 1)/2 and σ = −1 / ln t. A duplicate (distance 0) is skipped for ρ.
    func testSigmaSolvesTheMembershipSum() {
        let (sigmas, rhos) = smoothNeighbourDistances([0, 1, 2, 3, 0, 0, 2, 3], neighbours: 4)
        XCTAssertEqual(rhos, [1, 2])
        XCTAssertEqual(sigmas[0], -1 / log((5.0.squareRoot() - 1) / 2), accuracy: 1e-4)
        // Second row: 1 + 1 + exp(−1/σ) = 2 has no solution; bisection halves σ from 1 until
        // exp(−1/σ) < 1e-5, which first holds at σ = 1/16.
        XCTAssertEqual(sigmas[1], 0.0625)
    }

    /// Points 0, 1, 3, 7 on a line, 3 neighbours (itself and two others): with c = log₂ 3 − 1
    /// the directed strengths are 1 to the nearest and c to the second nearest, and the
    /// union gives 0–1: 1, 0–2: 2c − c², 1–2: 1, 1–3: c, 2–3: 1, in both directions.
    func testFuzzyUnionIsSymmetricAndCombinesBothDirections() throws {
        let graph = try FuzzySimplicialSet(points: Tensor(shape: [4, 1], data: [0, 1, 3, 7]), neighbours: 3)
        let c = log2(3.0) - 1
        let expected: [[Int]: Double] = [[0, 1]: 1, [0, 2]: 2 * c - c * c, [1, 2]: 1, [1, 3]: c, [2, 3]: 1]
        XCTAssertEqual(graph.heads.count, 10)
        for e in graph.heads.indices {
            let (h, t) = (graph.heads[e], graph.tails[e])
            let weight = try XCTUnwrap(expected[[min(h, t), max(h, t)]], "unexpected edge \(h)–\(t)")
            XCTAssertEqual(graph.weights[e], weight, accuracy: 1e-4, "edge \(h)–\(t)")
        }
        XCTAssertEqual(zip(graph.heads, graph.tails).map { [$0, $1] },
                       [[0, 1], [0, 2], [1, 0], [1, 2], [1, 3], [2, 0], [2, 1], [2, 3], [3, 1], [3, 2]])
    }
}

final class UMAPTests: XCTestCase {
    /// Separated blobs stay separated, and one seed gives one layout bit for bit.
    func testSeparatesBlobsDeterministically() throws {
        let (points, labels) = blobs()
        let umap = UMAP(epochs: 200, seed: 7)
        let layout = try umap.embed(points)
        XCTAssertEqual(layout.shape, [150, 2])
        XCTAssertEqual(try umap.embed(points), layout)
        XCTAssertNotEqual(try UMAP(epochs: 200, seed: 8).embed(points), layout)
        // Every point's 5 nearest layout neighbours are in its own blob.
        let neighbours = try NearestNeighbourIndex(bank: layout).searchLeavingOneOut(k: 5)
        for i in 0..<150 {
            for j in 0..<5 { XCTAssertEqual(labels[neighbours.indices[i * 5 + j]], labels[i], "point \(i)") }
        }
    }

    /// The layout does not depend on the thread count OpenBLAS was set to (kNN graph and PCA
    /// initialisation).
    func testLayoutIsIndependentOfBLASThreads() throws {
        let points = gaussianPoints(600, 40)
        let umap = UMAP(epochs: 20, seed: 1)
        let single = try umap.embed(points)
        let pca = try PCA(fitting: points, components: 2).transform(points)
        openblas_set_num_threads(4)
        defer { openblas_set_num_threads(1) }
        XCTAssertEqual(try umap.embed(points), single)
        XCTAssertEqual(try PCA(fitting: points, components: 2).transform(points), pca)
    }

    func testFewPointsUseEveryOtherPointAsNeighbour() throws {
        let layout = try UMAP(epochs: 50).embed(Tensor(shape: [4, 2], data: [0, 0, 1, 0, 0, 1, 5, 5]))
        XCTAssertEqual(layout.shape, [4, 2])
        XCTAssertTrue(layout.data.allSatisfy(\.isFinite))
    }

    func testRejectsBadParameters() {
        let points = blobs().points
        XCTAssertThrowsError(try UMAP(neighbours: 1).embed(points))
        XCTAssertThrowsError(try UMAP(minDistance: 2, spread: 1).embed(points))
        XCTAssertThrowsError(try UMAP(epochs: 0).embed(points))
    }
}
