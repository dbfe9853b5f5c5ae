import CConvolutionKernels
import Dispatch

/// Zero padding of a 2-D input, in pixels, per side.
public struct Padding2D: Equatable, Sendable {
    public var top: Int
    public var left: Int
    public var bottom: Int
    public var right: Int

    public init(top: Int, left: Int, bottom: Int, right: Int) {
        precondition(min(top, left, bottom, right) >= 0, "negative padding")
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding `p` on all four sides (PyTorch's `padding=p`).
    public static func uniform(_ p: Int) -> Padding2D {
        Padding2D(top: p, left: p, bottom: p, right: p)
    }
}

/// Inference-mode batch normalisation parameters for `C` channels:
/// `y = (x − mean) / sqrt(variance + epsilon) · scale + shift`.
public struct BatchNorm: Sendable {
    /// γ (PyTorch `weight`), `[C]`.
    public var scale: [Float]
    /// β (PyTorch `bias`), `[C]`.
    public var shift: [Float]
    /// Running mean, `[C]`.
    public var mean: [Float]
    /// Running variance, `[C]`.
    public var variance: [Float]
    public var epsilon: Float

    public init(scale: [Float], shift: [Float], mean: [Float], variance: [Float], epsilon: Float) {
        precondition(shift.count == scale.count && mean.count == scale.count
                     && variance.count == scale.count, "batch norm parameter counts differ")
        self.scale = scale
        self.shift = shift
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
    }
}

/// A 2-D convolution (PyTorch `Conv2d` semantics, cross-correlation) computed
/// as im2col followed by one product per image and group on Trawl's GEMM; 1×1 stride-1
/// convolutions are one product on the input on Trawl's GEMM (``pointwise(_:ending:into:)``);
/// 3×3 convolutions of stride 1 or 2 and 16 or more input
/// and output channels run as Winograd F(4×4, 3×3) or, at stride 2, F(2×2, 3×3) on the
/// polyphase components (``Winograd3x3``);
/// depthwise convolutions (one input channel per group) run as a direct SIMD loop
/// (``depthwise(_:into:)``).
/// The kernel depends on the layer's shape only, and every output's bits on its own inputs only
/// (never on the batch, the thread count or the CPU). Bias, ``activation`` and a residual ending
/// are applied as the outputs are written.
public struct Conv2D: Sendable {
    /// `[O, C / groups, kH, kW]`.
    public private(set) var weight: Tensor
    /// `[O]`, or nil for no bias.
    public private(set) var bias: [Float]?
    public let stride: Int
    public private(set) var padding: Padding2D
    public let dilation: Int
    public let groups: Int
    /// Applied to every output after the bias.
    public let activation: Activation
    /// The transformed weight when this layer runs as Winograd (transformed on first use), else nil.
    private let winograd: LazyWeight<Winograd3x3>?
    /// Each group's weight `[O / groups, C / groups · kH · kW]` packed for ``trawl_gemm_packing``
    /// (on first use, so never where ``pointwiseReadsImageUnpacked(outputs:plane:)`` holds), group
    /// after group, when this layer runs on Trawl's GEMM (neither Winograd nor depthwise), else nil.
    let packedWeight: LazyWeight<[Float]>?

    public init(weight: Tensor, bias: [Float]? = nil, stride: Int = 1,
                padding: Padding2D = .uniform(0), dilation: Int = 1, groups: Int = 1,
                activation: Activation = .identity) {
        precondition(weight.rank == 4, "conv weight must be [O, C/groups, kH, kW], got \(weight.shape)")
        precondition(groups >= 1 && weight.shape[0] % groups == 0,
                     "\(weight.shape[0]) output channels do not split into \(groups) groups")
        precondition(bias == nil || bias!.count == weight.shape[0], "conv bias count differs from \(weight.shape[0])")
        precondition(stride >= 1 && dilation >= 1, "stride and dilation must be positive")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
        self.winograd = Winograd3x3.applies(weight: weight, stride: stride, dilation: dilation, groups: groups)
            ? LazyWeight { Winograd3x3(weight: weight, stride: stride) } : nil
        self.packedWeight = winograd == nil && !(weight.shape[1] == 1 && groups == weight.shape[0])
            ? LazyWeight { Self.packedForGEMM(weight, groups: groups) } : nil
    }

    /// The same convolution with another padding (weights, and their Winograd transform, shared).
    public func withPadding(_ padding: Padding2D) -> Conv2D {
        var copy = self
        copy.padding = padding
        return copy
    }

    public var outputChannels: Int { weight.shape[0] }
    public var inputChannels: Int { weight.shape[1] * groups }
    public var kernelHeight: Int { weight.shape[2] }
    public var kernelWidth: Int { weight.shape[3] }

    /// Output spatial size for an input of `height × width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let h = (height + padding.top + padding.bottom - dilation * (kernelHeight - 1) - 1) / stride + 1
        let w = (width + padding.left + padding.right - dilation * (kernelWidth - 1) - 1) / stride + 1
        return (h, w)
    }

    /// The convolution of `weight` and `bias` followed by `bn`, folded into one convolution
    /// with bias (the activation, if any, still comes last). Folding before construction
    /// transforms the weight for Winograd once, not twice.
    public init(weight: Tensor, bias: [Float]? = nil, foldingBatchNorm bn: BatchNorm, stride: Int = 1,
                padding: Padding2D = .uniform(0), dilation: Int = 1, groups: Int = 1,
                activation: Activation = .identity) {
        let outputs = weight.shape[0]
        precondition(bn.scale.count == outputs, "batch norm has \(bn.scale.count) channels, conv \(outputs)")
        var folded = weight
        var foldedBias = [Float](repeating: 0, count: outputs)
        let perChannel = weight.count / outputs
        for o in 0..<outputs {
            let factor = bn.scale[o] / (bn.variance[o] + bn.epsilon).squareRoot()
            for i in o * perChannel ..< (o + 1) * perChannel { folded.data[i] *= factor }
            foldedBias[o] = ((bias?[o] ?? 0) - bn.mean[o]) * factor + bn.shift[o]
        }
        self.init(weight: folded, bias: foldedBias, stride: stride, padding: padding,
                  dilation: dilation, groups: groups, activation: activation)
    }

    /// `[N, C, H, W]` → `[N, O, H', W']`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        convolve(x, ending: nil, shortcutShape: nil)
    }

