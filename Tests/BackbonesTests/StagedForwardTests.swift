@testable import Backbones
import Foundation
import Tensors
import XCTest

/// The forward pass runs only the stages a request needs.
final class StagedForwardTests: XCTestCase {
    /// Counts stage runs across threads.
    private final class RunLog: @unchecked Sendable {
        private let lock = NSLock()
        private var runs: [String] = []
        func record(_ name: String) { lock.lock(); runs.append(name); lock.unlock() }
        var names: [String] { lock.lock(); defer { lock.unlock() }; return runs }
    }

    func testFeaturesStopAfterTheDeepestRequestedTap() throws {
        let log = RunLog()
        let stages = ["stem", "a", "b", "c"].map { name in
            Backbone.Stage(name: name) { x in
                log.record(name)
                return x
            }
        }
        let backbone = Backbone(
            name: "toy", taps: [FeatureTap(name: "a", channels: 3, stride: 1), FeatureTap(name: "c", channels: 3, stride: 1)],
            preprocessing: Preprocessing(resize: .stretch(size: 32), normalization: .centered),
            weightsSource: "none", stages: stages, classifier: nil)
        let input = Tensor(shape: [2, 3, 32, 32], repeating: 1)
        _ = try backbone.features(input, taps: ["a"])
        XCTAssertEqual(log.names.sorted(), ["a", "a", "stem", "stem"])
        _ = try backbone.features(input, taps: ["c", "a"])
        XCTAssertEqual(log.names.count, 4 + 8)
    }
}
