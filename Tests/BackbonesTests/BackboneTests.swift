import Backbones
import Images
import Foundation
import Tensors
import TestSupport
import Weights
import XCTest

/// Structure, registry and errors of the backbones.
final class BackboneTests: XCTestCase {
    /// Every backbone whose weights are present loads with exactly the
    /// registry's taps, and its taps have the advertised shapes.
    func testRegistryTapsMatchLoadedNetworks() throws {
        var loaded = 0
        for descriptor in BackboneRegistry.all(assets: assetsDirectory) {
            guard descriptor.weightsFile != nil else {
                print("skipping \(descriptor.name): weights absent")
                continue
            }
            let backbone = try descriptor.load()
            XCTAssertEqual(backbone.taps, descriptor.taps, descriptor.name)
            XCTAssertEqual(backbone.weightsSource, descriptor.weightsFile?.path, descriptor.name)
            let size = 64
            let input = Tensor(shape: [1, 3, size, size], data: (0..<(3 * size * size)).map { Float($0 % 17) / 17 - 0.5 })
            let features = try backbone.features(input, taps: backbone.taps.map(\.alias))
            for (tap, output) in zip(backbone.taps, features) {
                XCTAssertEqual(output.shape, [1, tap.channels, size / tap.stride, size / tap.stride], "\(descriptor.name) \(tap.name)")
            }
            loaded += 1
        }
        try XCTSkipIf(loaded == 0, "no backbone weights present")
    }

