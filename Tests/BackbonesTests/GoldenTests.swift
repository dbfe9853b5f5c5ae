@testable import Backbones
import CBLAS
import Images
import Foundation
import Tensors
import TestSupport
import Weights
import XCTest

/// Outputs against the golden files in `../shared/reference` (computed with
/// PyTorch in eval mode by an independent reference).
final class GoldenTests: XCTestCase {
    func testEfficientNetLite0Taps() throws {
        let reference = try referenceDirectory("efficientnet-lite0")
        let descriptor = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "efficientnet-lite0 weights absent (run make setup)")
        let backbone = try descriptor.load()
        let input = try golden(reference.appendingPathComponent("coffee_input_chw.npy")).reshaped([1, 3, 224, 224])
        let features = try backbone.features(input, taps: ["_blocks.4", "stride16"])
        assertMatchesGolden(features[0].reshaped([40, 28, 28]),
                            try golden(reference.appendingPathComponent("coffee_blocks4_chw.npy")), "lite0 _blocks.4")
        assertMatchesGolden(features[1].reshaped([112, 14, 14]),
                            try golden(reference.appendingPathComponent("coffee_blocks10_chw.npy")), "lite0 _blocks.10")
        let logits = try backbone.logits(input)
        assertMatchesGolden(logits.reshaped([1000]),
                            try golden(reference.appendingPathComponent("coffee_logits.npy")), "lite0 logits")
    }

    func testResNet18() throws {
        try checkResNet("resnet18-random")
    }

    func testTinyBottleneckResNet() throws {
        try checkResNet("resnet-bottleneck-tiny-random")
    }

    private func checkResNet(_ model: String) throws {
        let reference = try referenceDirectory("resnet")
        let dict = try StateDict(contentsOf: reference.appendingPathComponent("\(model).pth"))
        let backbone = try ResNet.backbone(dict, name: model)
        let input = try golden(reference.appendingPathComponent("coffee_imagenet_input_chw.npy")).reshaped([1, 3, 224, 224])
        let features = try backbone.features(input, taps: ["layer2", "layer3"])
        for (tap, output) in zip(["layer2", "layer3"], features) {
            let expected = try golden(reference.appendingPathComponent("\(model)_coffee_\(tap)_chw.npy"))
            assertMatchesGolden(output.reshaped(expected.shape), expected, "\(model) \(tap)")
        }
        let expected = try golden(reference.appendingPathComponent("\(model)_coffee_logits.npy"))
        assertMatchesGolden(try backbone.logits(input).reshaped([1000]), expected, "\(model) logits")
    }

    /// Each image of a batch gets, bit for bit, the result it gets alone, whatever thread count
    /// OpenBLAS was given (as `OPENBLAS_NUM_THREADS` would set it): on a 2-core AMD EPYC a lone
    /// image on two OpenBLAS threads differed in the last bits from the same image in a batch.
    /// ResNet-18 to `layer3` runs every ResNet kernel (Winograd on Trawl's GEMM at 56², 28² and
    /// 14², im2col for the stem, strided 3×3 and strided 1×1 shortcuts). The three images also
    /// run through the stages as one group, whatever the core count: at 28² and 14² their tiles
    /// share the Winograd products.
    func testBatchOfThreeMatchesSingleImages() throws {
        let reference = try referenceDirectory("resnet")
        let coffee = try golden(reference.appendingPathComponent("coffee_imagenet_input_chw.npy"))
        let flipped = Tensor(shape: coffee.shape, data: coffee.data.reversed())
        let darker = Tensor(shape: coffee.shape, data: coffee.data.map { $0 * 0.5 - 0.25 })
        var networks = [(try ResNet.backbone(StateDict(contentsOf: reference.appendingPathComponent("resnet18-random.pth")),
                                             name: "resnet18"), "layer3")]
        let lite0 = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        if lite0.weightsFile != nil { networks.append((try lite0.load(), "_blocks.10")) }
        for (backbone, tap) in networks {
            let single = try [coffee, flipped, darker].map { image -> Tensor in
                openblas_set_num_threads(4)
                return try backbone.features(image.reshaped([1, 3, 224, 224]), taps: [tap])[0]
            }
            openblas_set_num_threads(2)
            let images = Tensor.stack([coffee, flipped, darker])
            let batch = try backbone.features(images, taps: [tap])[0]
            let last = backbone.stages.firstIndex { $0.name == tap }!
            let group = backbone.stages[...last].reduce(images) { $1.run($0) }
            XCTAssertEqual(batch.shape, [3] + single[0].shape.dropFirst())
            for i in 0..<3 {
                XCTAssertEqual(batch.slice(i), single[i].slice(0), "\(backbone.name) image \(i): batch and single results differ")
                XCTAssertEqual(group.slice(i), single[i].slice(0), "\(backbone.name) image \(i): group and single results differ")
            }
        }
    }
}

