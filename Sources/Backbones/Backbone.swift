import Dispatch
import Foundation
import Tensors

/// A named intermediate output of a backbone.
public struct FeatureTap: Sendable, Equatable {
    /// The module name in the checkpoint's key space (`_blocks.10`, `layer2`, `features.6`).
    public let name: String
    /// Another accepted name: `stride4`, `stride8`, `stride16`, `stride32`.
    public let alias: String
    /// Channels `C` of the tap's `[N, C, H / stride, W / stride]` output.
    public let channels: Int
    /// Input pixels per output pixel along each axis.
    public let stride: Int

    public init(name: String, channels: Int, stride: Int) {
        self.name = name
        self.alias = "stride\(stride)"
        self.channels = channels
        self.stride = stride
    }
}

/// Why a backbone could not be built or run.
public enum BackboneError: Error, Equatable, CustomStringConvertible {
    case unknownBackbone(String, available: [String])
    case unknownTap(String, backbone: String, available: [String])
    /// The weights file is absent; `advice` says which file to get and where to put it.
    case missingWeights(backbone: String, advice: String)
    /// The checkpoint's layout does not match the requested architecture.
    case architectureMismatch(backbone: String, file: String, detail: String)
    case badInput(backbone: String, shape: [Int])
    /// The checkpoint has no classifier (e.g. MobileNetV2 feature weights).
    case noClassifier(backbone: String)
    /// A tiled image (after scaling) is smaller than one tile.
    case imageSmallerThanTile(tile: Int, width: Int, height: Int)

    public var description: String {
        switch self {
        case let .unknownBackbone(name, available):
            return "unknown backbone '\(name)'; available: \(available.joined(separator: ", "))"
        case let .unknownTap(tap, backbone, available):
            return "\(backbone) has no feature tap '\(tap)'; available: \(available.joined(separator: ", "))"
        case let .missingWeights(backbone, advice):
            return "\(backbone): weights not found. \(advice)"
        case let .architectureMismatch(backbone, file, detail):
            return "\(file) is not a \(backbone) checkpoint: \(detail)"
        case let .badInput(backbone, shape):
            return "\(backbone) expects an image batch [N, 3, H, W] with H, W ≥ 32, got \(shape)"
        case let .noClassifier(backbone):
            return "\(backbone) weights have no classifier; only features are available"
        case let .imageSmallerThanTile(tile, width, height):
            return "the image is \(width)×\(height) px after scaling, smaller than the \(tile) px tile"
        }
    }
}

/// A pretrained convolutional network with BatchNorm folded into its
/// convolutions, run on float32 image batches `[N, 3, H, W]` (any `H, W`
/// ≥ 32; multiples of 32 give every tap exactly `H / stride × W / stride`).
///
/// The network is a sequence of stages; a feature request runs the stages up
/// to the last requested tap and no further.
///
/// Images of a batch are spread over the cores, each image running the whole
/// network on one core (OpenBLAS never uses its own threads), so an image's
/// result is bit-identical whatever batch it comes in, whatever the core
/// count and `OPENBLAS_NUM_THREADS`. A lone image runs on one core. Networks
/// built with ``largestGroup`` above 1 (the ResNets) run up to that many of a core's
/// images together, as one `[G, C, H, W]` tensor, so each Winograd layer streams its
/// weights from memory once for the group (``Conv2D``); every layer computes each
/// image's outputs with the same operations whatever its group, so the bits are the same.
/// (Measured on 2 cores, batch 16 at 224², EfficientNet-Lite0 to
/// `_blocks.10`: 33 ms CPU per image this way against 45 ms when the whole
/// batch goes layer by layer, each convolution spreading images over the
/// cores; ResNet-18 to `layer3`: equal. Large activations live for two
/// images at a time, not sixteen.)
public struct Backbone: Sendable {
    /// A step of the network: its module name and its computation on a group of images `[G, C, H, W]`.
    struct Stage: Sendable {
        let name: String
        let run: @Sendable (Tensor) -> Tensor
    }

    /// Registry name, e.g. `efficientnet-lite0`.
    public let name: String
    /// The feature taps, shallowest first.
    public let taps: [FeatureTap]
    /// How images become this network's input.
    public let preprocessing: Preprocessing
    /// The weights file the network was built from (its path), for provenance.
    public let weightsSource: String
    let stages: [Stage]
    /// Pooled-feature-to-logits head applied after the last stage, or nil.
    let classifier: (@Sendable (Tensor) -> Tensor)?
    /// Most images one core runs through the network together (1: one at a time).
    let largestGroup: Int

