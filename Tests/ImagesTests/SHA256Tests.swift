@testable import Checksums
import Foundation
import TestSupport
import XCTest

/// SHA-256 against FIPS 180-4 test vectors and the system's `sha256sum`.
final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hex,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash([UInt8]()).hex,
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Two blocks: the 448-bit message.
        XCTAssertEqual(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex,
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hex,
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testIncrementalUpdatesInOddChunksMatchOneShot() {
        let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for chunk in [1, 7, 63, 64, 65, 200] {
            var hash = SHA256()
            for start in stride(from: 0, to: message.count, by: chunk) {
                hash.update(message[start..<min(start + chunk, message.count)])
            }
            XCTAssertEqual(hash.finalize(), SHA256.hash(message), "chunk \(chunk)")
        }
    }

    /// The SHA-extension path and the Swift rounds give the same digests, for every length
    /// around the block and buffer boundaries and in odd incremental chunks.
    func testProcessorInstructionsMatchSwiftRounds() throws {
        guard SHA256.processorHasInstructions else {
            throw XCTSkip("this processor lacks the SHA extensions: only the Swift rounds run here")
        }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        let message = (0..<5000).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4097, 5000] {
            for chunk in [length == 0 ? 1 : length, 13, 64, 200] {
                var fast = SHA256(usingProcessorInstructions: true), portable = SHA256(usingProcessorInstructions: false)
                for start in stride(from: 0, to: length, by: chunk) {
                    fast.update(message[start..<min(start + chunk, length)])
                    portable.update(message[start..<min(start + chunk, length)])
                }
                XCTAssertEqual(fast.finalize(), portable.finalize(), "length \(length), chunk \(chunk)")
            }
        }
        var portable = SHA256(usingProcessorInstructions: false)
        portable.update(Array("abc".utf8))
        XCTAssertEqual(portable.finalize().hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testFileDigestMatchesSha256sum() throws {
        let tool = URL(fileURLWithPath: "/usr/bin/sha256sum")
        guard FileManager.default.isExecutableFile(atPath: tool.path) else {
            throw XCTSkip("/usr/bin/sha256sum is absent")
        }
        // A file over two read buffers long (1 MiB each) with an odd tail, plus a real image.
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-sha-\(getpid()).bin")
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<(2 * 1_048_576 + 12345)).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        try Data(bytes).write(to: big)
        defer { try? FileManager.default.removeItem(at: big) }
        for url in [big, fixturesDirectory.appendingPathComponent("images/baseline.jpg")] {
            let process = Process()
            process.executableURL = tool
            process.arguments = [url.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let expected = String(output.prefix(64))
            XCTAssertEqual(try SHA256.hexDigest(ofFileAt: url), expected, url.path)
        }
    }
}