    /// `final(self(x) + shortcut)`, `shortcut` of the output's shape `[N, O, H', W']`: a residual
    /// block's ending, computed as the outputs are written instead of in passes of their own,
    /// with the bits of `self(x)`, then ``add(_:_:)``, then `final`.
    public func callAsFunction(_ x: Tensor, adding shortcut: Tensor, then final: Activation) -> Tensor {
        shortcut.data.withUnsafeBufferPointer { s in
            convolve(x, ending: ResidualEnding(shortcut: s.baseAddress!, activation: final), shortcutShape: shortcut.shape)
        }
    }

    private func convolve(_ x: Tensor, ending: ResidualEnding?, shortcutShape: [Int]?) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inputChannels,
                     "conv expects [N, \(inputChannels), H, W], got \(x.shape)")
        let (n, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        precondition(outH > 0 && outW > 0, "input \(height)×\(width) too small for the kernel")
        precondition(shortcutShape == nil || shortcutShape! == [n, outputChannels, outH, outW],
                     "shortcut \(shortcutShape ?? []) differs from the output [\(n), \(outputChannels), \(outH), \(outW)]")
        // Every path writes every output, so the tensor starts uninitialised (no zeroing pass).
        var out = ActivationPool.uninitializedTensor(shape: [n, outputChannels, outH, outW])
        let count = out.count
        if weight.shape[1] == 1 && groups == outputChannels {
            depthwise(x, into: &out)
            if let ending {
                out.data.withUnsafeMutableBufferPointer { y in
                    Activation.identity.apply(y.baseAddress!, into: y.baseAddress!, count: count, adding: nil, ending: ending)
                }
            }
        } else if isPointwise {
            pointwise(x, ending: ending, into: &out)
        } else {
            im2colGEMM(x, ending: ending, into: &out)
        }
        return out
    }

    /// One image at a time, images spread over the cores, so an image's result never depends on
    /// the batch it came in; Winograd layers take up to ``Winograd3x3/largestGroup`` consecutive
    /// images at a time, one product per position for the group, whose bits do not depend on the
    /// group either.
    private func im2colGEMM(_ x: Tensor, ending: ResidualEnding?, into out: inout Tensor) {
        let n = x.shape[0]
        let (height, width) = (x.shape[2], x.shape[3])
        let (outH, outW) = (out.shape[2], out.shape[3])
        let inPlane = inputChannels * height * width
        let outPlane = outputChannels * outH * outW
        x.data.withUnsafeBufferPointer { input in
            out.data.withUnsafeMutableBufferPointer { output in
                let (inBase, outBase) = (input.baseAddress!, output.baseAddress!)
                if let winograd = winograd?.value {
                    let group = Winograd3x3.largestGroup
                    DispatchQueue.concurrentPerform(iterations: (n + group - 1) / group) { g in
                        let first = g * group
                        winograd.convolve(inBase + first * inPlane, count: min(group, n - first), height: height,
                                          width: width, padding: padding, outH: outH, outW: outW, bias: bias,
                                          activation: activation, ending: ending?.advanced(by: first * outPlane),
                                          into: outBase + first * outPlane)
                    }
                    return
                }
                packedWeight!.value.withUnsafeBufferPointer { packed in
                    DispatchQueue.concurrentPerform(iterations: n) { i in
                        convolveImage(inBase + i * inPlane, height: height, width: width, packedWeight: packed.baseAddress!,
                                      ending: ending?.advanced(by: i * outPlane), into: outBase + i * outPlane)
                    }
                }
            }
        }
    }

    /// `[C, H, W]` at `image` → `[O, H', W']` at `output` by im2col and, per group, one product
    /// `[O / groups, C / groups · kH · kW] · [C / groups · kH · kW, H' · W']` on Trawl's GEMM
    /// (``trawl_gemm_packing``: each output one multiply-add chain from 0, ended as it is stored).
    private func convolveImage(_ image: UnsafePointer<Float>, height: Int, width: Int,
                               packedWeight: UnsafePointer<Float>, ending: ResidualEnding?,
                               into output: UnsafeMutablePointer<Float>) {
        let (outH, outW) = outputSize(height: height, width: width)
        let plane = outH * outW
        let groupIn = weight.shape[1], groupOut = outputChannels / groups
        let rows = groupIn * kernelHeight * kernelWidth
        let packedCount = trawl_gemm_packed_a_count(groupOut, rows)
        // im2col writes every element of its part, so the buffer may hold anything.
        let columns = ThreadScratch.forCurrentThread.buffer(rows * plane + trawl_gemm_packing_scratch_count())
        let gemmScratch = columns + rows * plane
        (bias ?? []).withUnsafeBufferPointer { biasValues in
            for g in 0..<groups {
                im2col(image + g * groupIn * height * width, channels: groupIn, height: height, width: width,
                       outH: outH, outW: outW, into: columns)
                var groupEnding = gemmEnding(bias: bias == nil ? nil : biasValues.baseAddress! + g * groupOut,
                                             ending: ending?.advanced(by: g * groupOut * plane))
                trawl_gemm_packing(groupOut, plane, rows, packedWeight + g * packedCount, columns, plane,
                                   output + g * groupOut * plane, plane, &groupEnding, gemmScratch)
            }
        }
    }

    /// Writes the `[channels · kH · kW, outH · outW]` patch matrix of one
    /// image `[channels, height, width]` at `columns`.
    private func im2col(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                        outH: Int, outW: Int,
                        into columns: UnsafeMutablePointer<Float>) {
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ki in 0..<kernelHeight {
                for kj in 0..<kernelWidth {
                    let dst = columns + row * outH * outW
                    // Output columns whose input column lies inside the image: lo..<hi.
                    let offset = kj * dilation - padding.left
                    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
                    let hi = width - 1 - offset < 0 ? 0 : min(outW, (width - 1 - offset) / stride + 1)
                    for oh in 0..<outH {
                        let ih = oh * stride - padding.top + ki * dilation
                        let line = dst + oh * outW
                        if ih < 0 || ih >= height || lo >= hi {
                            line.update(repeating: 0, count: outW)
                            continue
                        }
                        copyRow(plane + ih * width + offset, stride: stride, into: line, count: outW, inside: lo..<hi)
                    }
                    row += 1
                }
            }
        }
    }
}

