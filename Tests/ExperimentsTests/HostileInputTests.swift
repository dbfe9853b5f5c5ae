import Experiments
import FileErrors
import Foundation
import Images
import TestSupport
import XCTest

/// The hostile inputs of issue #10, replayed: every spec of `Tests/Fixtures/fuzz/specs` is
/// refused the way `trawl validate` reads it, every image of `Tests/Fixtures/fuzz/images` by the
/// decoder or the input pipeline's resize bound, each with the error text `expected.json` names
/// and in bounded memory. Inputs too large to commit are made in a temporary folder.
final class HostileInputTests: XCTestCase {
    private let corpus = repositoryRoot.appendingPathComponent("Tests/Fixtures/fuzz")
    /// Most extra resident memory one case may take.
    private let memoryBound = 256 << 20
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func expectations() throws -> (specs: [String: String], images: [String: String]) {
        let data = try Data(contentsOf: corpus.appendingPathComponent("expected.json"))
        let table = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: String]])
        return (try XCTUnwrap(table["specs"]), try XCTUnwrap(table["images"]))
    }

    /// What `trawl validate` does with one file: decode, then count the grid.
    private func validate(_ url: URL) throws {
        let spec = try ExperimentSpec(contentsOf: url, file: url.lastPathComponent, environment: [:])
        _ = spec.grid.count
    }

    /// The decoder at the default limits, then the resize bound at a shorter side of 4096
    /// (the largest `backbone.resize`).
    private func decodeAndResize(_ url: URL) throws {
        let limits = ImageLimits()
        let image = try Image(contentsOf: url, colorMode: .rgb, limits: limits)
        try limits.checkResize(width: image.width, height: image.height, shorterSide: 4096, source: url.path)
    }

    /// Runs `body`, expecting an error whose description contains `expected`, and checks the
    /// peak resident memory (VmHWM, reset first through /proc/self/clear_refs) grew by less
    /// than `memoryBound`.
    private func assertRefused(_ name: String, containing expected: String, _ body: () throws -> Void,
                               file: StaticString = #filePath, line: UInt = #line) {
        let baseline = resetPeakMemory()
        XCTAssertThrowsError(try body(), name, file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(name): \"\(error)\" lacks \"\(expected)\"", file: file, line: line)
        }
        if let baseline, let peak = peakMemory() {
            XCTAssertLessThan(peak - baseline, memoryBound, "\(name): peak memory grew by \(peak - baseline) bytes",
                              file: file, line: line)
        }
    }

    func testCorpusSpecsAreRefusedWithTheExpectedError() throws {
        let expected = try expectations().specs
        let folder = corpus.appendingPathComponent("specs")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(Set(files), Set(expected.keys), "specs/ and expected.json list different files")
        XCTAssertGreaterThanOrEqual(files.count, 70)
        for name in files {
            assertRefused(name, containing: try XCTUnwrap(expected[name])) {
                try validate(folder.appendingPathComponent(name))
            }
        }
    }

    func testCorpusImagesAreRefusedWithTheExpectedError() throws {
        let expected = try expectations().images
        let folder = corpus.appendingPathComponent("images")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(Set(files), Set(expected.keys), "images/ and expected.json list different files")
        for name in files {
            assertRefused(name, containing: try XCTUnwrap(expected[name])) {
                try decodeAndResize(folder.appendingPathComponent(name))
            }
        }
    }

    /// Two 65,536-value sweeps (4.3 billion grid points: 8.8 GB in 30 s before the count came
    /// first) are refused with the count.
    func testHugeSweepIsCountedNotExpanded() throws {
        let values = (1...65536).map(String.init).joined(separator: ", ")
        let url = scratch.appendingPathComponent("huge-sweep.json")
        try Data(("""
            {"name": "huge-sweep", "dataset": {"kind": "folders", "root": "data"},
             "backbone": {"name": "efficientnet-lite0"}, "scorer": {"kind": "patchcore"},
             "features": {"pretrain_dim": [\(values)], "target_dim": [\(values)]}}
            """).utf8).write(to: url)
        assertRefused("huge-sweep.json", containing: "the sweeps make 4294967296 grid points, more than the limit of 10000") {
            try validate(url)
        }
    }

    /// A 50 MB spec (a 25-million-entry `k` list took 108 s and 5.5 GB) is refused by its size.
    func testOversizedSpecIsRefusedBeforeParsing() throws {
        let url = scratch.appendingPathComponent("oversized.json")
        var text = #"{"name": "oversized", "scorer": {"kind": "knn", "k": ["#
        text += String(repeating: "1, ", count: 1_000_000) + "1]}}"
        try Data(text.utf8).write(to: url)
        assertRefused("oversized.json", containing: "bytes is too large for a spec; allowed: at most 1048576 bytes") {
            try validate(url)
        }
    }

    /// A valid 30000 × 30000 gray PNG (856 KB) is refused from its header, before 900 MB of
    /// pixels are allocated.
    func testValidGiantPNGIsRefusedFromItsHeader() throws {
        let url = scratch.appendingPathComponent("giant.png")
        let python = """
            import struct, sys, zlib
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
            packer = zlib.compressobj(9)
            row = b"\\x00" * 30001
            idat = b"".join(packer.compress(row) for _ in range(30000)) + packer.flush()
            header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
            open(sys.argv[1], "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", python, url.path]
        do { try process.run() } catch { throw XCTSkip("python3 is needed to write the giant PNG: \(error)") }
        process.waitUntilExit()
        try XCTSkipIf(process.terminationStatus != 0, "python3 could not write the giant PNG")
        assertRefused("giant.png", containing: "30000×30000 = 900.0 megapixels, over the limit of 64.0") {
            try decodeAndResize(url)
        }
    }

    /// The strict parser reads what JSONSerialization read: escapes, surrogate pairs, numbers, BOM.
    func testStrictParserReadsValidJSON() throws {
        let text = "\u{FEFF}" + #"{"a": "\u00e9\ud83d\ude00\n\/", "b": [1.5e2, -0, 0.25, true, false, null], "c": {}, "d": []}"#
        XCTAssertEqual(try JSONValue(parsing: Data(text.utf8)), .object([
            "a": .string("é😀\n/"), "b": .array([.number(150), .number(0), .number(0.25), .bool(true), .bool(false), .null]),
            "c": .object([:]), "d": .array([]),
        ]))
        XCTAssertThrowsError(try JSONValue(parsing: Data(#"{"k": 1, "k": 500}"#.utf8))) { error in
            XCTAssertEqual("\(error)", #"line 1, column 10: duplicate key "k"; each key may appear once per object"#)
        }
    }

    func testImageLimitsComeFromTheEnvironment() throws {
        XCTAssertEqual(try ImageLimits.fromEnvironment([:]), ImageLimits())
        XCTAssertEqual(try ImageLimits.fromEnvironment(["TRAWL_MAX_IMAGE_PIXELS": "1000", "TRAWL_MAX_IMAGE_ASPECT_RATIO": "3"]),
                       ImageLimits(maxPixels: 1000, maxAspectRatio: 3))
        XCTAssertThrowsError(try ImageLimits.fromEnvironment(["TRAWL_MAX_IMAGE_PIXELS": "lots"])) { error in
            XCTAssertEqual("\(error)", #"TRAWL_MAX_IMAGE_PIXELS: "lots" is not allowed; expected a positive integer (pixels)"#)
        }
    }

    /// Foundation's "NSCocoaErrorDomain error 512" becomes the POSIX reason underneath.
    func testFoundationFileErrorsAreTranslated() throws {
        let file = scratch.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try Data("y".utf8).write(to: file.appendingPathComponent("inside"))) { error in
            XCTAssertEqual(FileErrorDescription.reason(error), "not a directory")
            XCTAssertFalse(FileErrorDescription.located(error)?.contains("NSCocoaErrorDomain") ?? true)
        }
        XCTAssertThrowsError(try Data(contentsOf: scratch.appendingPathComponent("absent"))) { error in
            XCTAssertEqual(FileErrorDescription.reason(error), "no such file or directory")
        }
    }

    /// Current resident set size after resetting the peak, in bytes; nil where /proc is absent.
    private func resetPeakMemory() -> Int? {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return nil }
        handle.write(Data("5".utf8))
        try? handle.close()
        return statusField("VmRSS")
    }

    private func peakMemory() -> Int? { statusField("VmHWM") }

    /// A `kB` field of /proc/self/status, in bytes.
    private func statusField(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kilobytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }
}
