import Foundation
import Tensors
import Weights

/// torchvision ResNets and Wide ResNets (He et al.; Zagoruyko & Komodakis)
/// from `torch.save(model.state_dict())` checkpoints.
///
/// BasicBlock or Bottleneck is read from the keys (`layer1.0.conv3`), block
/// counts from `layerL.B` keys, widths from tensor shapes; the stride sits
/// on the first block of layers 2–4 (on `conv2` in Bottlenecks, torchvision
/// v1.5). BatchNorm ε = 1e-5. Taps `layer1`…`layer4` (strides 4, 8, 16, 32).
public enum ResNet {
    /// The torchvision architectures, each with its published ImageNet weights.
    public enum Architecture: String, CaseIterable, Sendable {
        case resnet18, resnet34, resnet50, resnet101
        case wideResNet50_2 = "wide_resnet50_2"
        case wideResNet101_2 = "wide_resnet101_2"

        /// Blocks in `layer1`…`layer4`.
        public var blockCounts: [Int] {
            switch self {
            case .resnet18: return [2, 2, 2, 2]
            case .resnet34, .resnet50, .wideResNet50_2: return [3, 4, 6, 3]
            case .resnet101, .wideResNet101_2: return [3, 4, 23, 3]
            }
        }

        public var usesBottleneck: Bool { self != .resnet18 && self != .resnet34 }

        /// Inner width of `layer1`'s blocks (doubles per layer).
        var layer1Width: Int { self == .wideResNet50_2 || self == .wideResNet101_2 ? 128 : 64 }

        /// Channels of `layer1`…`layer4`'s outputs.
        public var tapChannels: [Int] { usesBottleneck ? [256, 512, 1024, 2048] : [64, 128, 256, 512] }

        /// The file torchvision publishes for `IMAGENET1K_V1` (the weights PatchCore and anomalib use).
        public var torchvisionFile: String {
            switch self {
            case .resnet18: return "resnet18-f37072fd.pth"
            case .resnet34: return "resnet34-b627a593.pth"
            case .resnet50: return "resnet50-0676ba61.pth"
            case .resnet101: return "resnet101-63fe2227.pth"
            case .wideResNet50_2: return "wide_resnet50_2-95faca4d.pth"
            case .wideResNet101_2: return "wide_resnet101_2-32ee1156.pth"
            }
        }

        public var torchvisionURL: String { "https://download.pytorch.org/models/" + torchvisionFile }
    }

    static let epsilon: Float = 1e-5

    /// Reads `checkpoint` and checks its layout is `architecture`'s.
    public static func backbone(_ architecture: Architecture, checkpoint: URL) throws -> Backbone {
        try backbone(architecture, weights: StateDict(contentsOf: checkpoint))
    }

    /// The network of `architecture` with `weights`, whose layout must be that architecture's.
    public static func backbone(_ architecture: Architecture, weights dict: consuming StateDict) throws -> Backbone {
        let layout = try Layout(dict, name: architecture.rawValue)
        let expected = Layout(blockCounts: architecture.blockCounts, usesBottleneck: architecture.usesBottleneck,
                              layer1Width: architecture.layer1Width)
        guard layout == expected else {
            throw BackboneError.architectureMismatch(
                backbone: architecture.rawValue, file: dict.source,
                detail: "it has \(layout), \(architecture.rawValue) has \(expected)")
        }
        return try backbone(dict, name: architecture.rawValue)
    }

