import Backbones
import Foundation
import Tensors
import TestSupport
import Weights
import XCTest

/// The torchvision layouts the registry names, built from placeholder state
/// dicts with torchvision's key names and shapes.
final class ResNetLayoutTests: XCTestCase {
    func testArchitecturesBuildWithRegistryTaps() throws {
        for architecture in [ResNet.Architecture.resnet34, .resnet50] {
            let backbone = try ResNet.backbone(architecture, weights: ResNet.placeholderWeights(architecture))
            let descriptor = try BackboneRegistry.descriptor(named: architecture.rawValue, assets: assetsDirectory)
            XCTAssertEqual(backbone.taps, descriptor.taps, architecture.rawValue)
            let outputs = try backbone.features(Tensor(shape: [1, 3, 64, 64], repeating: 1), taps: ["layer1", "layer4"])
            XCTAssertEqual(outputs.map(\.shape), [[1, backbone.taps[0].channels, 16, 16], [1, backbone.taps[3].channels, 2, 2]])
            XCTAssertEqual(try backbone.logits(Tensor(shape: [1, 3, 64, 64], repeating: 1)).shape, [1, 1000])
        }
    }

    /// A ResNet-50 layout is not a Wide ResNet-50-2 (same blocks, half the width).
    func testWidthDistinguishesWideResNet() throws {
        XCTAssertThrowsError(try ResNet.backbone(.wideResNet50_2, weights: ResNet.placeholderWeights(.resnet50))) { error in
            guard case let .architectureMismatch("wide_resnet50_2", _, detail)? = error as? BackboneError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(detail.contains("layer1 width 64") && detail.contains("layer1 width 128"), detail)
        }
    }
}

