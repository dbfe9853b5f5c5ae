@testable import Experiments
import Scorers
import Tensors
import XCTest

final class EmbeddingMapTests: XCTestCase {
    /// Two taps `[40, C, 2, 2]` of seeded noise, the second half shifted.
    private func taps() -> [Tensor] {
        var random = SeededRandom(seed: 4)
        return [3, 5].map { channels in
            Tensor(shape: [40, channels, 2, 2], data: (0..<40 * channels * 4).map { i in
                Float(random.nextGaussian()) + (i >= 20 * channels * 4 ? 6 : 0)
            })
        }
    }

    /// Above the limit a seeded sample is mapped, in sample order; the same seed draws the
    /// same sample and layout.
    func testSubsamplesDeterministicallyInSampleOrder() throws {
        let rows = Array((0..<40).reversed())
        let map = try EmbeddingMap(rows: rows, taps: taps(), seed: 2, maximumPoints: 25)
        XCTAssertEqual(map.rows.count, 25)
        XCTAssertEqual(map.rows, map.rows.sorted())
        XCTAssertEqual(Set(map.rows).count, 25)
        XCTAssertEqual([map.pca.shape, map.umap.shape], [[25, 2], [25, 2]])
        let again = try EmbeddingMap(rows: rows, taps: taps(), seed: 2, maximumPoints: 25)
        XCTAssertEqual(again.rows, map.rows)
        XCTAssertEqual(again.umap, map.umap)
        XCTAssertNotEqual(try EmbeddingMap(rows: rows, taps: taps(), seed: 3, maximumPoints: 25).rows, map.rows)
        XCTAssertEqual(try EmbeddingMap(rows: rows, taps: taps(), seed: 2).rows, Array(0..<40))
    }
}
