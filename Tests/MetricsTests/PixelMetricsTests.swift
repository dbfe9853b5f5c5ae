import XCTest
@testable import Metrics

final class PixelMetricsTests: XCTestCase {
    func testConnectedComponentsMatchScipyLabel() throws {
        let c = try MetricsFixture.load().components
        let mask = c.mask.map { $0 == 1 }
        let eight = try ConnectedComponents(mask: mask, height: c.height, width: c.width, connectivity: .eight)
        let four = try ConnectedComponents(mask: mask, height: c.height, width: c.width, connectivity: .four)
        XCTAssertEqual(eight.labels, c.labels8)
        XCTAssertEqual(eight.count, c.count8)
        XCTAssertEqual(four.labels, c.labels4)
        XCTAssertEqual(four.count, c.count4)
        XCTAssertNotEqual(eight.count, four.count, "diagonal touching must join components only with 8-connectivity")
        XCTAssertEqual(eight.sizes.reduce(0, +), mask.filter { $0 }.count)
    }

    /// On the hand-drawn mask AUPRO counts 5 regions (8-connected), not 9 (4-connected).
    func testAUPROUsesEightConnectedRegions() throws {
        let c = try MetricsFixture.load().components
        let image = SegmentationSample(anomalyMap: c.map, mask: c.mask.map { $0 == 1 }, height: c.height, width: c.width)
        for (i, limit) in c.fprLimits.enumerated() {
            let value = try aupro([image], fprLimit: limit)
            XCTAssertEqual(value, c.aupro[i], accuracy: 1e-12, "limit \(limit)")
            XCTAssertGreaterThan(abs(value - c.aupro4Connected[i]), 1e-3, "limit \(limit)")
        }
    }

    func testPixelAUROCMatchesSklearnOnFlattenedPixels() throws {
        let pixel = try MetricsFixture.load().pixel
        XCTAssertEqual(try pixelAUROC(pixel.images), pixel.pixelAUROC, accuracy: 1e-12)
    }

    /// The radix-sorted pixel path and the comparison-sorted image path agree on a million
    /// pixels with many ties and negative scores.
    func testPixelAUROCAgreesWithImageAUROCOnAMillionPixels() throws {
        var generator = SplitMix64(seed: 7)
        var images: [SegmentationSample] = []
        for _ in 0..<16 {
            let count = 250 * 250
            let mask = (0..<count).map { _ in generator.next() % 10 == 0 }
            let map = mask.map { anomalous -> Float in
                let noise = Float(generator.next() % 2001) / 1000 - 1  // multiples of 0.001 in [−1, 1]
                return noise + (anomalous ? 0.3 : 0)
            }
            images.append(SegmentationSample(anomalyMap: map, mask: mask, height: 250, width: 250))
        }
        let expected = try auroc(scores: images.flatMap { $0.anomalyMap.map(Double.init) },
                                 labels: images.flatMap(\.mask))
        XCTAssertEqual(try pixelAUROC(images), expected, accuracy: 1e-12)
    }

    func testAUPROMatchesIndependentPythonReference() throws {
        let pixel = try MetricsFixture.load().pixel
        for (limit, expected) in zip(pixel.fprLimits, pixel.aupro) {
            XCTAssertEqual(try aupro(pixel.images, fprLimit: limit), expected, accuracy: 1e-12, "limit \(limit)")
        }
        let curve = try proCurve(pixel.images)
        XCTAssertEqual(curve.falsePositiveRates.count, pixel.proCurve.fpr.count)
        for (a, e) in zip(curve.falsePositiveRates, pixel.proCurve.fpr) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        for (a, e) in zip(curve.overlaps, pixel.proCurve.pro) { XCTAssertEqual(a, e, accuracy: 1e-12) }
    }

