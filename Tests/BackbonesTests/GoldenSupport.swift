import Foundation
import Tensors
import TestSupport
import XCTest

/// A little-endian float32 C-order `.npy` file as a tensor (the golden files' format).
func readFloat32NPY(_ url: URL) throws -> Tensor {
    let bytes = [UInt8](try Data(contentsOf: url))
    guard bytes.count > 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else {
        throw NSError(domain: "npy", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.path): not an .npy file"])
    }
    let version = bytes[6]
    let headerLength = version == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
        : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
    let headerStart = version == 1 ? 10 : 12
    let header = String(decoding: bytes[headerStart ..< headerStart + headerLength], as: UTF8.self)
    guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
          let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
        throw NSError(domain: "npy", code: 2, userInfo: [NSLocalizedDescriptionKey: "\(url.path): not little-endian float32 C order: \(header)"])
    }
    let shape = header[open.upperBound ..< close].split(separator: ",").compactMap {
        Int($0.trimmingCharacters(in: .whitespaces))
    }
    let start = headerStart + headerLength
    let count = shape.reduce(1, *)
    let data = bytes.withUnsafeBytes { raw in
        (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self))) }
    }
    return Tensor(shape: shape, data: data)
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