    /// Builds whatever torchvision ResNet layout `dict` holds.
    public static func backbone(_ dict: consuming StateDict, name: String) throws -> Backbone {
        let layout = try Layout(dict, name: name)
        let stem = try dict.foldedConv("conv1", bn: "bn1", inputChannels: 3, kernel: 7, stride: 2,
                                       padding: .symmetric(3), epsilon: epsilon, activation: .relu)
        var stages = [Backbone.Stage(name: "conv1") { x in
            let convolved = stem(x)
            let pooled = maxPool2d(convolved, kernel: 3, stride: 2, padding: 1)
            ActivationPool.recycle(consume convolved)
            return pooled
        }]
        var channels = stem.outputChannels
        var taps: [FeatureTap] = []
        for (l, count) in layout.blockCounts.enumerated() {
            let blocks = try (0..<count).map { b -> (Tensor) -> Tensor in
                let block = try residualBlock(&dict, prefix: "layer\(l + 1).\(b)", inputChannels: channels,
                                              stride: l > 0 && b == 0 ? 2 : 1, bottleneck: layout.usesBottleneck,
                                              name: name)
                channels = block.outputChannels
                return block.run
            }
            stages.append(Backbone.Stage(name: "layer\(l + 1)") { x in
                // Each block's output goes back to the pool once the next block has run (the
                // stage's input is its caller's).
                var y = blocks[0](x)
                for block in blocks.dropFirst() {
                    let next = block(y)
                    ActivationPool.recycle(consume y)
                    y = next
                }
                return y
            })
            taps.append(FeatureTap(name: "layer\(l + 1)", channels: channels, stride: 4 << l))
        }
        let classifier: (@Sendable (Tensor) -> Tensor)?
        if dict.contains("fc.weight") {
            let fc = try dict.linear("fc", inputFeatures: channels)
            classifier = { fc(globalAveragePool($0)) }
        } else {
            classifier = nil
        }
        try dict.requireAllTaken(backbone: name)
        // Four images per core at a time: their 3×3 layers' Winograd products share one pass over
        // the weights (WRN-50-2's stream 37.7 MB per layer at 14²), and four images' activations
        // stay small beside the weights.
        return Backbone(name: name, taps: taps,
                        preprocessing: Preprocessing(resize: .shorterSideThenCenterCrop(shorterSide: 256, crop: 224),
                                                     normalization: .imageNet),
                        weightsSource: dict.source, stages: stages, classifier: classifier, largestGroup: 4)
    }

    /// A state dict with `architecture`'s torchvision key names and shapes
    /// and constant values (convolutions 0.01, BatchNorm identity plus 0.1
    /// shift): for benchmarks and wiring checks, not for features.
    public static func placeholderWeights(_ architecture: Architecture) -> StateDict {
        var tensors: [(String, Tensor)] = []
        func conv(_ key: String, _ shape: [Int]) {
            tensors.append((key + ".weight", Tensor(shape: shape, repeating: 0.01)))
        }
        func bn(_ key: String, _ channels: Int) {
            for (suffix, value) in [("weight", 1), ("bias", 0.1), ("running_mean", 0), ("running_var", 1)] as [(String, Float)] {
                tensors.append(("\(key).\(suffix)", Tensor(shape: [channels], repeating: value)))
            }
        }
        conv("conv1", [64, 3, 7, 7])
        bn("bn1", 64)
        var channels = 64
        for (l, count) in architecture.blockCounts.enumerated() {
            let inner = architecture.layer1Width << l
            let out = architecture.tapChannels[l]
            for b in 0..<count {
                let p = "layer\(l + 1).\(b)"
                let shapes = architecture.usesBottleneck
                    ? [[inner, channels, 1, 1], [inner, inner, 3, 3], [out, inner, 1, 1]]
                    : [[out, channels, 3, 3], [out, out, 3, 3]]
                for (i, shape) in shapes.enumerated() {
                    conv(p + ".conv\(i + 1)", shape)
                    bn(p + ".bn\(i + 1)", shape[0])
                }
                if b == 0 && (l > 0 || channels != out) {
                    conv(p + ".downsample.0", [out, channels, 1, 1])
                    bn(p + ".downsample.1", out)
                }
                channels = out
            }
        }
        tensors.append(("fc.weight", Tensor(shape: [1000, channels], repeating: 0.001)))
        tensors.append(("fc.bias", Tensor(shape: [1000])))
        return StateDict(tensors: tensors, source: "placeholder \(architecture.rawValue) weights")
    }

