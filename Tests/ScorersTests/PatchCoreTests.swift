@testable import Scorers
import Tensors
import XCTest

final class PatchFeatureTests: XCTestCase {
    func testMatchesReferenceFixture() throws {
        let json = try loadFixture("patch_features.json")
        let taps = try XCTUnwrap(json["taps"] as? [[String: Any]]).map { tap in
            Tensor(shape: tap["shape"] as! [Int], data: (tap["data"] as! [Double]).map(Float.init))
        }
        for case let fixture as [String: Any] in try XCTUnwrap(json["cases"] as? [Any]) {
            let pretrain = fixture["pretrain"] as? Int, target = fixture["target"] as? Int
            let aggregator = PatchFeatureAggregator(patchSize: 3, pretrainDimension: pretrain, targetDimension: target)
            let patches = try aggregator(taps)
            XCTAssertEqual(patches.features.shape, fixture["shape"] as? [Int])
            XCTAssertEqual([patches.images, patches.height, patches.width], [2, 4, 6])
            assertClose(patches.features.data, try fixtureDoubles(fixture, "features"), tolerance: 1e-5,
                        "pretrain \(String(describing: pretrain)) target \(String(describing: target))")
        }
    }

    func testLocalAverageCountsPaddingZeros() throws {
        // One channel of ones: corner cells average 4 ones over 9, edges 6/9, interior 1.
        let ones = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        let patches = try PatchFeatureAggregator()([ones])
        let expected: [Double] = [4, 6, 4, 6, 9, 6, 4, 6, 4].map { $0 / 9 }
        assertClose(patches.features.data, expected, tolerance: 1e-6, "3x3 count_include_pad")
    }

    func testGlobalAveragePoolConcatenatesTaps() throws {
        let a = Tensor(shape: [1, 2, 1, 2], data: [1, 3, 10, 20])
        let b = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        XCTAssertEqual(try globalAveragePool([a, b]), Tensor(shape: [1, 3], data: [2, 15, 2.5]))
    }

    func testRejectsMismatchedTaps() {
        let a = Tensor(shape: [2, 1, 2, 2]), b = Tensor(shape: [3, 1, 2, 2])
        assertThrows(.badShape(argument: "taps[1]", shape: [3, 1, 2, 2], expected: "[N, C, H, W] with N = 2 and nonzero extents"),
                     try PatchFeatureAggregator()([a, b]))
        assertThrows(.empty(argument: "taps"), try PatchFeatureAggregator()([]))
    }
}

final class PatchCoreScorerTests: XCTestCase {
    private let bank = Tensor(shape: [3, 2], data: [0, 0, 1, 0, 0, 1])
    /// One image, 2 × 2 grid; the last cell (3, 4) is the anomaly.
    private let test = PatchFeatures(features: Tensor(shape: [4, 2], data: [0, 0, 1, 0, 0, 1, 3, 4]),
                                     images: 1, height: 2, width: 2)

    func testHandCheckedScores() throws {
        var scorer = PatchCoreScorer(coreset: nil, blurSigma: 0)
        try scorer.fit(bank: bank)
        let scores = try scorer.score(patches: test, imageHeight: 2, imageWidth: 2)
        // Nearest bank entry of (3, 4) is (0, 1): distance √(9 + 9) = 3√2.
        XCTAssertEqual(scores.patchScores.data, [0, 0, 0, 3 * Float(2).squareRoot()])
        XCTAssertEqual(scores.imageScores, [3 * Float(2).squareRoot()])
        XCTAssertEqual(scores.anomalyMaps, scores.patchScores, "same size, no blur")

        var squared = PatchCoreScorer(coreset: nil, metric: .squaredEuclidean)
        try squared.fit(bank: bank)
        XCTAssertEqual(try squared.score(patches: test, imageHeight: 8, imageWidth: 8).imageScores, [18])

        // Mean of 2 nearest for (3, 4): (3√2 + √20) / 2.
        var two = PatchCoreScorer(coreset: nil, neighbours: 2)
        try two.fit(bank: bank)
        XCTAssertEqual(try two.score(patches: test, imageHeight: 2, imageWidth: 2).imageScores[0],
                       (3 * Float(2).squareRoot() + Float(20).squareRoot()) / 2, accuracy: 1e-5)
    }

