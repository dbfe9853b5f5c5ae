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
/// as im2col followed by one sgemm per image and group (1×1 stride-1
/// convolutions skip im2col); depthwise convolutions (one input channel per
/// group) run as a direct loop.
public struct Conv2D: Sendable {
    /// `[O, C / groups, kH, kW]`.
    public private(set) var weight: Tensor
    /// `[O]`, or nil for no bias.
    public private(set) var bias: [Float]?
    public let stride: Int
    public let padding: Padding2D
    public let dilation: Int
    public let groups: Int

    public init(weight: Tensor, bias: [Float]? = nil, stride: Int = 1,
                padding: Padding2D = .uniform(0), dilation: Int = 1, groups: Int = 1) {
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

    /// This convolution followed by `bn`, folded into one convolution with bias.
    public func foldingBatchNorm(_ bn: BatchNorm) -> Conv2D {
        precondition(bn.scale.count == outputChannels, "batch norm has \(bn.scale.count) channels, conv \(outputChannels)")
        var folded = weight
        var newBias = [Float](repeating: 0, count: outputChannels)
        let perChannel = weight.count / outputChannels
        for o in 0..<outputChannels {
            let factor = bn.scale[o] / (bn.variance[o] + bn.epsilon).squareRoot()
            for i in o * perChannel ..< (o + 1) * perChannel { folded.data[i] *= factor }
            newBias[o] = ((bias?[o] ?? 0) - bn.mean[o]) * factor + bn.shift[o]
        }
        return Conv2D(weight: folded, bias: newBias, stride: stride, padding: padding,
                      dilation: dilation, groups: groups)
    }

    /// `[N, C, H, W]` → `[N, O, H', W']`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inputChannels,
                     "conv expects [N, \(inputChannels), H, W], got \(x.shape)")
        let (n, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        let (outH, outW) = outputSize(height: height, width: width)
        precondition(outH > 0 && outW > 0, "input \(height)×\(width) too small for the kernel")
        var out = Tensor(shape: [n, outputChannels, outH, outW])
        if weight.shape[1] == 1 && groups == outputChannels {
            depthwise(x, into: &out)
        } else {
            im2colGEMM(x, into: &out)
        }
        return out
    }

    /// One image at a time, images spread over the cores (BLAS runs on one
    /// thread), so an image's result never depends on the batch it came in.
    private func im2colGEMM(_ x: Tensor, into out: inout Tensor) {
        let n = x.shape[0]
        let inPlane = inputChannels * x.shape[2] * x.shape[3]
        let outPlane = outputChannels * out.shape[2] * out.shape[3]
        x.data.withUnsafeBufferPointer { input in
            out.data.withUnsafeMutableBufferPointer { output in
                let (inBase, outBase) = (input.baseAddress!, output.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: n) { i in
                    convolveImage(inBase + i * inPlane, height: x.shape[2], width: x.shape[3],
                                  into: outBase + i * outPlane)
                }
            }
        }
    }

    /// `[C, H, W]` at `image` → `[O, H', W']` at `output`.
    private func convolveImage(_ image: UnsafePointer<Float>, height: Int, width: Int,
                               into output: UnsafeMutablePointer<Float>) {
        let (outH, outW) = outputSize(height: height, width: width)
        let plane = outH * outW
        let groupIn = weight.shape[1], groupOut = outputChannels / groups
        let rows = groupIn * kernelHeight * kernelWidth
        let isPointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1
            && padding == .uniform(0)
        // im2col writes every element, so the buffer starts uninitialised.
        var columns = [Float](unsafeUninitializedCapacity: isPointwise ? 0 : rows * plane) { _, count in
            count = isPointwise ? 0 : rows * plane
        }
        weight.data.withUnsafeBufferPointer { w in
            columns.withUnsafeMutableBufferPointer { cols in
                for g in 0..<groups {
                    let groupImage = image + g * groupIn * height * width
                    let patches: UnsafePointer<Float>
                    if isPointwise {
                        patches = groupImage
                    } else {
                        im2col(groupImage, channels: groupIn, height: height, width: width,
                               outH: outH, outW: outW, into: cols.baseAddress!)
                        patches = UnsafePointer(cols.baseAddress!)
                    }
                    let groupOutput = output + g * groupOut * plane
                    sgemm(m: groupOut, n: plane, k: rows,
                          a: w.baseAddress! + g * groupOut * rows, lda: rows,
                          b: patches, ldb: plane,
                          c: groupOutput, ldc: plane)
                    if let bias {
                        for o in 0..<groupOut {
                            let b = bias[g * groupOut + o]
                            let line = groupOutput + o * plane
                            for p in 0..<plane { line[p] += b }
                        }
                    }
                }
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
                        let src = plane + ih * width + offset
                        line.update(repeating: 0, count: lo)
                        if stride == 1 {
                            (line + lo).update(from: src + lo, count: hi - lo)
                        } else {
                            for ow in lo..<hi { line[ow] = src[ow * stride] }
                        }
                        (line + hi).update(repeating: 0, count: outW - hi)
                    }
                    row += 1
                }
            }
        }
    }

    /// Depthwise convolution: channel `c` of the output reads channel `c` of the input only.
    private func depthwise(_ x: Tensor, into out: inout Tensor) {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (out.shape[2], out.shape[3])
        let (kh, kw) = (kernelHeight, kernelWidth)
        let (s, d, top, left) = (stride, dilation, padding.top, padding.left)
        // Per kernel column kj: the output columns lo..<hi whose input column lies inside the image.
        let columnRanges = (0..<kw).map { kj -> Range<Int> in
            let offset = kj * d - left
            let lo = max(0, (-offset + s - 1) / s)
            let last = width - 1 - offset
            let hi = last < 0 ? 0 : min(outW, last / s + 1)
            return lo < hi ? lo..<hi : 0..<0
        }
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    let inBase = input.baseAddress!, wBase = w.baseAddress!, outBase = output.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: n * channels) { job in
                        let c = job % channels
                        let src = inBase + job * height * width
                        let dst = outBase + job * outH * outW
                        let b = bias?[c] ?? 0
                        for p in 0..<(outH * outW) { dst[p] = b }
                        for oh in 0..<outH {
                            let line = dst + oh * outW
                            for ki in 0..<kh {
                                let ih = oh * s - top + ki * d
                                if ih < 0 || ih >= height { continue }
                                let row = src + ih * width
                                for kj in 0..<kw {
                                    let k = wBase[(c * kh + ki) * kw + kj]
                                    let offset = kj * d - left
                                    if s == 1 {
                                        for ow in columnRanges[kj] { line[ow] += k * row[ow + offset] }
                                    } else {
                                        for ow in columnRanges[kj] { line[ow] += k * row[ow * s + offset] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A fully connected layer: `[N, in]` → `[N, out]`, `y = x · Wᵀ + b`.
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
