import Foundation
import Images
import Tensors
import TestSupport
import XCTest

/// Resizing, cropping and normalisation against Pillow and torchvision conventions.
final class ResizeTests: XCTestCase {
    private func source() throws -> Image {
        try Image(contentsOf: imageFixtures.appendingPathComponent("resize_source.png"))
    }

    func testBilinearMatchesPILExactly() throws {
        let image = try source()  // 37×29 random RGB
        // Down, up, one axis only, and a large downscale factor (wide antialiasing support).
        for (w, h) in [(16, 11), (50, 40), (37, 13), (9, 29), (5, 3)] {
            let resized = image.resized(width: w, height: h)
            XCTAssertEqual(resized.pixels, try expectedTensor("resize_bilinear_\(w)x\(h).npy"), "\(w)×\(h)")
        }
        let gray = image.converted(to: .gray).resized(width: 20, height: 8)
        XCTAssertEqual(gray.pixels, try expectedTensor("resize_bilinear_gray_20x8.npy"))
    }

    func testNearestMatchesPILExactly() throws {
        let image = try source()
        for (w, h) in [(16, 11), (50, 61), (10, 7)] {
            let resized = image.resized(width: w, height: h, filter: .nearest)
            XCTAssertEqual(resized.pixels, try expectedTensor("resize_nearest_\(w)x\(h).npy"), "\(w)×\(h)")
        }
    }

    func testNearestKeepsMaskValues() {
        let mask = Image(pixels: Tensor(shape: [1, 4, 4], data: (0..<16).map { $0 % 3 == 0 ? 255 : 0 }))
        let up = mask.resized(width: 9, height: 7, filter: .nearest)
        XCTAssertTrue(up.pixels.data.allSatisfy { $0 == 0 || $0 == 255 })
    }

    func testShorterSideFollowsTorchvision() throws {
        let image = try source()  // 37 wide, 29 high: int(16 · 37 / 29) = 20
        let resized = image.resized(shorterSide: 16)
        XCTAssertEqual([resized.width, resized.height], [20, 16])
        XCTAssertEqual(resized, image.resized(width: 20, height: 16))
        let tall = Image(pixels: Tensor(shape: [1, 522, 512], repeating: 7)).resized(shorterSide: 256)
        XCTAssertEqual([tall.width, tall.height], [256, 261])
    }

    func testCenterCropUsesTorchvisionRounding() {
        // 6×5 image whose values are their own indices.
        let image = Image(pixels: Tensor(shape: [1, 5, 6], data: (0..<30).map(Float.init)))
        // (5 − 2) / 2 = 1.5 → round → 2 (half to even); (6 − 3) / 2 = 1.5 → 2.
        XCTAssertEqual(image.centerCropped(width: 3, height: 2).pixels.data, [14, 15, 16, 20, 21, 22])
        // (5 − 4) / 2 = 0.5 → 0; (6 − 5) / 2 = 0.5 → 0.
        XCTAssertEqual(image.centerCropped(width: 5, height: 4).pixels.data.prefix(5), [0, 1, 2, 3, 4])
        // (5 − 2) / 2 with 7 rows: (7 − 2) / 2 = 2.5 → 2.
        let tall = Image(pixels: Tensor(shape: [1, 7, 1], data: (0..<7).map(Float.init)))
        XCTAssertEqual(tall.centerCropped(width: 1, height: 2).pixels.data, [2, 3])
    }

    func testNormalisation() {
        let image = Image(pixels: Tensor(shape: [3, 1, 2], data: [0, 255, 51, 102, 127, 255]))
        let imagenet = image.normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        let expected: [Float] = [(0 - 0.485) / 0.229, (1 - 0.485) / 0.229, (0.2 - 0.456) / 0.224,
                                 (0.4 - 0.456) / 0.224, (127.0 / 255 - 0.406) / 0.225, (1 - 0.406) / 0.225]
        for (a, b) in zip(imagenet.data, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(image.normalized(offset: 127, scale: 128).data, [-127.0 / 128, 1, -76.0 / 128, -25.0 / 128, 0, 1])
    }
}