extension GoldenTests {
    /// The golden input classifies as the reference's top-5 (967 espresso, p ≈ 0.899).
    func testEfficientNetLite0TopFiveFromGoldenInput() throws {
        let reference = try referenceDirectory("efficientnet-lite0")
        let descriptor = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "efficientnet-lite0 weights absent (run make setup)")
        let input = try golden(reference.appendingPathComponent("coffee_input_chw.npy")).reshaped([1, 3, 224, 224])
        let top = topClasses(try descriptor.load().logits(input), k: 5)[0]
        let expected = try expectedTopFive(reference)
        XCTAssertEqual(top.map(\.index), expected.map(\.index))
        for (score, reference) in zip(top, expected) {
            XCTAssertEqual(score.probability, reference.probability, accuracy: 1e-3, "class \(score.index)")
        }
    }
}

/// `expected.json`'s coffee top-5 as class scores.
func expectedTopFive(_ reference: URL) throws -> [ClassScore] {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: reference.appendingPathComponent("expected.json")))
    let rows = ((json as! [String: Any])["coffee"] as! [String: Any])["top5"] as! [[Double]]
    return rows.map { ClassScore(index: Int($0[0]), probability: Float($0[1])) }
}

extension GoldenTests {
    /// `coffee.png` through the Images decoder and PIL-compatible resize
    /// classifies as espresso (967) within 0.03 of the reference probability.
    func testCoffeePNGEndToEnd() throws {
        let reference = try referenceDirectory("efficientnet-lite0")
        let descriptor = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "efficientnet-lite0 weights absent (run make setup)")
        let backbone = try descriptor.load()
        let image = try Image(contentsOf: reference.appendingPathComponent("coffee.png"))
        let input = try backbone.preprocessing.input(for: image, source: "coffee.png")
        let golden = try NPYArray(contentsOf: reference.appendingPathComponent("coffee_input_chw.npy")).tensor
        print(String(format: "coffee.png preprocessing vs golden input: max abs difference %.2e",
                     zip(input.data, golden.data).map { abs($0 - $1) }.max() ?? 0))
        let top = topClasses(try backbone.logits(input.reshaped([1, 3, 224, 224])), k: 5)[0]
        let expected = try expectedTopFive(reference)
        print("coffee.png top-5: \(top.map { "\($0.index) \($0.probability)" })")
        XCTAssertEqual(top[0].index, 967)
        XCTAssertEqual(top[0].probability, expected[0].probability, accuracy: 0.03)
    }
}

