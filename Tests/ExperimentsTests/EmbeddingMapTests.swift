@testable import Experiments
import Scorers
import Tensors
import XCTest

final class EmbeddingMapTests: XCTestCase {
    /// Embeddings `[40, 8]` of seeded noise, the second half shifted.
    private func embeddings() -> Tensor {
        var random = SeededRandom(seed: 4)
        return Tensor(shape: [40, 8], data: (0..<40 * 8).map { i in Float(random.nextGaussian()) + (i >= 20 * 8 ? 6 : 0) })
    }

    /// Above the limit a seeded sample is mapped, in sample order; the same seed draws the
    /// same sample and layout.
    func testSubsamplesDeterministicallyInSampleOrder() throws {
        let rows = Array((0..<40).reversed())
        let map = try EmbeddingMap(rows: rows, embeddings: embeddings(), seed: 2, maximumPoints: 25)
        XCTAssertEqual(map.rows.count, 25)
        XCTAssertEqual(map.rows, map.rows.sorted())
        XCTAssertEqual(Set(map.rows).count, 25)
        XCTAssertEqual([map.pca.shape, map.umap.shape], [[25, 2], [25, 2]])
        let again = try EmbeddingMap(rows: rows, embeddings: embeddings(), seed: 2, maximumPoints: 25)
        XCTAssertEqual(again.rows, map.rows)
        XCTAssertEqual(again.umap, map.umap)
        XCTAssertNotEqual(try EmbeddingMap(rows: rows, embeddings: embeddings(), seed: 3, maximumPoints: 25).rows, map.rows)
        XCTAssertEqual(try EmbeddingMap(rows: rows, embeddings: embeddings(), seed: 2).rows, Array(0..<40))
    }
}