    init(name: String, taps: [FeatureTap], preprocessing: Preprocessing, weightsSource: String, stages: [Stage],
         classifier: (@Sendable (Tensor) -> Tensor)?, largestGroup: Int = 1) {
        precondition(taps.allSatisfy { tap in stages.contains { $0.name == tap.name } }, "tap without a stage")
        self.name = name
        self.taps = taps
        self.preprocessing = preprocessing
        self.weightsSource = weightsSource
        self.stages = stages
        self.classifier = classifier
        self.largestGroup = largestGroup
    }

    /// The tap called `name` (its module name or its `strideN` alias).
    public func tap(named name: String) throws -> FeatureTap {
        guard let tap = taps.first(where: { $0.name == name || $0.alias == name }) else {
            throw BackboneError.unknownTap(name, backbone: self.name, available: taps.flatMap { [$0.name, $0.alias] })
        }
        return tap
    }

    /// The outputs of `tapNames` for `input` `[N, 3, H, W]`, in the order
    /// asked, each `[N, C, ⌈H / stride⌉, ⌈W / stride⌉]`.
    public func features(_ input: Tensor, taps tapNames: [String]) throws -> [Tensor] {
        try validate(input)
        let wanted = try tapNames.map { name in
            let tap = try tap(named: name)
            return stages.firstIndex { $0.name == tap.name }!
        }
        guard let last = wanted.max() else { return [] }
        let perGroup = mapGroups(input) { images -> [Tensor] in
            var x = images
            var outputs: [Int: Tensor] = [:]
            for index in 0...last {
                let output = stages[index].run(x)
                // The previous stage's output goes back to the pool unless it is a tap (the
                // group's images are mapGroups').
                if index > 0 && !wanted.contains(index - 1) { ActivationPool.recycle(consume x) }
                x = output
                if wanted.contains(index) { outputs[index] = x }
            }
            return wanted.map { outputs[$0]! }
        }
        return wanted.indices.map { k in Self.concatenateBatch(perGroup.map { $0[k] }) }
    }

    /// Class scores `[N, classes]` (before softmax) for `input` `[N, 3, H, W]`.
    public func logits(_ input: Tensor) throws -> Tensor {
        try validate(input)
        guard let classifier else { throw BackboneError.noClassifier(backbone: name) }
        let perGroup = mapGroups(input) { images -> Tensor in
            var x = stages[0].run(images)
            for stage in stages.dropFirst() {
                let output = stage.run(x)
                ActivationPool.recycle(consume x)
                x = output
            }
            return classifier(x)
        }
        return Self.concatenateBatch(perGroup)
    }

    private func validate(_ input: Tensor) throws {
        guard input.rank == 4, input.shape[0] >= 1, input.shape[1] == 3,
              input.shape[2] >= 32, input.shape[3] >= 32 else {
            throw BackboneError.badInput(backbone: name, shape: input.shape)
        }
    }

    /// `body` on consecutive groups of images `[G, C, H, W]` of `batch`, groups spread over
    /// the cores: as many groups as cores (or images, if fewer), more where a group would
    /// exceed ``largestGroup``, sizes differing by at most one. Results in batch order. Each
    /// group runs with an ``ActivationPool`` on its thread, dropped when the group is done.
    private func mapGroups<R>(_ batch: Tensor, _ body: @escaping (Tensor) -> R) -> [R] {
        let n = batch.shape[0]
        let count = max(min(n, ProcessInfo.processInfo.activeProcessorCount), (n + largestGroup - 1) / largestGroup)
        let imageSize = batch.count / n
        var results = [R?](repeating: nil, count: count)
        let lock = DispatchQueue(label: "Backbone.results")
        DispatchQueue.concurrentPerform(iterations: count) { g in
            let (first, end) = (g * n / count, (g + 1) * n / count)
            let images = Tensor(shape: [end - first] + batch.shape.dropFirst(),
                                data: Array(batch.data[first * imageSize ..< end * imageSize]))
            let result = ActivationPool.withPool { body(images) }
            lock.sync { results[g] = result }
        }
        return results.map { $0! }
    }

    /// `[Gᵢ, …]` tensors → `[ΣGᵢ, …]`.
    static func concatenateBatch(_ tensors: [Tensor]) -> Tensor {
        if tensors.count == 1 { return tensors[0] }
        let inner = Array(tensors[0].shape.dropFirst())
        precondition(tensors.allSatisfy { Array($0.shape.dropFirst()) == inner }, "groups of different shapes")
        return Tensor(shape: [tensors.reduce(0) { $0 + $1.shape[0] }] + inner, data: tensors.flatMap(\.data))
    }
}