    /// One BasicBlock or Bottleneck with its optional `downsample` shortcut.
    private static func residualBlock(_ dict: inout StateDict, prefix p: String, inputChannels: Int, stride: Int,
                                      bottleneck: Bool, name: String)
        throws -> (outputChannels: Int, run: @Sendable (Tensor) -> Tensor) {
        var convs: [FoldedConv]
        if bottleneck {
            let reduce = try dict.foldedConv(p + ".conv1", bn: p + ".bn1", inputChannels: inputChannels, kernel: 1,
                                             padding: .symmetric(0), epsilon: epsilon, activation: .relu)
            let width = reduce.outputChannels
            convs = [
                reduce,
                try dict.foldedConv(p + ".conv2", bn: p + ".bn2", inputChannels: width, outputChannels: width,
                                    kernel: 3, stride: stride, padding: .symmetric(1), epsilon: epsilon,
                                    activation: .relu),
                try dict.foldedConv(p + ".conv3", bn: p + ".bn3", inputChannels: width, kernel: 1,
                                    padding: .symmetric(0), epsilon: epsilon),
            ]
        } else {
            let first = try dict.foldedConv(p + ".conv1", bn: p + ".bn1", inputChannels: inputChannels, kernel: 3,
                                            stride: stride, padding: .symmetric(1), epsilon: epsilon,
                                            activation: .relu)
            convs = [
                first,
                try dict.foldedConv(p + ".conv2", bn: p + ".bn2", inputChannels: first.outputChannels,
                                    outputChannels: first.outputChannels, kernel: 3, padding: .symmetric(1),
                                    epsilon: epsilon),
            ]
        }
        let outputs = convs.last!.outputChannels
        var shortcut: FoldedConv?
        if dict.contains(p + ".downsample.0.weight") {
            shortcut = try dict.foldedConv(p + ".downsample.0", bn: p + ".downsample.1", inputChannels: inputChannels,
                                           outputChannels: outputs, kernel: 1, stride: stride,
                                           padding: .symmetric(0), epsilon: epsilon)
        } else if stride != 1 || outputs != inputChannels {
            throw BackboneError.architectureMismatch(
                backbone: name, file: dict.source,
                detail: "\(p) maps \(inputChannels) to \(outputs) channels at stride \(stride) but has no downsample")
        }
        let (path, last) = (convs.dropLast(), convs.last!)
        return (outputs, { [shortcut] x in
            // ReLU fused into all but the last; the last adds the shortcut, then the ReLU, as it
            // writes. Intermediates go back to the pool once read (the block's input is its caller's).
            var h = path.first!(x)
            for conv in path.dropFirst() {
                let next = conv(h)
                ActivationPool.recycle(consume h)
                h = next
            }
            let projected = shortcut.map { $0(x) }
            let y = last(h, adding: projected ?? x, then: .relu)
            ActivationPool.recycle(consume h)
            if let projected { ActivationPool.recycle(projected) }
            return y
        })
    }

    /// What distinguishes torchvision ResNets: blocks per layer, block type, `layer1` width.
    struct Layout: Equatable, CustomStringConvertible {
        let blockCounts: [Int]
        let usesBottleneck: Bool
        let layer1Width: Int

        init(blockCounts: [Int], usesBottleneck: Bool, layer1Width: Int) {
            self.blockCounts = blockCounts
            self.usesBottleneck = usesBottleneck
            self.layer1Width = layer1Width
        }

        init(_ dict: borrowing StateDict, name: String) throws {
            blockCounts = (1...4).map { dict.count(prefix: "layer\($0).", suffix: ".conv1.weight") }
            guard blockCounts.allSatisfy({ $0 > 0 }), dict.contains("conv1.weight") else {
                throw BackboneError.architectureMismatch(
                    backbone: name, file: dict.source,
                    detail: "no torchvision ResNet keys (conv1, layer1.0 … layer4.0); blocks per layer \(blockCounts)")
            }
            usesBottleneck = dict.contains("layer1.0.conv3.weight")
            layer1Width = try dict.shape(of: "layer1.0.conv1.weight")[0]
        }

        var description: String {
            "\(blockCounts.map(String.init).joined(separator: "-")) \(usesBottleneck ? "Bottleneck" : "BasicBlock")s, layer1 width \(layer1Width)"
        }
    }
}
