import Tensors
import Weights

/// How a convolution pads its input.
enum PaddingRule: Sendable {
    /// PyTorch's `padding=p` on every side.
    case symmetric(Int)
    /// TensorFlow "SAME": total `max((⌈n / s⌉ − 1) · s + k − n, 0)` per axis,
    /// the smaller half before (lukemelas `Conv2dStaticSamePadding`).
    case same
}

/// A convolution with its BatchNorm folded in and its activation fused, padding resolved per input size.
struct FoldedConv: Sendable {
    let conv: Conv2D
    let rule: PaddingRule

    var outputChannels: Int { conv.outputChannels }

    /// `[N, C, H, W]` → `[N, O, H', W']`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        resolved(for: x)(x)
    }

    /// `final(self(x) + shortcut)` as the outputs are written (``Conv2D/callAsFunction(_:adding:then:)``).
    func callAsFunction(_ x: Tensor, adding shortcut: Tensor, then final: Activation) -> Tensor {
        resolved(for: x)(x, adding: shortcut, then: final)
    }

    /// The convolution with its padding for `x`'s size.
    private func resolved(for x: Tensor) -> Conv2D {
        guard case .same = rule else { return conv }
        func split(_ n: Int, _ k: Int) -> (Int, Int) {
            let s = conv.stride
            let total = max(((n + s - 1) / s - 1) * s + k - n, 0)
            return (total / 2, total - total / 2)
        }
        let (top, bottom) = split(x.shape[2], conv.kernelHeight)
        let (left, right) = split(x.shape[3], conv.kernelWidth)
        return conv.withPadding(Padding2D(top: top, left: left, bottom: bottom, right: right))
    }
}

/// Builders take the weights they use out of the state dict (see
/// ``StateDict/take(_:shape:)``), so a network and its state dict never hold
/// two copies of the weights.
extension StateDict {
    /// The convolution `convKey` (`.weight`, and `.bias` if stored) followed by the
    /// BatchNorm `bnKey` (`.weight`, `.bias`, `.running_mean`, `.running_var`) and
    /// `activation`, as one convolution.
    ///
    /// The weight must be `[O, inputChannels, k, k]` (depthwise:
    /// `[inputChannels, 1, k, k]`), with `O` = `outputChannels` and `k` =
    /// `kernel` where given, else as stored.
    mutating func foldedConv(_ convKey: String, bn bnKey: String, inputChannels: Int, outputChannels: Int? = nil,
                             kernel: Int? = nil, stride: Int = 1, padding: PaddingRule, depthwise: Bool = false,
                             epsilon: Float, activation: Activation = .identity) throws -> FoldedConv {
        let key = convKey + ".weight"
        let weight = try take(key)
        let found = weight.shape
        let stored = found.count == 4 ? (outputs: found[0], kernel: found[2]) : (outputs: 0, kernel: 0)
        let outputs = depthwise ? inputChannels : (outputChannels ?? stored.outputs)
        let k = kernel ?? stored.kernel
        let expected = [outputs, depthwise ? 1 : inputChannels, k, k]
        guard found == expected, k > 0 else {
            throw WeightsError.shapeMismatch(file: source, key: key, expected: expected, found: found)
        }
        let bias = contains(convKey + ".bias") ? try take(convKey + ".bias", shape: [outputs]).data : nil
        let bn = try batchNorm(bnKey, channels: outputs, epsilon: epsilon)
        let symmetric: Padding2D
        if case let .symmetric(p) = padding { symmetric = .uniform(p) } else { symmetric = .uniform(0) }
        let conv = Conv2D(weight: weight, bias: bias, foldingBatchNorm: bn, stride: stride, padding: symmetric,
                          groups: depthwise ? inputChannels : 1, activation: activation)
        return FoldedConv(conv: conv, rule: padding)
    }

    /// Inference BatchNorm parameters under `prefix`, each `[channels]`.
    mutating func batchNorm(_ prefix: String, channels: Int, epsilon: Float) throws -> BatchNorm {
        BatchNorm(scale: try take(prefix + ".weight", shape: [channels]).data,
                  shift: try take(prefix + ".bias", shape: [channels]).data,
                  mean: try take(prefix + ".running_mean", shape: [channels]).data,
                  variance: try take(prefix + ".running_var", shape: [channels]).data,
                  epsilon: epsilon)
    }

