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
}