    /// Input sizes other than the training size work (multiples of 32).
    func testNonSquareInputGivesTapSizes() throws {
        let descriptor = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "efficientnet-lite0 weights absent")
        let backbone = try descriptor.load()
        let input = Tensor(shape: [1, 3, 256, 160], repeating: 0.25)
        let outputs = try backbone.features(input, taps: ["stride8", "stride32"])
        XCTAssertEqual(outputs.map(\.shape), [[1, 40, 32, 20], [1, 320, 8, 5]])
    }

    func testUnknownTapAndBackbone() throws {
        XCTAssertThrowsError(try BackboneRegistry.descriptor(named: "vgg16", assets: assetsDirectory)) { error in
            guard case .unknownBackbone("vgg16", let available)? = error as? BackboneError else { return XCTFail("\(error)") }
            XCTAssertTrue(available.contains("efficientnet-lite0") && available.contains("wide_resnet50_2"))
        }
        let reference = try referenceDirectory("resnet")
        let backbone = try ResNet.backbone(StateDict(contentsOf: reference.appendingPathComponent("resnet18-random.pth")), name: "resnet18")
        XCTAssertThrowsError(try backbone.features(Tensor(shape: [1, 3, 64, 64]), taps: ["layer5"])) { error in
            guard case .unknownTap("layer5", "resnet18", _)? = error as? BackboneError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try backbone.features(Tensor(shape: [3, 64, 64]), taps: ["layer1"])) { error in
            XCTAssertEqual(error as? BackboneError, .badInput(backbone: "resnet18", shape: [3, 64, 64]))
        }
    }

    /// A missing torchvision checkpoint names the published file and where to put it.
    func testMissingTorchvisionWeightsSayWhatToGet() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-no-assets")
        for (name, file) in [("resnet18", "resnet18-f37072fd.pth"), ("wide_resnet50_2", "wide_resnet50_2-95faca4d.pth"),
                             ("wide_resnet101_2", "wide_resnet101_2-32ee1156.pth")] {
            let descriptor = try BackboneRegistry.descriptor(named: name, assets: empty)
            XCTAssertThrowsError(try descriptor.load(weights: empty.appendingPathComponent("missing.pth"))) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("https://download.pytorch.org/models/\(file)"), message)
                XCTAssertTrue(message.contains(empty.appendingPathComponent("torchvision/\(file)").path), message)
            }
        }
    }

    func testWrongArchitectureAndWrongShapesNameTheProblem() throws {
        let reference = try referenceDirectory("resnet")
        let url = reference.appendingPathComponent("resnet18-random.pth")
        XCTAssertThrowsError(try ResNet.backbone(.resnet50, checkpoint: url)) { error in
            guard case let .architectureMismatch("resnet50", file, detail)? = error as? BackboneError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, url.path)
            XCTAssertTrue(detail.contains("2-2-2-2 BasicBlocks"), detail)
        }
        // The same checkpoint with one convolution of the wrong width.
        let dict = try StateDict(contentsOf: url)
        let tensors = dict.keys.compactMap { key -> (String, Tensor)? in
            guard let tensor = try? dict.tensor(key) else { return nil }
            return (key, key == "layer3.1.conv1.weight" ? Tensor(shape: [256, 128, 3, 3]) : tensor)
        }
        XCTAssertThrowsError(try ResNet.backbone(StateDict(tensors: tensors, source: "edited.pth"), name: "resnet18")) { error in
            XCTAssertEqual(error as? WeightsError, .shapeMismatch(file: "edited.pth", key: "layer3.1.conv1.weight",
                                                                expected: [256, 256, 3, 3], found: [256, 128, 3, 3]))
        }
    }

    /// Weights the network would not use (squeeze-excitation of a full
    /// EfficientNet, here a stray extra tensor) make the load fail.
    func testUnusedWeightsAreAnError() throws {
        let reference = try referenceDirectory("resnet")
        let dict = try StateDict(contentsOf: reference.appendingPathComponent("resnet18-random.pth"))
        var tensors = dict.keys.compactMap { key in (try? dict.tensor(key)).map { (key, $0) } }
        tensors.append(("layer1.0.se.fc1.weight", Tensor(shape: [4, 64, 1, 1])))
        XCTAssertThrowsError(try ResNet.backbone(StateDict(tensors: tensors, source: "extra.pth"), name: "resnet18")) { error in
            XCTAssertEqual(error as? BackboneError, .architectureMismatch(
                backbone: "resnet18", file: "extra.pth", detail: "entries the network does not use (1): layer1.0.se.fc1.weight"))
        }
    }

    func testMobileNetV2HasNoClassifier() throws {
        let descriptor = try BackboneRegistry.descriptor(named: "mobilenet_v2", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "mobilenet_v2 weights absent")
        let backbone = try descriptor.load()
        XCTAssertThrowsError(try backbone.logits(Tensor(shape: [1, 3, 64, 64]))) { error in
            XCTAssertEqual(error as? BackboneError, .noClassifier(backbone: "mobilenet_v2"))
        }
    }

    /// Geometry and normalisation of both preprocessing styles on a hand-made image.
    func testPreprocessingInput() throws {
        // 300 × 200 (W × H) image whose red channel is the column index, green 255, blue 0.
        let (width, height) = (300, 200)
        var data = [Float]()
        data += (0..<height).flatMap { _ in (0..<width).map { Float($0 % 256) } }
        data += [Float](repeating: 255, count: width * height)
        data += [Float](repeating: 0, count: width * height)
        let image = Image(pixels: Tensor(shape: [3, height, width], data: data))

        let lite = try Preprocessing(resize: .stretch(size: 224), normalization: .centered).input(for: image, source: "ramp")
        XCTAssertEqual(lite.shape, [3, 224, 224])
        XCTAssertEqual(lite.data[224 * 224 + 5], 1)           // (255 − 127) / 128
        XCTAssertEqual(lite.data[2 * 224 * 224 + 5], -127 / 128)

        let torchvision = try Preprocessing(resize: .shorterSideThenCenterCrop(shorterSide: 256, crop: 224),
                                            normalization: .imageNet).input(for: image, source: "ramp")
        XCTAssertEqual(torchvision.shape, [3, 224, 224])
        XCTAssertEqual(torchvision.data[224 * 224 + 5], (1 - 0.456) / 0.224, accuracy: 1e-6)
        XCTAssertEqual(torchvision.data[2 * 224 * 224 + 5], (0 - 0.406) / 0.225, accuracy: 1e-6)
    }
}
