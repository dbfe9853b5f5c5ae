@testable import Scorers
import Tensors
import XCTest

final class KNNScorerTests: XCTestCase {
    func testLeaveOneOutScoresThresholdAndScaling() throws {
        // Five 1-D points; k = 2, euclidean.
        let train = Tensor(shape: [5, 1], data: [0, 1, 2, 3, 10])
        var scorer = KNNScorer(k: 2, metric: .euclidean)
        try scorer.fit(train)
        // Leave-one-out: 0 → {1, 2}: 1.5; 1 → {0, 2}: 1; 2 → {1, 3}: 1; 3 → {2, 1}: 1.5; 10 → {3, 2}: 7.5.
        XCTAssertEqual(scorer.trainingScores, [1.5, 1, 1, 1.5, 7.5])
        // numpy.percentile([1, 1, 1.5, 1.5, 7.5], 95): position 3.8 → 1.5 + 0.8 · 6 = 6.3.
        XCTAssertEqual(scorer.threshold, 6.3, accuracy: 1e-6)
        // 2.5 → {2, 3}: 0.5; 20 → {10, 3}: 13.5.
        XCTAssertEqual(try scorer.score(Tensor(shape: [2, 1], data: [2.5, 20])), [0.5, 13.5])
        XCTAssertEqual(scorer.isOutOfDistribution([0.5, 13.5]), [false, true])

        var scaled = KNNScorer(k: 2, metric: .euclidean, scalesByTrainingScores: true, thresholdPercentile: 50)
        try scaled.fit(train)
        // (s − 1) / 6.5; the median training score 1.5 → 1/13.
        XCTAssertEqual(try scaled.score(Tensor(shape: [1, 1], data: [20])), [12.5 / 6.5])
        XCTAssertEqual(scaled.threshold, 0.5 / 6.5, accuracy: 1e-7)
        // Training scores in score units: (s − 1) / 6.5.
        XCTAssertEqual(scaled.scaledTrainingScores, [Float(0.5 / 6.5), 0, 0, Float(0.5 / 6.5), 1])
    }

    func testKthNeighbourOfNormalisedFeatures() throws {
        // Four training points on the axes; L2-normalised they are the unit vectors ±x, ±y:
        // each has two neighbours at 90° (distance √2) and one at 180° (distance 2).
        let train = Tensor(shape: [4, 2], data: [2, 0, 0, 5, -1, 0, 0, -3])
        var second = KNNScorer(k: 2, metric: .euclidean, aggregate: .kth)
        try second.fit(train)
        XCTAssertEqual(second.trainingScores, [Float](repeating: Float(2).squareRoot(), count: 4))
        // (3, 3) and (30, 30) normalise to (1, 1)/√2: at 45° from +x and +y (distance
        // √(2 − √2)), at 135° from −x and −y (√(2 + √2)).
        let query = Tensor(shape: [2, 2], data: [3, 3, 30, 30])
        let near = Float((2 - 2.0.squareRoot()).squareRoot()), far = Float((2 + 2.0.squareRoot()).squareRoot())
        for (score, expected) in zip(try second.score(query), [near, near]) { XCTAssertEqual(score, expected, accuracy: 1e-6) }
        var third = KNNScorer(k: 3, metric: .euclidean, aggregate: .kth)
        try third.fit(train)
        XCTAssertEqual(third.trainingScores, [2, 2, 2, 2])
        for score in try third.score(query) { XCTAssertEqual(score, far, accuracy: 1e-6) }
        // The mean of the same neighbours, without normalisation, differs: (3, 3) to (2, 0)
        // is √10 and to (0, 5) is √13.
        var mean = KNNScorer(k: 2, metric: .euclidean, aggregate: .mean)
        try mean.fit(train)
        XCTAssertEqual(try mean.score(Tensor(shape: [1, 2], data: [3, 3]))[0],
                       Float((10.0.squareRoot() + 13.0.squareRoot()) / 2), accuracy: 1e-5)
    }

    func testCosineDefaultsAndErrors() throws {
        let train = gaussianMatrix(150, 12, seed: 41)
        var scorer = KNNScorer()
        XCTAssertEqual(scorer.k, 100)
        XCTAssertEqual(scorer.metric, .cosine)
        try scorer.fit(train)
        let scores = try scorer.score(train)
        XCTAssertTrue(scores.allSatisfy { $0 >= 0 && $0 <= 2 })
        var small = KNNScorer(k: 150)
        assertThrows(.notEnoughNeighbours(requested: 150, available: 149), try small.fit(train))
        assertThrows(.notFitted(scorer: "KNNScorer"), try KNNScorer().score(train))
    }

    func testPercentileMatchesNumpy() {
        // numpy.percentile([3, 1, 4, 1, 5], q) for q = 0, 25, 95, 100.
        XCTAssertEqual(percentile([3, 1, 4, 1, 5], 0), 1)
        XCTAssertEqual(percentile([3, 1, 4, 1, 5], 25), 1)
        XCTAssertEqual(percentile([3, 1, 4, 1, 5], 95), 4.8, accuracy: 1e-6)
        XCTAssertEqual(percentile([3, 1, 4, 1, 5], 100), 5)
    }
}

