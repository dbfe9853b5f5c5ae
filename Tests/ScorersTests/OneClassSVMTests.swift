import Foundation
import Scorers
import Tensors
import XCTest

final class OneClassSVMScorerTests: XCTestCase {
    /// Decision values, ρ and the dual's sum against sklearn `OneClassSVM` (libsvm) for
    /// γ "scale" and fixed, small and large ν (fixture: make_svm_probe_fixtures.py).
    func testMatchesSklearnOneClassSVM() throws {
        let json = try loadFixture("one_class_svm.json")
        let train = try fixtureTensor(json, "train"), queries = try fixtureTensor(json, "queries")
        let cases = try XCTUnwrap(json["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for reference in cases {
            let nu = try XCTUnwrap(reference["nu"] as? Double)
            let gamma: OneClassSVMScorer.Gamma = (reference["gamma"] as? String) == "scale"
                ? .scale : .value(try XCTUnwrap(reference["gamma"] as? Double))
            let label = "nu \(nu), gamma \(gamma)"
            var scorer = OneClassSVMScorer(nu: nu, gamma: gamma)
            try scorer.fit(train)
            let fittedGamma = try XCTUnwrap(scorer.fittedGamma)
            XCTAssertEqual(fittedGamma, try XCTUnwrap(reference["fitted_gamma"] as? Double),
                           accuracy: 1e-9 * fittedGamma, label)
            // libsvm's equality constraint: Σα = ν·N.
            XCTAssertEqual(scorer.dualCoefficients.reduce(0, +), try XCTUnwrap(reference["dual_sum"] as? Double),
                           accuracy: 1e-9, label)
            XCTAssertEqual(scorer.rho, try XCTUnwrap(reference["rho"] as? Double), accuracy: 1e-3, label)
            assertClose(try scorer.decisionFunction(train).map(Float.init), try fixtureDoubles(reference, "train_decision"),
                        tolerance: 1e-3, "\(label) training decision values")
            let queryDecisions = try scorer.decisionFunction(queries)
            assertClose(queryDecisions.map(Float.init), try fixtureDoubles(reference, "query_decision"),
                        tolerance: 1e-3, "\(label) query decision values")
            XCTAssertEqual(try scorer.score(queries), queryDecisions.map { Float(-$0) })
            let supportCount = try XCTUnwrap(reference["support_count"] as? Int)
            XCTAssertLessThanOrEqual(abs(scorer.supportIndices.count - supportCount), 2, label)
        }
    }

    func testErrors() throws {
        let points = gaussianMatrix(20, 3, seed: 5)
        assertThrows(.notFitted(scorer: "OneClassSVMScorer"), try OneClassSVMScorer().score(points))
        var badNu = OneClassSVMScorer(nu: 0)
        assertThrows(.invalidParameter(name: "nu", value: "0.0", reason: "must be in (0, 1]"), try badNu.fit(points))
        var badGamma = OneClassSVMScorer(gamma: .value(-1))
        assertThrows(.invalidParameter(name: "gamma", value: "-1.0", reason: "must be a finite number > 0"),
                     try badGamma.fit(points))
        var scorer = OneClassSVMScorer()
        try scorer.fit(points)
        assertThrows(.badShape(argument: "one-class SVM test embeddings", shape: [2, 4], expected: "[N, 3]"),
                     try scorer.score(gaussianMatrix(2, 4, seed: 6)))
    }
}

final class LogisticProbeTests: XCTestCase {
    /// Coefficients, intercepts and probabilities against sklearn `LogisticRegression`
    /// (lbfgs, C = 1 / (N·λ)), one binary model per class, at weak and strong regularisation.
    func testMatchesSklearnLogisticRegression() throws {
        let json = try loadFixture("logistic_probe.json")
        let x = try fixtureTensor(json, "x"), queries = try fixtureTensor(json, "queries")
        let labels = try XCTUnwrap(json["labels"] as? [[Int]]).map(Set.init)
        let classes = try XCTUnwrap(json["classes"] as? Int)
        for reference in try XCTUnwrap(json["fits"] as? [[String: Any]]) {
            let regularization = try XCTUnwrap(reference["regularization"] as? Double)
            var probe = LogisticProbe(regularization: regularization)
            try probe.fit(x, labels: labels, classCount: classes)
            assertClose(probe.coefficients.flatMap { $0 }.map(Float.init), try fixtureDoubles(reference, "coefficients"),
                        tolerance: 1e-3, "λ \(regularization) coefficients")
            assertClose(probe.intercepts.map(Float.init), try fixtureDoubles(reference, "intercepts"),
                        tolerance: 1e-3, "λ \(regularization) intercepts")
            assertClose(try probe.probabilities(queries).flatMap { $0 }.map(Float.init),
                        try fixtureDoubles(reference, "query_probabilities"), tolerance: 1e-4,
                        "λ \(regularization) probabilities")
        }
    }

    func testClassWithoutPositivesPredictsZeroAndErrors() throws {
        let x = gaussianMatrix(30, 3, seed: 8)
        let labels = (0..<30).map { Set([$0 % 2]) }
        var probe = LogisticProbe()
        try probe.fit(x, labels: labels, classCount: 3)
        XCTAssertTrue(try probe.probabilities(x).allSatisfy { $0[2] == 0 })
        XCTAssertThrowsError(try probe.fit(x, labels: [[0]], classCount: 3))
        XCTAssertThrowsError(try probe.fit(x, labels: labels, classCount: 1))
        var unregularised = LogisticProbe(regularization: 0)
        assertThrows(.invalidParameter(name: "regularization", value: "0.0", reason: "must be a finite number > 0"),
                     try unregularised.fit(x, labels: labels, classCount: 2))
    }
}
