import Foundation
import Tensors
import TestSupport
import XCTest

/// A golden `.npy` file as a tensor.
func golden(_ url: URL) throws -> Tensor {
    try NPYArray(contentsOf: url).tensor
}

/// `../shared/reference/<subdirectory>`, or a skip with the reason.
func referenceDirectory(_ subdirectory: String) throws -> URL {
    guard let shared = sharedDirectory else { throw XCTSkip("../shared is absent: no golden references") }
    let url = shared.appendingPathComponent("reference/\(subdirectory)")
    guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("absent: \(url.path)") }
    return url
}

/// max |actual − expected| / max |expected|, after checking the shapes agree.
func relativeError(_ actual: Tensor, _ expected: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(actual.count, expected.count, "element counts differ", file: file, line: line)
    guard actual.count == expected.count else { return .infinity }
    var worst: Float = 0
    for i in 0..<actual.count { worst = max(worst, abs(actual.data[i] - expected.data[i])) }
    return worst / expected.maxMagnitude
}

/// Asserts `actual` matches the golden `expected` within 1e-3 of its max
/// magnitude, printing the achieved ratio.
func assertMatchesGolden(_ actual: Tensor, _ expected: Tensor, _ label: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    let ratio = relativeError(actual, expected, file: file, line: line)
    print(String(format: "golden %@: max abs error / max magnitude = %.2e", label, ratio))
    XCTAssertLessThanOrEqual(ratio, 1e-3, label, file: file, line: line)
}
