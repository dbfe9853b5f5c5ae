import Foundation
import Images
import Tensors
import TestSupport
import XCTest

/// Real images and golden inputs from ../shared (skipped with a printed reason when absent).
final class SharedDataTests: XCTestCase {
    private func shared() throws -> URL {
        guard let url = sharedDirectory else { throw XCTSkip("../shared is absent: real-image tests skipped") }
        return url
    }

    /// Largest absolute difference and how many elements differ by more than `tolerance`.
    private func compare(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-6) -> (maxError: Float, count: Int) {
        var maxError: Float = 0, count = 0
        for (x, y) in zip(a.data, b.data) {
            maxError = max(maxError, abs(x - y))
            if abs(x - y) > tolerance { count += 1 }
        }
        return (maxError, count)
    }

    func testCoffeeResizeMatchesEfficientNetInput() throws {
        let reference = try shared().appendingPathComponent("reference/efficientnet-lite0")
        let image = try Image(contentsOf: reference.appendingPathComponent("coffee.png"))
        let input = image.resized(width: 224, height: 224).normalized(offset: 127, scale: 128)
        let expected = try NPYArray(contentsOf: reference.appendingPathComponent("coffee_input_chw.npy")).tensor
        XCTAssertEqual(input.shape, [3, 224, 224])
        let (maxError, count) = compare(input, expected)
        print("coffee_input_chw: source \(image.width)×\(image.height), max |error| \(maxError), \(count) of \(input.count) elements differ")
        XCTAssertEqual(count, 0, "PIL bilinear resize should be reproduced exactly")
    }

    func testCoffeeImageNetInput() throws {
        let directory = try shared()
        let image = try Image(contentsOf: directory.appendingPathComponent("reference/efficientnet-lite0/coffee.png"))
        let input = image.resized(width: 224, height: 224)
            .normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        let expected = try NPYArray(contentsOf: directory.appendingPathComponent("reference/resnet/coffee_imagenet_input_chw.npy")).tensor
        let (maxError, count) = compare(input, expected, tolerance: 1e-5)
        print("coffee_imagenet_input_chw: max |error| \(maxError), \(count) of \(input.count) elements differ by > 1e-5")
        XCTAssertLessThanOrEqual(maxError, 1e-5)
    }

    func testMVTecImagesDecodeToDocumentedSizes() throws {
        let mvtec = try shared().appendingPathComponent("datasets/mvtec")
        // The one file that departs from the README's sizes (checked with PIL and `file`:
        // a progressive JPEG re-saved by GIMP, 512 wide and 522 high).
        let exceptions = ["hazelnut/train/good/01.jpg": [3, 522, 512]]
        let expectations: [(category: String, side: Int, channels: Int, ext: String)] = [
            ("bottle", 256, 3, "png"), ("grid", 256, 1, "png"), ("hazelnut", 512, 3, "jpg"),
        ]
        for (category, side, channels, ext) in expectations {
            let root = mvtec.appendingPathComponent(category)
            let files = try allFiles(under: root)
            let images = files.filter { !$0.path.contains("/ground_truth/") }
            let masks = files.filter { $0.path.contains("/ground_truth/") }
            XCTAssertFalse(images.isEmpty, category)
            for url in images {
                XCTAssertEqual(url.pathExtension, ext, url.path)
                let image = try Image(contentsOf: url, colorMode: .original)
                let relative = String(url.path.dropFirst(mvtec.path.count + 1))
                let expected = exceptions[relative] ?? [channels, side, side]
                XCTAssertEqual([image.channels, image.height, image.width], expected, url.path)
            }
            for url in masks {
                let mask = try Image(contentsOf: url, colorMode: .original)
                XCTAssertEqual([mask.channels, mask.height, mask.width], [1, side, side], url.path)
                XCTAssertTrue(mask.pixels.data.allSatisfy { $0 == 0 || $0 == 255 }, "\(url.path): mask values not 0/255")
                XCTAssertTrue(mask.pixels.data.contains(255), "\(url.path): empty mask")
            }
            print("mvtec/\(category): \(images.count) images \(side)×\(side)×\(channels) \(ext), \(masks.count) masks")
        }
    }

    private func allFiles(under root: URL) throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])!
        var files: [URL] = []
        for case let url as URL in enumerator where try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true {
            if url.lastPathComponent.hasPrefix(".") { continue }
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }
}
