import Foundation
import TestSupport
import XCTest

/// The test-support `.npy` reader against files written by `np.save`.
final class NPYTests: XCTestCase {
    private func fixture(_ name: String) throws -> NPYArray {
        try NPYArray(contentsOf: fixturesDirectory.appendingPathComponent("images/\(name)"))
    }

    func testFloat32() throws {
        let a = try fixture("npy_f4.npy")  // np.arange(6).reshape(2, 3) * 0.5 - 1
        XCTAssertEqual(a.elementType, .float32)
        XCTAssertEqual(a.shape, [2, 3])
        XCTAssertEqual(a.floats, [-1, -0.5, 0, 0.5, 1, 1.5])
        XCTAssertEqual(a.tensor.shape, [2, 3])
    }

    func testFloat64() throws {
        let a = try fixture("npy_f8.npy")
        XCTAssertEqual(a.elementType, .float64)
        XCTAssertEqual(a.shape, [2, 2])
        XCTAssertEqual(a.doubles, [1.25, -2.5, 3e10, 4])
    }

    func testUInt8() throws {
        let a = try fixture("npy_u1.npy")
        XCTAssertEqual(a.elementType, .uint8)
        XCTAssertEqual(a.shape, [3])
        XCTAssertEqual(a.floats, [0, 7, 255])
    }

    func testInt64() throws {
        let a = try fixture("npy_i8.npy")
        XCTAssertEqual(a.elementType, .int64)
        XCTAssertEqual(a.shape, [2, 1, 1])
        XCTAssertEqual(a.integers, [-3, 1 << 40])
    }

    func testRejectsNonNPY() {
        XCTAssertThrowsError(try NPYArray(data: Array("hello world".utf8), path: "x.npy")) { error in
            XCTAssertEqual("\(error)", "x.npy: not an .npy file (bad magic)")
        }
    }
}