    /// `imageScores(patches:)` (no maps) gives `score`'s image scores bit for bit: three images
    /// of 300 patches near bank rows, one far patch in image 1, two equal far patches in image 2.
    func testImageScoresEqualTheFullSearchBitForBit() throws {
        let bank = gaussianMatrix(4096, 24, seed: 1)
        let noise = gaussianMatrix(900, 24, seed: 2, scale: 0.05)
        var features = Tensor(shape: [900, 24], data: [Float](repeating: 0, count: 900 * 24))
        for row in 0..<900 {
            for j in 0..<24 { features.data[row * 24 + j] = bank.data[(row * 7 % 4096) * 24 + j] + noise.data[row * 24 + j] }
        }
        for (row, scale) in [(300 + 200, Float(3)), (600 + 10, 2), (600 + 250, 2)] {
            for j in 0..<24 { features.data[row * 24 + j] = scale * features.data[(600 + 10) * 24 + j] + 1 }
        }
        let patches = PatchFeatures(features: features, images: 3, height: 15, width: 20)
        let scorers = [
            PatchCoreScorer(coreset: nil),
            PatchCoreScorer(coreset: nil, neighbours: 3, metric: .squaredEuclidean),
            PatchCoreScorer(coreset: nil, metric: .cosine, reweightingNeighbours: 5),
            PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.5), showsProgress: false), reweightingNeighbours: 9),
        ]
        for var scorer in scorers {
            try scorer.fit(bank: bank)
            let full = try scorer.score(patches: patches, imageHeight: 15, imageWidth: 20).imageScores
            let pruned = try scorer.imageScores(patches: patches)
            XCTAssertEqual(pruned.map(\.bitPattern), full.map(\.bitPattern), "\(scorer.metric), k = \(scorer.neighbours)")
        }
    }

    /// The saved model's training scores: training images (smooth fields of patch features,
    /// neighbouring cells alike, as backbone features are) scored against a coreset of their own
    /// patches, where most cells sit near a bank row and the inverted file's bounds prune most
    /// of them; one image's worst cell is repeated (ties), one image is constant; with 8
    /// neighbours of a 2 % coreset some lists are shorter than `k` and bound nothing.
    func testPrunedImageScoresEqualTheFullSearchOnTrainingImages() throws {
        let (images, height, width, d) = (6, 14, 13, 24)
        let perImage = height * width
        let centres = gaussianMatrix(images * 4, d, seed: 30)
        let noise = gaussianMatrix(images * perImage, d, seed: 31, scale: 0.05)
        var features = Tensor(shape: [images * perImage, d], data: [Float](repeating: 0, count: images * perImage * d))
        for image in 0..<images {
            for cell in 0..<perImage {
                // A bilinear blend of four centres over the grid, plus noise.
                let (y, x) = (Float(cell / width) / Float(height - 1), Float(cell % width) / Float(width - 1))
                let weights = [(1 - y) * (1 - x), (1 - y) * x, y * (1 - x), y * x]
                for j in 0..<d {
                    let row = image * perImage + cell
                    features.data[row * d + j] = (0..<4).reduce(noise.data[row * d + j]) {
                        $0 + weights[$1] * centres.data[(image * 4 + $1) * d + j]
                    }
                }
            }
        }
        for cell in [5 * width + 6, 9 * width + 2] {               // equal worst cells
            for j in 0..<d { features.data[(2 * perImage + cell) * d + j] = 4 + Float(j % 3) }
        }
        for row in 5 * perImage ..< 6 * perImage { for j in 0..<d { features.data[row * d + j] = 0.5 } }
        let patches = PatchFeatures(features: features, images: images, height: height, width: width)
        for var scorer in [
            PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.1), showsProgress: false)),
            PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.1), showsProgress: false), neighbours: 3, metric: .squaredEuclidean),
            PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.25), showsProgress: false), metric: .cosine, reweightingNeighbours: 9),
            PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.02), showsProgress: false), neighbours: 8),
        ] {
            try scorer.fit(bank: features)
            let full = try scorer.score(patches: patches, imageHeight: height, imageWidth: width).imageScores
            let pruned = try scorer.imageScores(patches: patches)
            XCTAssertEqual(pruned.map(\.bitPattern), full.map(\.bitPattern), "\(scorer.metric), k = \(scorer.neighbours)")
        }
    }

    func testReweightingFollowsEquationSeven() throws {
        // m* = (0, 1); its b = 2 nearest bank entries: itself and (0, 0).
        // Distances of (3, 4) to them: 3√2 and 5; weight = 1 − e^{3√2} / (e^{3√2} + e⁵).
        var scorer = PatchCoreScorer(coreset: nil, reweightingNeighbours: 2)
        try scorer.fit(bank: bank)
        let s = 3 * 2.0.squareRoot()
        let expected = s * (1 - 1 / (1 + exp(5 - s)))
        XCTAssertEqual(Double(try scorer.score(patches: test, imageHeight: 2, imageWidth: 2).imageScores[0]),
                       expected, accuracy: 1e-5)
    }

    /// The map options against numpy/scipy (a bank with a tight and a wide normal mode; an
    /// even and an odd cell count): maps are the patch scores maximum-filtered, then minus the
    /// image's median for `image_median`; patch and image scores stay the raw distances.
    func testMapOptionsMatchTheReference() throws {
        let json = try loadFixture("patchcore_maps.json")
        let bank = Tensor(shape: json["bank_shape"] as! [Int], data: try fixtureDoubles(json, "bank").map(Float.init))
        for case let fixture as [String: Any] in try XCTUnwrap(json["cases"] as? [Any]) {
            let (height, width) = (fixture["height"] as! Int, fixture["width"] as! Int)
            let maxFilter = fixture["max_filter"] as! Int
            let normalization = try XCTUnwrap(MapNormalization(rawValue: fixture["normalization"] as! String))
            let test = PatchFeatures(features: Tensor(shape: fixture["test_shape"] as! [Int],
                                                      data: try fixtureDoubles(fixture, "test").map(Float.init)),
                                     images: 2, height: height, width: width)
            var scorer = PatchCoreScorer(coreset: nil, blurSigma: 0, mapNormalization: normalization, mapMaxFilter: maxFilter)
            try scorer.fit(bank: bank)
            let scores = try scorer.score(patches: test, imageHeight: height, imageWidth: width)
            // Float GEMM distances (‖q‖² + ‖m‖² − 2q·m with ‖q‖² ≈ 100) agree with float64 to 1e-4.
            let label = "\(height)×\(width) max filter \(maxFilter) \(normalization)"
            assertClose(scores.patchScores.data, try fixtureDoubles(fixture, "patch_scores"), tolerance: 1e-4, label)
            assertClose(scores.imageScores, try fixtureDoubles(fixture, "image_scores"), tolerance: 1e-4, label)
            assertClose(scores.anomalyMaps.data, try fixtureDoubles(fixture, "maps"), tolerance: 1e-4, label)
            // Without map options the image scores are the same; only the maps move.
            var plain = PatchCoreScorer(coreset: nil, blurSigma: 0)
            try plain.fit(bank: bank)
            let raw = try plain.score(patches: test, imageHeight: height, imageWidth: width)
            XCTAssertEqual(raw.imageScores, scores.imageScores)
            XCTAssertEqual(raw.anomalyMaps, raw.patchScores)
        }
        var even = PatchCoreScorer(coreset: nil, mapMaxFilter: 4)
        try even.fit(bank: bank)
        let test = PatchFeatures(features: Tensor(shape: [1, 4]), images: 1, height: 1, width: 1)
        assertThrows(.invalidParameter(name: "mapMaxFilter", value: "4", reason: "must be odd and positive"),
                     try even.score(patches: test, imageHeight: 1, imageWidth: 1))
    }

    func testAnomalousCellScoresHighestThroughTaps() throws {
        // Training: 4 images of small random taps; test: a copy of the first with a bright block.
        let fine = gaussianMatrix(4 * 6 * 8 * 8, 1, seed: 31, scale: 0.1).reshaped([4, 6, 8, 8])
        let coarse = gaussianMatrix(4 * 10 * 4 * 4, 1, seed: 32, scale: 0.1).reshaped([4, 10, 4, 4])
        var scorer = PatchCoreScorer(coreset: CoresetSampler(size: .fraction(0.5), seed: 1, showsProgress: false))
        try scorer.fit(taps: [fine, coarse])
        XCTAssertEqual(scorer.index?.count, 4 * 64 / 2)
        var anomalous = Tensor(shape: [1, 6, 8, 8], data: Array(fine.data[0..<6 * 64]))
        // A bright 3 × 3 block centred on cell (5, 2): only that cell's whole window is bright.
        for channel in 0..<6 { for y in 4...6 { for x in 1...3 { anomalous.data[channel * 64 + y * 8 + x] = 5 } } }
        let coarseTest = Tensor(shape: [1, 10, 4, 4], data: Array(coarse.data[0..<160]))
        let scores = try scorer.score(taps: [anomalous, coarseTest], imageHeight: 32, imageWidth: 32)
        XCTAssertEqual(scores.anomalyMaps.shape, [1, 32, 32])
        let worst = scores.patchScores.data.indices.max { scores.patchScores.data[$0] < scores.patchScores.data[$1] }!
        XCTAssertEqual(worst, 5 * 8 + 2)
        XCTAssertEqual(scores.imageScores[0], scores.patchScores.data[worst])
        // Determinism: a second fit and score are bit-identical.
        var again = scorer
        try again.fit(taps: [fine, coarse])
        XCTAssertEqual(try again.score(taps: [anomalous, coarseTest], imageHeight: 32, imageWidth: 32), scores)
    }

    func testErrors() throws {
        let unfitted = PatchCoreScorer()
        assertThrows(.notFitted(scorer: "PatchCoreScorer"), try unfitted.score(patches: test, imageHeight: 2, imageWidth: 2))
        var scorer = PatchCoreScorer(coreset: nil, neighbours: 4)
        assertThrows(.notEnoughNeighbours(requested: 4, available: 3), try scorer.fit(bank: bank))
        assertThrows(.empty(argument: "PatchCore training features"), try scorer.fit(bank: Tensor(shape: [0, 2])))
        var poisoned = bank
        poisoned.data[1] = .nan
        assertThrows(.nonFinite(argument: "PatchCore training features", index: 1), try scorer.fit(bank: poisoned))
        var fitted = PatchCoreScorer(coreset: nil)
        try fitted.fit(bank: bank)
        var nanTest = test
        nanTest.features.data[7] = .nan
        assertThrows(.nonFinite(argument: "PatchCore test features", index: 7),
                     try fitted.score(patches: nanTest, imageHeight: 2, imageWidth: 2))
        let wide = PatchFeatures(features: Tensor(shape: [4, 3]), images: 1, height: 2, width: 2)
        assertThrows(.badShape(argument: "PatchCore test features", shape: [4, 3], expected: "[1 · 2 · 2, 2] (the bank's dimension)"),
                     try fitted.score(patches: wide, imageHeight: 2, imageWidth: 2))
    }
}