/// `line[x] = source[x · stride]` for `x` in `inside`, zero for the rest of `0..<count`
/// (one row of a zero-padded, strided copy; `source` may point before the row it reads).
func copyRow(_ source: UnsafePointer<Float>, stride: Int, into line: UnsafeMutablePointer<Float>,
             count: Int, inside: Range<Int>) {
    line.update(repeating: 0, count: inside.lowerBound)
    if stride == 1 {
        (line + inside.lowerBound).update(from: source + inside.lowerBound, count: inside.count)
    } else if stride == 2 {
        // Eight outputs from the even floats of sixteen, while all sixteen lie inside the row
        // (up to source[2 · (upperBound − 1)]); the rest one by one.
        var x = inside.lowerBound
        while x + 8 < inside.upperBound {
            let pair = UnsafeRawPointer(source + 2 * x).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(line + x).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
            x += 8
        }
        while x < inside.upperBound {
            line[x] = source[2 * x]
            x += 1
        }
    } else {
        for x in inside { line[x] = source[x * stride] }
    }
    (line + inside.upperBound).update(repeating: 0, count: count - inside.upperBound)
}

/// A fully connected layer: `[N, in]` → `[N, out]`, `y = x · Wᵀ + b`, the product on Trawl's GEMM
/// (``matmul(_:_:transposeB:)``), so each output's bits depend on its own row of `x` only (never
/// on the batch, the thread count or the CPU).
public struct Linear: Sendable {
    /// `[out, in]`.
    public let weight: Tensor
    /// `[out]`, or nil.
    public let bias: [Float]?

    public init(weight: Tensor, bias: [Float]?) {
        precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        precondition(bias == nil || bias!.count == weight.shape[0], "linear bias count differs")
        self.weight = weight
        self.bias = bias
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = matmul(x, weight, transposeB: true)
        if let bias {
            let out = weight.shape[0]
            for i in 0..<y.count { y.data[i] += bias[i % out] }
        }
        return y
    }
}
