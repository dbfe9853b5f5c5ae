import Foundation
import Metrics
import TestSupport

/// `Tests/Fixtures/metrics/metrics.json`, written by `make_fixtures.py` beside it
/// (sklearn, numpy and scipy reference values).
struct MetricsFixture: Decodable {
    struct Curve: Decodable {
        var fpr: [Double]
        var tpr: [Double]
        /// `nil` stands for sklearn's +inf.
        var thresholds: [Double?]
    }
    struct PR: Decodable {
        var precision: [Double]
        var recall: [Double]
        var thresholds: [Double]
    }
    struct RankingCase: Decodable {
        var name: String
        var scores: [Double]
        var labels: [Int]
        var auroc: Double
        var averagePrecision: Double
        var roc: Curve?
        var pr: PR?
        var boolLabels: [Bool] { labels.map { $0 == 1 } }
    }
    struct Percentiles: Decodable {
        var values: [Double]
        var small: [Double]
        var percentiles: [Double]
        var expected: [Double]
        var expectedSmall: [Double]
    }
    struct Components: Decodable {
        var height: Int
        var width: Int
        var mask: [Int]
        var labels8: [Int32]
        var count8: Int
        var labels4: [Int32]
        var count4: Int
        var map: [Float]
        var fprLimits: [Double]
        var aupro: [Double]
        var aupro4Connected: [Double]
    }
    struct Pixel: Decodable {
        struct PRO: Decodable { var fpr: [Double]; var pro: [Double] }
        struct Stripes: Decodable { var aupro: [Double] }
        var height: Int
        var width: Int
        var maps: [[Float]]
        var masks: [[Int]]
        var pixelAUROC: Double
        var fprLimits: [Double]
        var aupro: [Double]
        var proCurve: PRO
        var regions: Int
        var stripes10x5: Stripes

        var images: [SegmentationSample] {
            zip(maps, masks).map {
                SegmentationSample(anomalyMap: $0, mask: $1.map { $0 == 1 }, height: height, width: width)
            }
        }
    }
    var ranking: [RankingCase]
    var percentiles: Percentiles
    var components: Components
    var pixel: Pixel

    static func load() throws -> MetricsFixture {
        let url = fixturesDirectory.appendingPathComponent("metrics/metrics.json")
        return try JSONDecoder().decode(MetricsFixture.self, from: Data(contentsOf: url))
    }
}
