import Checksums
import Foundation
import XCTest

/// CRC-32 against the check value of the IEEE polynomial and Python's `zlib.crc32`
/// (`zlib.crc32(bytes((i * 31 + 7) & 0xff for i in range(1000)))`).
final class CRC32Tests: XCTestCase {
    private let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    func testKnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(CRC32.checksum(message), 0x8902_161E)
        XCTAssertEqual(CRC32.checksum(Array(message[..<333])), 0x8007_C578)
    }

    /// Continuing from a prefix's CRC gives the CRC of the whole, at every split (both the
    /// 8-byte and the byte-by-byte paths).
    func testContinuingMatchesOneShot() {
        for split in [0, 1, 7, 8, 9, 333, 999, 1000] {
            let head = CRC32.checksum(Array(message[..<split]))
            let whole = Array(message[split...]).withUnsafeBytes { CRC32.checksum($0, continuing: head) }
            XCTAssertEqual(whole, 0x8902_161E, "split \(split)")
        }
    }
}
