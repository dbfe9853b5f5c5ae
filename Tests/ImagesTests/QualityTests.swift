import Foundation
import Images
import Tensors
import XCTest

/// Image-quality measures against scipy/numpy on the same gray pixels
/// (Tests/Fixtures/images/make_quality.py).
final class QualityTests: XCTestCase {
    func testMatchesScipyLaplacianVarianceMeanAndDeviation() throws {
        let data = try Data(contentsOf: imageFixtures.appendingPathComponent("quality.json"))
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        XCTAssertEqual(expected.count, 2)
        for (name, values) in expected {
            let image = try Image(contentsOf: imageFixtures.appendingPathComponent(name), colorMode: .gray)
            XCTAssertEqual([image.height, image.width], values["shape"] as? [Int], name)
            let quality = ImageQuality(image)
            for (column, value) in quality.values {
                let reference = try XCTUnwrap(values[column] as? Double, "\(name) \(column)")
                XCTAssertEqual(value, reference, accuracy: 1e-9 * max(1, abs(reference)), "\(name) \(column)")
            }
        }
    }

    func testColourImagesAreMeasuredOnTheirGrayConversion() throws {
        let url = imageFixtures.appendingPathComponent("rgb8.png")
        XCTAssertEqual(ImageQuality(try Image(contentsOf: url, colorMode: .rgb)),
                       ImageQuality(try Image(contentsOf: url, colorMode: .gray)))
    }

    func testAFlatImageHasNoSharpnessOrContrast() {
        let flat = Image(pixels: Tensor(shape: [1, 4, 6], data: [Float](repeating: 80, count: 24)))
        XCTAssertEqual(ImageQuality(flat), ImageQuality(sharpness: 0, brightness: 80, contrast: 0))
    }
}
