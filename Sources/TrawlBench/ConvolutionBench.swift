import Foundation
import Tensors
import Weights
import Backbones

/// Where a ResNet forward pass spends its time: every distinct convolution of ResNet-18 and
/// WRN-50-2 through `layer3` at 224², run alone on one image on this thread, in CPU time of
/// this thread (so other work on the cores does not inflate it), with the multiply-adds per
/// second that standard convolution counts (Winograd layers do fewer, so they may exceed the
/// sgemm peak); then the whole network on one image, whose excess over the sum of its
/// convolutions is everything else (max pooling, copies, and the shortcut adds and ReLUs that
/// the blocks' last convolutions fuse into their output writes). Each
/// figure is given again per image of a group of four (process CPU time: the layers that do
/// not group images spread them over threads), where a Winograd layer runs the four images'
/// tiles as one product per position; the whole network then runs a batch of eight, which
/// the backbone splits into groups of at most four per core.
func runConvolutionBenchmarks() {
    print("\n## Convolutions of ResNet-18 and WRN-50-2 to layer3, one image, CPU time of one thread")
    for (name, weights) in [("resnet18", ResNet.placeholderWeights(.resnet18)),
                            ("wide_resnet50_2", ResNet.placeholderWeights(.wideResNet50_2))] {
        var total = 0.0, groupedTotal = 0.0
        for layer in convolutionGeometries(weights, upToLayer: 3, inputSize: 224) {
            let conv = Conv2D(weight: Tensor(shape: layer.weightShape, data: benchmarkFloats(layer.weightShape.reduce(1, *), seed: 5)),
                              bias: [Float](repeating: 0.1, count: layer.weightShape[0]), stride: layer.stride,
                              padding: .uniform(layer.weightShape[2] / 2), activation: .relu)
            let input = Tensor(shape: [1, layer.weightShape[1], layer.inputSide, layer.inputSide],
                               data: benchmarkFloats(layer.weightShape[1] * layer.inputSide * layer.inputSide, seed: 6))
            let seconds = threadCPUTime { _ = conv(input) }
            let group = Tensor.stack(Array(repeating: input.slice(0), count: 4))
            let grouped = cpuTime(CLOCK_PROCESS_CPUTIME_ID) { _ = conv(group) } / 4
            total += seconds * Double(layer.count)
            groupedTotal += grouped * Double(layer.count)
            let flops = 2 * Double(layer.weightShape.reduce(1, *) * layer.outputSide * layer.outputSide)
            print(String(format: "%@ %2d x %@ stride %d at %3d²: %7.2f ms each, %6.1f GFLOP/s; in a group of 4: %7.2f ms per image",
                         name, layer.count, "\(layer.weightShape)", layer.stride, layer.outputSide,
                         seconds * 1e3, flops / seconds / 1e9, grouped * 1e3))
        }
        let network = try! ResNet.backbone(weights, name: name)
        let image = Tensor(shape: [1, 3, 224, 224], data: benchmarkFloats(3 * 224 * 224, seed: 8))
        let whole = threadCPUTime { _ = try! network.features(image, taps: ["layer3"]) }
        print(String(format: "%@ to layer3: convolutions %.1f ms, whole network %.1f ms CPU per image (%.1f ms besides)",
                     name, total * 1e3, whole * 1e3, (whole - total) * 1e3))
        let batch = Tensor.stack(Array(repeating: image.slice(0), count: 8))
        let wholeGrouped = cpuTime(CLOCK_PROCESS_CPUTIME_ID) { _ = try! network.features(batch, taps: ["layer3"]) } / 8
        print(String(format: "%@ to layer3 in groups: convolutions %.1f ms per image (groups of 4), whole network %.1f ms CPU per image (batch 8)",
                     name, groupedTotal * 1e3, wholeGrouped * 1e3))
    }
}

/// One convolution shape of a ResNet and how many layers have it.
private struct ConvolutionGeometry: Hashable {
    let weightShape: [Int]
    let stride: Int
    let outputSide: Int
    var inputSide: Int { outputSide * stride }
    var count = 1

    static func == (a: Self, b: Self) -> Bool {
        a.weightShape == b.weightShape && a.stride == b.stride && a.outputSide == b.outputSide
    }
    func hash(into hasher: inout Hasher) { hasher.combine(weightShape); hasher.combine(stride); hasher.combine(outputSide) }
}

/// The distinct convolutions of a torchvision ResNet through `layer<upToLayer>`, stem first.
private func convolutionGeometries(_ dict: StateDict, upToLayer: Int, inputSize: Int) -> [ConvolutionGeometry] {
    var found: [ConvolutionGeometry] = []
    let bottleneck = dict.keys.contains("layer1.0.conv3.weight")
    for key in dict.keys.sorted() where key.hasSuffix(".weight") {
        guard let shape = try? dict.shape(of: key), shape.count == 4 else { continue }
        let geometry: ConvolutionGeometry
        if key == "conv1.weight" {
            geometry = ConvolutionGeometry(weightShape: shape, stride: 2, outputSide: inputSize / 2)
        } else if key.hasPrefix("layer"), let layer = Int(String(key.dropFirst(5).prefix(1))), layer <= upToLayer {
            let firstBlock = key.hasPrefix("layer\(layer).0.")
            let strided = layer > 1 && firstBlock
                && (key.contains("downsample") || key.hasSuffix(bottleneck ? "conv2.weight" : "conv1.weight"))
            // A Bottleneck's first 1×1 runs before the stride, at the previous layer's size.
            let beforeStride = layer > 1 && firstBlock && bottleneck && key.hasSuffix("conv1.weight")
            geometry = ConvolutionGeometry(weightShape: shape, stride: strided ? 2 : 1,
                                           outputSide: inputSize / (beforeStride ? 1 << layer : 2 << layer))
        } else {
            continue
        }
        if let index = found.firstIndex(of: geometry) { found[index].count += 1 } else { found.append(geometry) }
    }
    return found
}

/// Best CPU time of this thread over three runs of `body` after a warm-up.
private func threadCPUTime(_ body: () -> Void) -> Double { cpuTime(CLOCK_THREAD_CPUTIME_ID, body) }

/// Best time of `clock` (a CPU-time clock) over three runs of `body` after a warm-up.
private func cpuTime(_ clock: clockid_t, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<3 {
        let start = cpuSeconds(clock)
        body()
        best = min(best, cpuSeconds(clock) - start)
    }
    return best
}