extension GoldenTests {
    /// MobileNetV2 taps against a float64 numpy forward with unfolded
    /// BatchNorm (`Tests/Fixtures/backbones/make_mobilenet_reference.py`):
    /// per-channel means and 64 sampled values per tap.
    func testMobileNetV2AgainstNumpyReference() throws {
        let reference = try referenceDirectory("resnet")
        let descriptor = try BackboneRegistry.descriptor(named: "mobilenet_v2", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "mobilenet_v2 weights absent (run make setup)")
        let backbone = try descriptor.load()
        let input = try golden(reference.appendingPathComponent("coffee_imagenet_input_chw.npy")).reshaped([1, 3, 224, 224])
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDirectory
            .appendingPathComponent("backbones/mobilenet_v2_coffee.json"))) as! [String: [String: Any]]
        let names = backbone.taps.map(\.name)
        for (name, output) in zip(names, try backbone.features(input, taps: names)) {
            let facts = expected[name]!
            let shape = facts["shape"] as! [Int]
            XCTAssertEqual(output.shape, [1] + shape, name)
            let scale = Float(facts["max_magnitude"] as! Double)
            let plane = shape[1] * shape[2]
            var worst: Float = 0
            for (c, mean) in (facts["channel_means"] as! [Double]).enumerated() {
                let sum = output.data[c * plane ..< (c + 1) * plane].reduce(0, +)
                worst = max(worst, abs(sum / Float(plane) - Float(mean)))
            }
            for sample in facts["samples"] as! [[Double]] {
                let (c, h, w) = (Int(sample[0]), Int(sample[1]), Int(sample[2]))
                worst = max(worst, abs(output.data[(c * shape[1] + h) * shape[2] + w] - Float(sample[3])))
            }
            print(String(format: "mobilenet_v2 %@: max abs error / max magnitude = %.2e", name, worst / scale))
            XCTAssertLessThanOrEqual(worst / scale, 1e-3, name)
        }
    }

    /// Lite1 and Lite2, whose layouts are derived from their state dicts, agree
    /// with Lite0 on the coffee photograph (a wrong stride, kernel or skip
    /// would not).
    func testEfficientNetLite1And2ClassifyCoffee() throws {
        let reference = try referenceDirectory("efficientnet-lite0")
        let image = try Image(contentsOf: reference.appendingPathComponent("coffee.png"))
        for (name, size) in [("efficientnet-lite1", 240), ("efficientnet-lite2", 260)] {
            let descriptor = try BackboneRegistry.descriptor(named: name, assets: assetsDirectory)
            guard descriptor.weightsFile != nil else {
                print("skipping \(name): weights absent")
                continue
            }
            let backbone = try descriptor.load()
            XCTAssertEqual(backbone.preprocessing.inputSize, size)
            let input = try backbone.preprocessing.input(for: image, source: "coffee.png")
            let top = topClasses(try backbone.logits(input.reshaped([1] + input.shape)), k: 1)[0][0]
            print("\(name) coffee.png: class \(top.index), p = \(top.probability)")
            XCTAssertEqual(top.index, 967, name)
            XCTAssertGreaterThan(top.probability, 0.5, name)
        }
    }
}

extension GoldenTests {
    /// A forward pass that reuses activation arrays (``ActivationPool``, installed per group by
    /// `features` and `logits`) gives, bit for bit, the taps and logits of the stages run on this
    /// thread with no pool (every output a fresh array): several taps, so the pass recycles around
    /// the taps it returns, on BasicBlock and Bottleneck ResNets and EfficientNet-Lite0.
    func testActivationReuseKeepsTheBits() throws {
        let reference = try referenceDirectory("resnet")
        let coffee = try golden(reference.appendingPathComponent("coffee_imagenet_input_chw.npy"))
        let images = Tensor.stack([coffee, Tensor(shape: coffee.shape, data: coffee.data.reversed()),
                                   Tensor(shape: coffee.shape, data: coffee.data.map { $0 * 0.5 - 0.25 })])
        let resNetTaps = ["layer1", "layer2", "layer3"]
        var networks = try ["resnet18-random", "resnet-bottleneck-tiny-random"].map { model in
            (try ResNet.backbone(StateDict(contentsOf: reference.appendingPathComponent("\(model).pth")), name: model),
             resNetTaps)
        }
        let lite0 = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        if lite0.weightsFile != nil { networks.append((try lite0.load(), ["_blocks.2", "_blocks.4", "_blocks.10"])) }
        for (backbone, taps) in networks {
            let pooled = try backbone.features(images, taps: taps)
            var x = images
            var unpooled: [String: Tensor] = [:]
            for stage in backbone.stages {
                x = stage.run(x)
                if taps.contains(stage.name) { unpooled[stage.name] = x }
            }
            for (tap, features) in zip(taps, pooled) {
                XCTAssertEqual(features.data.map(\.bitPattern), unpooled[tap]!.data.map(\.bitPattern), "\(backbone.name) \(tap)")
            }
            XCTAssertEqual(try backbone.logits(images).data.map(\.bitPattern), backbone.classifier!(x).data.map(\.bitPattern),
                           "\(backbone.name) logits")
        }
    }
}