    /// The fully connected layer `prefix` (`.weight` `[classes, features]`, `.bias`).
    mutating func linear(_ prefix: String, inputFeatures: Int) throws -> Linear {
        let weight = try take(prefix + ".weight")
        guard weight.rank == 2, weight.shape[1] == inputFeatures else {
            throw WeightsError.shapeMismatch(file: source, key: prefix + ".weight",
                                             expected: [weight.shape.first ?? 0, inputFeatures], found: weight.shape)
        }
        return Linear(weight: weight, bias: try take(prefix + ".bias", shape: [weight.shape[0]]).data)
    }

    /// Throws unless every floating-point entry was taken: weights the
    /// network does not use mean the checkpoint is another architecture
    /// (e.g. an EfficientNet with squeeze-excitation). int64 entries
    /// (`num_batches_tracked`) are ignored.
    func requireAllTaken(backbone: String) throws {
        let unused = keys.filter { (try? integers($0)) == nil }
        guard unused.isEmpty else {
            throw BackboneError.architectureMismatch(
                backbone: backbone, file: source,
                detail: "entries the network does not use (\(unused.count)): \(unused.prefix(5).joined(separator: ", "))"
                    + (unused.count > 5 ? ", …" : ""))
        }
    }

    /// The largest `n` with `"\(prefix)\(n - 1)\(suffix)"` present, counting from 0.
    func count(prefix: String, suffix: String) -> Int {
        var n = 0
        while contains("\(prefix)\(n)\(suffix)") { n += 1 }
        return n
    }
}

/// Global average pooling `[N, C, H, W]` → `[N, C]`.
func globalAveragePool(_ x: Tensor) -> Tensor {
    let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var out = Tensor(shape: [n, c])
    x.data.withUnsafeBufferPointer { p in
        for i in 0..<(n * c) {
            var sum: Float = 0
            for j in 0..<plane { sum += p[i * plane + j] }
            out.data[i] = sum / Float(plane)
        }
    }
    return out
}

/// A convolution alone (its activation fused): EfficientNet-Lite's and MobileNetV2's stem and head.
func convStage(name: String, _ conv: FoldedConv) -> Backbone.Stage {
    Backbone.Stage(name: name) { conv($0) }
}

/// An inverted-residual block (MobileNetV2, EfficientNet-Lite without squeeze-excitation):
/// optional 1×1 expansion + ReLU6, depthwise + ReLU6 (both activations fused into their
/// convolutions), linear 1×1 projection, and the identity added back when `residual`
/// (stride 1, equal channels). The expansion's and the depthwise's outputs go back to the
/// ``ActivationPool`` once read (the block's input is its caller's).
func invertedResidualStage(name: String, expand: FoldedConv?, depthwise: FoldedConv,
                           project: FoldedConv, residual: Bool) -> Backbone.Stage {
    Backbone.Stage(name: name) { x in
        let filtered: Tensor
        if let expand {
            let expanded = expand(x)
            filtered = depthwise(expanded)
            ActivationPool.recycle(consume expanded)
        } else {
            filtered = depthwise(x)
        }
        var h = project(filtered)
        ActivationPool.recycle(consume filtered)
        if residual { add(&h, x) }
        return h
    }
}

/// Depthwise-stride of each inverted-residual block of an EfficientNet-B0 /
/// MobileNetV2 layout, from the blocks' output channels.
///
/// Both networks have seven stages with strides 1, 2, 2, 2, 1, 2, 1; only
/// a stage's first block strides, and a stage starts where a block changes
/// the channel count (`inputChannels` is the stem's). Returns nil unless
/// there are exactly seven stages.
func invertedResidualStrides(outputChannels: [Int], inputChannels: Int) -> [Int]? {
    let stageStrides = [1, 2, 2, 2, 1, 2, 1]
    var stage = -1
    var channels = inputChannels
    var strides: [Int] = []
    for out in outputChannels {
        if stage < 0 || out != channels {
            stage += 1
            guard stage < stageStrides.count else { return nil }
            strides.append(stageStrides[stage])
        } else {
            strides.append(1)
        }
        channels = out
    }
    return stage == stageStrides.count - 1 ? strides : nil
}

/// Indices of the last block of each stage, from the same channel rule as
/// ``invertedResidualStrides(outputChannels:inputChannels:)``.
func stageEnds(outputChannels: [Int]) -> [Int] {
    outputChannels.indices.filter { $0 == outputChannels.count - 1 || outputChannels[$0 + 1] != outputChannels[$0] }
}
