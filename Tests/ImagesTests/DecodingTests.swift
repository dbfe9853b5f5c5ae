import Foundation
import Images
import Tensors
import TestSupport
import XCTest

let imageFixtures = fixturesDirectory.appendingPathComponent("images")

/// The `.npy` fixture `name` as a tensor.
func expectedTensor(_ name: String) throws -> Tensor {
    try NPYArray(contentsOf: imageFixtures.appendingPathComponent(name)).tensor
}

/// Decoding against arrays computed by numpy (PNG, from the samples written into the file) and
/// by Pillow/libjpeg-turbo (JPEG); see Tests/Fixtures/images/make_fixtures.py.
final class DecodingTests: XCTestCase {
    private func decode(_ name: String, _ mode: Image.ColorMode) throws -> Image {
        try Image(contentsOf: imageFixtures.appendingPathComponent(name), colorMode: mode)
    }

    func testEveryPNGColorTypeDecodesToStoredValues() throws {
        let channels = [
            "gray8": 1, "gray16": 1, "gray1": 1, "graya8": 1, "gray16_trns": 1,
            "rgb8": 3, "rgb16": 3, "rgba8": 3, "palette_trns": 3, "rgb8_interlaced": 3,
        ]
        for (name, c) in channels {
            let image = try decode("\(name).png", .original)
            let expected = try expectedTensor("\(name)_original.npy")
            XCTAssertEqual(image.channels, c, name)
            XCTAssertEqual([image.height, image.width], [5, 7], name)
            XCTAssertEqual(image.pixels, expected, "\(name): decoded values differ from the stored samples")
        }
    }

    func testSixteenBitSamplesAreScaledNotTruncated() throws {
        let image = try decode("gray16.png", .original)
        // A wrong implementation keeping the high byte gives whole numbers only.
        XCTAssertTrue(image.pixels.data.contains { $0 != $0.rounded() })
        XCTAssertEqual(image.pixels, try expectedTensor("gray16_original.npy"))
    }

    func testGrayIsReplicatedForRGB() throws {
        let gray = try expectedTensor("gray8_original.npy").data
        let image = try decode("gray8.png", .rgb)
        XCTAssertEqual(image.pixels.shape, [3, 5, 7])
        XCTAssertEqual(image.pixels.data, gray + gray + gray)
    }

    func testRGBToGrayMatchesPIL() throws {
        XCTAssertEqual(try decode("rgb8.png", .gray).pixels, try expectedTensor("rgb8_gray.npy"))
        XCTAssertEqual(try decode("rgb16.png", .gray).pixels, try expectedTensor("rgb16_gray.npy"))
        // The same conversion on a decoded image.
        XCTAssertEqual(try decode("rgb8.png", .rgb).converted(to: .gray).pixels, try expectedTensor("rgb8_gray.npy"))
    }

    func testJPEGMatchesLibjpegTurboThroughPIL() throws {
        for name in ["baseline", "progressive"] {
            let rgb = try decode("\(name).jpg", .original)
            XCTAssertEqual(rgb.pixels.shape, [3, 17, 23])
            XCTAssertEqual(rgb.pixels, try expectedTensor("\(name)_rgb.npy"), name)
            XCTAssertEqual(try decode("\(name).jpg", .gray).pixels, try expectedTensor("\(name)_gray.npy"), name)
        }
        let gray = try decode("gray.jpg", .original)
        XCTAssertEqual(gray.pixels, try expectedTensor("gray_jpg_original.npy"))
    }

    func testFormatIsSniffedNotTakenFromTheExtension() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-sniff-\(getpid()).png")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: imageFixtures.appendingPathComponent("baseline.jpg"), to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        XCTAssertEqual(try Image(contentsOf: copy).pixels, try expectedTensor("baseline_rgb.npy"))
    }
}

/// Broken inputs: one typed error naming the file and the reason, never a crash or a grey image.
final class DecodingErrorTests: XCTestCase {
    private func assertError(_ name: String, _ kind: ImageError.Kind, mentions words: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        let url = imageFixtures.appendingPathComponent(name)
        XCTAssertThrowsError(try Image(contentsOf: url), file: file, line: line) { error in
            guard let error = error as? ImageError else {
                return XCTFail("expected ImageError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertEqual(error.path, url.path, file: file, line: line)
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(url.path + ": "), text, file: file, line: line)
            for word in words { XCTAssertTrue(text.contains(word), "\(text) lacks \(word)", file: file, line: line) }
            print("message: \(text)")
        }
    }

    func testCorruptPNGCRC() {
        assertError("corrupt_crc.png", .corrupt, mentions: ["corrupt PNG data", "libpng", "CRC"])
    }

    func testFlippedBytesInPNGData() {
        assertError("corrupt_idat.png", .corrupt, mentions: ["corrupt PNG data", "libpng", "IDAT"])
    }

    func testCorruptPNGCompressedStream() {
        assertError("corrupt_zlib.png", .corrupt, mentions: ["corrupt PNG data", "libpng"])
    }

    func testTruncatedPNG() {
        assertError("truncated.png", .truncated, mentions: ["truncated PNG data (libpng: unexpected end of data)"])
    }

    func testTruncatedJPEGIsAnErrorNotAGreyImage() {
        assertError("truncated.jpg", .truncated, mentions: ["truncated JPEG data", "libjpeg", "Premature end of JPEG file"])
    }

    func testCorruptJPEGScanData() {
        assertError("corrupt_scan.jpg", .corrupt, mentions: ["corrupt JPEG data", "libjpeg"])
    }

    func testEmptyFile() {
        assertError("empty.png", .empty, mentions: ["empty file"])
    }

    func testTextFile() {
        assertError("text.png", .unrecognizedFormat, mentions: ["not a PNG or JPEG file", "68 65 6c 6c"])
    }

    func testCMYKJPEGIsUnsupported() {
        assertError("cmyk.jpg", .unsupported, mentions: ["CMYK"])
    }

    func testTwelveBitJPEGIsUnsupported() {
        assertError("precision12.jpg", .unsupported, mentions: ["unsupported JPEG", "precision 12"])
    }

    func testMissingFile() {
        assertError("no-such-file.png", .unreadable, mentions: ["cannot read file"])
    }
}
