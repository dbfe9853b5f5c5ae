import Foundation
import Tensors
import Weights

/// EfficientNet-Lite (Tan & Le; TF-Lite variant without squeeze-excitation,
/// ReLU6, fixed stem and head) from lukemelas-style PyTorch state dicts
/// (`_conv_stem`, `_bn0`, `_blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2}`,
/// `_conv_head`, `_bn1`, `_fc`).
///
/// Block count, widths, expansion (whether `_expand_conv` exists) and
/// kernel sizes come from the state dict; stage strides are those of the
/// EfficientNet-B0 layout. Convolutions pad TensorFlow-"SAME"; BatchNorm
/// ε = 1e-3. Taps: the last block of the stride-4, 8, 16 and 32 stages
/// (`_blocks.2`, `_blocks.4`, `_blocks.10`, `_blocks.15` in Lite0).
public enum EfficientNetLite {
    static let epsilon: Float = 1e-3

    /// Builds the network from `dict`; `inputSize` is the training
    /// resolution (224, 240, 260 for Lite0, 1, 2), used for preprocessing.
    public static func backbone(_ dict: consuming StateDict, name: String, inputSize: Int) throws -> Backbone {
        let stem = try dict.foldedConv("_conv_stem", bn: "_bn0", inputChannels: 3, kernel: 3, stride: 2,
                                       padding: .same, epsilon: epsilon, activation: .relu6)
        let blockCount = dict.count(prefix: "_blocks.", suffix: "._project_conv.weight")
        let outputs = try (0..<blockCount).map { try dict.shape(of: "_blocks.\($0)._project_conv.weight")[0] }
        guard let strides = invertedResidualStrides(outputChannels: outputs, inputChannels: stem.outputChannels) else {
            throw BackboneError.architectureMismatch(
                backbone: name, file: dict.source,
                detail: "\(blockCount) blocks with output channels \(outputs) do not form the 7 EfficientNet stages")
        }

        var stages = [convStage(name: "_conv_stem", stem)]
        var channels = stem.outputChannels
        for (i, stride) in strides.enumerated() {
            let p = "_blocks.\(i)"
            let expand = dict.contains(p + "._expand_conv.weight")
                ? try dict.foldedConv(p + "._expand_conv", bn: p + "._bn0", inputChannels: channels, kernel: 1,
                                      padding: .same, epsilon: epsilon, activation: .relu6)
                : nil
            let hidden = expand?.outputChannels ?? channels
            let depthwise = try dict.foldedConv(p + "._depthwise_conv", bn: p + "._bn1", inputChannels: hidden,
                                                stride: stride, padding: .same, depthwise: true, epsilon: epsilon,
                                                activation: .relu6)
            let project = try dict.foldedConv(p + "._project_conv", bn: p + "._bn2", inputChannels: hidden,
                                              kernel: 1, padding: .same, epsilon: epsilon)
            let residual = stride == 1 && project.outputChannels == channels
            stages.append(invertedResidualStage(name: p, expand: expand, depthwise: depthwise,
                                                project: project, residual: residual))
            channels = project.outputChannels
        }

        let head = try dict.foldedConv("_conv_head", bn: "_bn1", inputChannels: channels, kernel: 1,
                                       padding: .same, epsilon: epsilon, activation: .relu6)
        let fc = try dict.linear("_fc", inputFeatures: head.outputChannels)
        let classifier: @Sendable (Tensor) -> Tensor = { fc(globalAveragePool(head($0))) }

        // The stride-4, 8, 16, 32 stages are stages 1, 2, 4 and 6 (stride-1 stages 0, 3, 5 in between).
        let ends = stageEnds(outputChannels: outputs)
        let taps = [(1, 4), (2, 8), (4, 16), (6, 32)].map { stage, stride in
            FeatureTap(name: "_blocks.\(ends[stage])", channels: outputs[ends[stage]], stride: stride)
        }
        try dict.requireAllTaken(backbone: name)
        return Backbone(name: name, taps: taps,
                        preprocessing: Preprocessing(resize: .stretch(size: inputSize), normalization: .centered),
                        weightsSource: dict.source, stages: stages, classifier: classifier)
    }
}
