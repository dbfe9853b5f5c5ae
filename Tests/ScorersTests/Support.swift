import Foundation
import Scorers
import Tensors
import TestSupport
import XCTest

/// A JSON fixture under `Tests/Fixtures/scorers/`.
func loadFixture(_ name: String) throws -> [String: Any] {
    let url = fixturesDirectory.appendingPathComponent("scorers").appendingPathComponent(name)
    let data = try Data(contentsOf: url)
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
}

/// A tensor stored as `<key>_shape` and `<key>` (flat list) in a fixture.
func fixtureTensor(_ json: [String: Any], _ key: String) throws -> Tensor {
    let shape = try XCTUnwrap(json["\(key)_shape"] as? [Int], "\(key)_shape")
    return Tensor(shape: shape, data: try fixtureDoubles(json, key).map(Float.init))
}

func fixtureDoubles(_ json: [String: Any], _ key: String) throws -> [Double] {
    try XCTUnwrap(json[key] as? [Double], "fixture key \(key)")
}

/// `[rows, columns]` of seeded standard-normal floats.
func gaussianMatrix(_ rows: Int, _ columns: Int, seed: UInt64, scale: Double = 1) -> Tensor {
    var random = SeededRandom(seed: seed)
    return Tensor(shape: [rows, columns], data: (0..<rows * columns).map { _ in Float(random.nextGaussian() * scale) })
}

func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double, relative: Bool = false,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(message): count", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let bound = relative ? tolerance * max(1, abs(e)) : tolerance
        if abs(Double(a) - e) > bound {
            XCTFail("\(message)[\(i)]: \(a) vs expected \(e) (tolerance \(bound))", file: file, line: line)
            return
        }
    }
}

/// Asserts `body` throws exactly `expected`.
func assertThrows<T>(_ expected: ScorerError, _ body: @autoclosure () throws -> T,
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? ScorerError, expected, file: file, line: line)
    }
}