final class MahalanobisScorerTests: XCTestCase {
    func testLedoitWolfMatchesSklearn() throws {
        let json = try loadFixture("ledoit_wolf.json")
        let train = try fixtureTensor(json, "train"), test = try fixtureTensor(json, "test")
        let (covariance, mean, shrinkage) = try GaussianFit.estimate(train, estimator: .ledoitWolf, context: "test")
        XCTAssertEqual(shrinkage, try XCTUnwrap(json["shrinkage"] as? Double), accuracy: 1e-5)
        assertClose(mean.map(Float.init), try fixtureDoubles(json, "location"), tolerance: 1e-5, relative: true, "mean")
        assertClose(covariance.map(Float.init), try fixtureDoubles(json, "covariance"), tolerance: 1e-4, relative: true, "covariance")
        var scorer = MahalanobisScorer()
        try scorer.fit(train)
        assertClose(try scorer.score(test), try fixtureDoubles(json, "test_distances"), tolerance: 1e-4, relative: true,
                    "distances")
    }

    func testPerPositionEqualsImageLevelPerCell() throws {
        let features = gaussianMatrix(30 * 3 * 2 * 2, 1, seed: 51).reshaped([30, 3, 2, 2])
        let test = gaussianMatrix(4 * 3 * 2 * 2, 1, seed: 52, scale: 2).reshaped([4, 3, 2, 2])
        var spatial = MahalanobisScorer(estimator: .sampleWithRidge(0.01), blurSigma: 0)
        try spatial.fit(spatial: features)
        let scores = try spatial.score(spatial: test, imageHeight: 2, imageWidth: 2)
        for cell in 0..<4 {
            func cellRows(_ x: Tensor) -> Tensor {
                let n = x.shape[0]
                return Tensor(shape: [n, 3], data: (0..<n * 3).map { x.data[($0 / 3 * 3 + $0 % 3) * 4 + cell] })
            }
            var single = MahalanobisScorer(estimator: .sampleWithRidge(0.01))
            try single.fit(cellRows(features))
            let expected = try single.score(cellRows(test))
            for image in 0..<4 { XCTAssertEqual(scores.patchScores.data[image * 4 + cell], expected[image], accuracy: 1e-5) }
        }
        for image in 0..<4 {
            XCTAssertEqual(scores.imageScores[image], scores.patchScores.data[image * 4 ..< image * 4 + 4].max())
        }
    }

    func testIdentityCovarianceGivesEuclideanDistance() throws {
        // Hand-worked: samples ±1 on each axis around (1, 2) → variance 1 per axis (ridge 0, divisor N − 1 = 3… use 4 points).
        let train = Tensor(shape: [4, 2], data: [2, 2, 0, 2, 1, 3, 1, 1])
        var scorer = MahalanobisScorer(estimator: .sampleWithRidge(0))
        try scorer.fit(train)
        // Unbiased covariance: diag(2/3, 2/3) → distance of (1 + 2, 2) is 2 / √(2/3) = √6.
        XCTAssertEqual(try scorer.score(Tensor(shape: [1, 2], data: [3, 2]))[0], Float(6).squareRoot(), accuracy: 1e-5)
    }

    func testSingularCovarianceAndNaNAreErrors() throws {
        var scorer = MahalanobisScorer(estimator: .sampleWithRidge(0))
        let collinear = Tensor(shape: [3, 2], data: [1, 1, 2, 2, 3, 3])
        assertThrows(.singularCovariance(context: "Mahalanobis fit"), try scorer.fit(collinear))
        var poisoned = collinear
        poisoned.data[2] = .nan
        assertThrows(.nonFinite(argument: "Mahalanobis training embeddings", index: 2), try scorer.fit(poisoned))
    }
}

final class GMMScorerTests: XCTestCase {
    func testMatchesSklearnOnSeparatedClusters() throws {
        let json = try loadFixture("gmm.json")
        let points = try fixtureTensor(json, "points"), queries = try fixtureTensor(json, "queries")
        for (type, key) in [(GMMScorer.CovarianceType.full, "full"), (.diagonal, "diagonal")] {
            let reference = try XCTUnwrap(json[key] as? [String: Any])
            var scorer = GMMScorer(components: 3, covarianceType: type, seed: 4)
            try scorer.fit(points)
            XCTAssertTrue(scorer.converged)
            let order = scorer.means.indices.sorted { scorer.means[$0][0] < scorer.means[$1][0] }
            assertClose(order.flatMap { scorer.means[$0] }.map(Float.init), try fixtureDoubles(reference, "means_sorted_by_x"),
                        tolerance: 1e-3, "\(key) means")
            assertClose(order.map { Float(scorer.weights[$0]) }, try fixtureDoubles(reference, "weights_sorted_by_x"),
                        tolerance: 1e-4, "\(key) weights")
            let meanLogLikelihood = scorer.logLikelihoods(points).reduce(0, +) / Double(points.shape[0])
            XCTAssertEqual(meanLogLikelihood, try XCTUnwrap(reference["mean_log_likelihood"] as? Double), accuracy: 1e-3)
            assertClose(try scorer.score(queries), try fixtureDoubles(reference, "query_log_likelihoods").map { -$0 },
                        tolerance: 1e-3, relative: true, "\(key) query scores")
            // The far query is far less likely than the in-cluster ones.
            let scores = try scorer.score(queries)
            XCTAssertGreaterThan(scores[3], scores[0 ..< 3].max()! + 50)
        }
    }

    func testDeterministicAndErrors() throws {
        let points = gaussianMatrix(200, 4, seed: 61)
        var a = GMMScorer(components: 3, seed: 2), b = GMMScorer(components: 3, seed: 2)
        try a.fit(points)
        try b.fit(points)
        XCTAssertEqual(try a.score(points), try b.score(points))
        assertThrows(.notFitted(scorer: "GMMScorer"), try GMMScorer().score(points))
        var tooMany = GMMScorer(components: 201)
        assertThrows(.invalidParameter(name: "components", value: "201", reason: "must be in 1...200 (the number of samples)"),
                     try tooMany.fit(points))
    }
}
