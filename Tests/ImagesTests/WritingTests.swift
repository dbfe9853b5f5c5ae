import Foundation
import Images
import Tensors
import TestSupport
import XCTest

/// PNG writing round trips and heatmap overlays.
final class WritingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-images-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testPNGRoundTripGrayAndRGB() throws {
        for mode in [Image.ColorMode.rgb, .gray] {
            let image = try Image(contentsOf: imageFixtures.appendingPathComponent("resize_source.png"), colorMode: mode)
            let url = directory.appendingPathComponent("out.png")
            try image.writePNG(to: url)
            try image.writePNG(to: url)  // replaces an existing file
            let back = try Image(contentsOf: url, colorMode: .original)
            XCTAssertEqual(back, image)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            XCTAssertEqual(leftovers, ["out.png"], "temporary files must not remain")
        }
    }

    func testPNGWritingRoundsAndClips() throws {
        let image = Image(pixels: Tensor(shape: [1, 1, 4], data: [-3, 1.4, 1.6, 300]))
        let url = directory.appendingPathComponent("clip.png")
        try image.writePNG(to: url)
        XCTAssertEqual(try Image(contentsOf: url, colorMode: .original).pixels.data, [0, 1, 2, 255])
    }

    func testWriteIntoMissingDirectoryThrowsNamingTheFile() {
        let url = directory.appendingPathComponent("missing/dir/x.png")
        let image = Image(pixels: Tensor(shape: [1, 1, 1], data: [0]))
        XCTAssertThrowsError(try image.writePNG(to: url)) { error in
            XCTAssertEqual((error as? ImageError)?.kind, .unwritable)
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
        }
    }

    func testJetMatchesMatplotlibSegments() throws {
        let table = try NPYArray(contentsOf: imageFixtures.appendingPathComponent("jet.npy"))
        let rows = table.doubles
        for r in 0..<table.shape[0] {
            let t = Float(rows[4 * r])
            let color = Heatmap.jet(t)
            XCTAssertEqual(Double(color.red), rows[4 * r + 1], accuracy: 1e-6, "red at \(t)")
            XCTAssertEqual(Double(color.green), rows[4 * r + 2], accuracy: 1e-6, "green at \(t)")
            XCTAssertEqual(Double(color.blue), rows[4 * r + 3], accuracy: 1e-6, "blue at \(t)")
        }
    }

    func testOverlayBlendsAndNormalisesByTheGivenRange() {
        let gray = Image(pixels: Tensor(shape: [1, 1, 3], data: [100, 100, 100]))
        let map = Tensor(shape: [1, 3], data: [2, 4, 9])  // range 2…6: t = 0, 0.5, 1 (clamped)
        let out = Heatmap.overlay(map, range: 2...6, on: gray, opacity: 0.4)
        XCTAssertEqual(out.channels, 3)
        // t = 0 → jet (0, 0, 0.5); t = 0.5 → (0.4838…, 1, 0.4838…); t = 1 → (0.5, 0, 0).
        let low: [Float] = [60, 60, (60 + 0.4 * 127.5).rounded()]
        let mid: [Float] = [(60 + 0.4 * 255 * (0.15 / 0.31)).rounded(), 162, (60 + 0.4 * 255 * (0.15 / 0.31)).rounded()]
        let high: [Float] = [111, 60, 60]
        let pixels = out.pixels.data
        XCTAssertEqual([pixels[0], pixels[3], pixels[6]], low)
        XCTAssertEqual([pixels[1], pixels[4], pixels[7]], mid)
        XCTAssertEqual([pixels[2], pixels[5], pixels[8]], high)
    }

    func testColourBarSpansTheScaleAndLabelsItsBounds() {
        let gray = Image(pixels: Tensor(shape: [1, 10, 200], data: [Float](repeating: 100, count: 2000)))
        let out = Heatmap.withColourBar(gray, range: 0.5...12.25)
        // From 160 px wide everything is doubled: (4 margin + 8 bar + 2 gap + 7 text + 4 margin) · 2 = 50 rows.
        XCTAssertEqual(out.pixels.shape, [3, 60, 200])
        let plane = 60 * 200
        func pixel(_ x: Int, _ y: Int) -> [Float] { (0..<3).map { out.pixels.data[$0 * plane + y * 200 + x] } }
        XCTAssertEqual(pixel(5, 5), [100, 100, 100])  // the image, unchanged, as RGB
        // The bar: rows 18..<34, columns 8..<192, jet(0) = (0, 0, 0.5) on the left, jet(1) = (0.5, 0, 0) on the right.
        XCTAssertEqual(pixel(8, 20), [0, 0, 128])
        XCTAssertEqual(pixel(191, 33), [128, 0, 0])
        XCTAssertEqual(pixel(7, 20), [255, 255, 255])
        XCTAssertEqual(pixel(192, 20), [255, 255, 255])
        // Labels from row 38: "0.5" at x = 8 ("0" inks font columns 1–3 of its top row, doubled: x 10–15),
        // "12.25" right-aligned to x = 191 ("5" inks its whole top row).
        XCTAssertEqual(pixel(9, 38), [255, 255, 255])
        XCTAssertEqual(pixel(10, 38), [0, 0, 0])
        XCTAssertEqual(pixel(191, 38), [0, 0, 0])
        XCTAssertEqual(pixel(192, 38), [255, 255, 255])

        // On a narrow image labels that would not fit are left out; the bar stays.
        let narrow = Heatmap.withColourBar(Image(pixels: Tensor(shape: [3, 4, 64], data: [Float](repeating: 200, count: 768))),
                                           range: 0.123456...98765.4)
        XCTAssertEqual(narrow.pixels.shape, [3, 4 + 25, 64])
        // Text rows (18 to 28 at scale 1) stay white: "0.1235" and "9.877e+4" need 82 of 64 pixels.
        XCTAssertTrue((18 * 64..<29 * 64).allSatisfy { narrow.pixels.data[$0] == 255 })
    }
}