    // anomalib tests/unit/metrics/aupro/test_aupro.py: vertical stripes in a 400×7 mask, scores
    // arange(2800)/2800 row-major; AUPRO at FPR limit 1/3 is 1/6 (their tolerance 1e-3).
    func testAUPROAnomalibStripes() throws {
        let map = (0..<2800).map { Float($0) / 2800 }
        func stripes(_ columns: Set<Int>) -> SegmentationSample {
            let mask = (0..<2800).map { columns.contains($0 % 7) }
            return SegmentationSample(anomalyMap: map, mask: mask, height: 400, width: 7)
        }
        let one = stripes([3])
        let three = stripes([1, 3, 5])
        XCTAssertEqual(try aupro([one], fprLimit: 1.0 / 3.0), 1.0 / 6.0, accuracy: 1e-3)
        XCTAssertEqual(try aupro([three], fprLimit: 1.0 / 3.0), 1.0 / 6.0, accuracy: 1e-3)
        XCTAssertEqual(try aupro([one, three], fprLimit: 1.0 / 3.0), 1.0 / 6.0, accuracy: 1e-3)
    }

    // anomalib tests/unit/metrics/test_pro.py: row stripes of length 1…5 in a 10×5 mask,
    // each row scored r/10 + 0.05.
    func testPROAnomalibRowStripes() throws {
        var mask = [Bool](repeating: false, count: 50)
        for (row, length) in zip([1, 3, 5, 7, 9], 1...5) {
            for x in 0..<length { mask[row * 5 + x] = true }
        }
        let map = (0..<50).map { Float($0 / 5) / 10 + 0.05 }
        let image = SegmentationSample(anomalyMap: map, mask: mask, height: 10, width: 5)
        for (threshold, expected) in zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0] as [Float], [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]) {
            XCTAssertEqual(try perRegionOverlap([image], threshold: threshold), expected, accuracy: 1e-15)
        }
        let reference = try MetricsFixture.load().pixel
        for (limit, expected) in zip(reference.fprLimits, reference.stripes10x5.aupro) {
            XCTAssertEqual(try aupro([image], fprLimit: limit), expected, accuracy: 1e-12, "limit \(limit)")
        }
    }

    func testPixelErrorsNameTheImage() {
        let good = SegmentationSample(anomalyMap: [0, 1, 2, 3], mask: [false, true, false, false], height: 2, width: 2)
        let nan = SegmentationSample(anomalyMap: [0, 1, .nan, 3], mask: [false, true, false, false], height: 2, width: 2)
        XCTAssertThrowsError(try pixelAUROC([good, nan])) {
            guard case .nonFinitePixel(image: 1, pixel: 2, _)? = $0 as? MetricError else { return XCTFail("\($0)") }
        }
        let short = SegmentationSample(anomalyMap: [0, 1, 2], mask: [false, true, false, false], height: 2, width: 2)
        XCTAssertThrowsError(try aupro([good, short])) {
            XCTAssertEqual($0 as? MetricError, .lengthMismatch(what: "anomaly map of image 1 ([2, 2])",
                                                                expected: 4, actual: 3))
        }
        let normal = SegmentationSample(anomalyMap: [0, 1, 2, 3], mask: [false, false, false, false], height: 2, width: 2)
        XCTAssertThrowsError(try aupro([normal])) {
            XCTAssertEqual($0 as? MetricError, .singleClass(metric: "AUPRO", allAnomalous: false, count: 4))
        }
        XCTAssertThrowsError(try pixelAUROC([normal])) {
            XCTAssertTrue("\($0)".contains("pixel AUROC is undefined"))
        }
        XCTAssertThrowsError(try aupro([good], fprLimit: 0))
        XCTAssertThrowsError(try pixelAUROC([])) { XCTAssertEqual($0 as? MetricError, .emptyInput(what: "images")) }
    }

    func testRadixSortOrdersFloatKeys() {
        let values: [Float] = [3, -0.0, -1e-30, 0, .greatestFiniteMagnitude, -2, 1e-30, -.greatestFiniteMagnitude, 0.5]
        var packed = values.enumerated().map { UInt64(sortableKey($1)) << 32 | UInt64($0) }
        radixSortByUpperHalf(&packed)
        let order = packed.map { Int($0 & 0xFFFF_FFFF) }
        XCTAssertEqual(order, [7, 5, 2, 1, 3, 6, 8, 0, 4])  // −0 and +0 tie, kept in input order
    }
}

/// SplitMix64, for reproducible test data.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
