import Dispatch
import Tensors

/// One feature vector per cell of a patch grid: `[images · height · width, D]`,
/// rows ordered image-major, then row, then column.
public struct PatchFeatures: Equatable, Sendable {
    /// `[images · height · width, dimension]`.
    public var features: Tensor
    public let images: Int
    /// Grid height (cells).
    public let height: Int
    /// Grid width (cells).
    public let width: Int

    /// Wraps `[images · height · width, D]` rows.
    public init(features: Tensor, images: Int, height: Int, width: Int) {
        self.features = features
        self.images = images
        self.height = height
        self.width = width
    }

    /// Feature dimension `D`.
    public var dimension: Int { features.shape[1] }
}

/// PatchCore's locally aware patch features from two or more backbone taps.
///
/// For every tap `[N, Cᵢ, Hᵢ, Wᵢ]`:
/// 1. each cell's `patchSize × patchSize` neighbourhood (stride 1, zero
///    padding `(patchSize − 1) / 2`) is flattened channel-major to
///    `Cᵢ · patchSize²` values — the reference's `torch.nn.Unfold`;
/// 2. that vector is average-pooled to `pretrainDimension` values with
///    PyTorch `adaptive_avg_pool1d` bins (the reference's `MeanMapper`).
///    Without a `pretrainDimension` it is pooled to `Cᵢ` values, which is
///    exactly a `patchSize × patchSize` average pool with
///    `count_include_pad = True` (padding zeros count in the mean of 9);
/// 3. the result is resized bilinearly (`align_corners = False`) to the grid
///    of the finest tap (the reference uses the first tap's grid, the same
///    grid when taps are listed shallow to deep). Resizing and pooling are
///    both linear on separate axes, so doing them in this order equals the
///    reference's resize-then-pool.
///
/// The taps' vectors are concatenated (the reference stacks `[taps, P]` and
/// flattens, the same order), then, with a `targetDimension`, pooled once more
/// by `adaptive_avg_pool1d` to that length (the reference's `Aggregator`,
/// `target_embed_dimension`). The reference configuration for
/// WideResNet-50 layer2 + layer3 is `pretrainDimension = 1024`,
/// `targetDimension = 1024`.
public struct PatchFeatureAggregator: Sendable, Equatable {
    /// Neighbourhood side (odd).
    public var patchSize: Int
    /// Per-tap pooled length `P`; nil keeps `Cᵢ` (plain local average pooling).
    public var pretrainDimension: Int?
    /// Final length `T` after concatenation; nil keeps the concatenated length.
    public var targetDimension: Int?

    public init(patchSize: Int = 3, pretrainDimension: Int? = nil, targetDimension: Int? = nil) {
        self.patchSize = patchSize
        self.pretrainDimension = pretrainDimension
        self.targetDimension = targetDimension
    }

    /// Patch features of `taps` (each `[N, Cᵢ, Hᵢ, Wᵢ]`, same `N`).
    public func callAsFunction(_ taps: [Tensor]) throws -> PatchFeatures {
        guard patchSize >= 1 && patchSize % 2 == 1 else {
            throw ScorerError.invalidParameter(name: "patchSize", value: "\(patchSize)", reason: "must be odd and positive")
        }
        for (name, value) in [("pretrainDimension", pretrainDimension), ("targetDimension", targetDimension)] {
            if let value, value < 1 {
                throw ScorerError.invalidParameter(name: name, value: "\(value)", reason: "must be at least 1")
            }
        }
        try validateTaps(taps)
        let n = taps[0].shape[0]
        let finest = taps.max { $0.shape[2] * $0.shape[3] < $1.shape[2] * $1.shape[3] }!
        let (h, w) = (finest.shape[2], finest.shape[3])
        let pooled = taps.map { tap -> Tensor in
            let local = localAverage(tap, length: pretrainDimension ?? tap.shape[1])
            return (local.shape[2], local.shape[3]) == (h, w) ? local : resizeBilinear(local, height: h, width: w)
        }
        var rows = cellsAsRows(concatChannels(pooled))
        if let targetDimension { rows = adaptiveAveragePoolRows(rows, length: targetDimension) }
        return PatchFeatures(features: rows, images: n, height: h, width: w)
    }

    /// `[N, C, H, W]` → `[N, length, H, W]`: the flattened `C · p²` neighbourhood
    /// of every cell, adaptive-average-pooled to `length`.
    func localAverage(_ x: Tensor, length: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let p = patchSize, pad = (patchSize - 1) / 2, window = p * p
        let total = c * window
        let bins = (0..<length).map { i in (i * total / length, ((i + 1) * total + length - 1) / length) }
        var out = Tensor(shape: [n, length, h, w])
        x.data.withUnsafeBufferPointer { input in
            out.data.withUnsafeMutableBufferPointer { output in
                let (inputBase, outputBase) = (input.baseAddress!, output.baseAddress!)
                // Images in parallel; each adds shifted input planes into its output planes.
                DispatchQueue.concurrentPerform(iterations: n) { image in
                    let src = inputBase + image * c * h * w
                    for (bin, (lower, upper)) in bins.enumerated() {
                        let dst = outputBase + (image * length + bin) * h * w
                        for element in lower..<upper {
                            let channel = element / window, offset = element % window
                            let dy = offset / p - pad, dx = offset % p - pad
                            let plane = src + channel * h * w
                            for y in max(0, -dy) ..< min(h, h - dy) {
                                let from = plane + (y + dy) * w + dx, to = dst + y * w
                                for x in max(0, -dx) ..< min(w, w - dx) { to[x] += from[x] }
                            }
                        }
                        let scale = 1 / Float(upper - lower)
                        for i in 0..<h * w { dst[i] *= scale }
                    }
                }
            }
        }
        return out
    }
}

/// Global average pooling of every tap, concatenated: taps `[N, Cᵢ, Hᵢ, Wᵢ]`
/// → `[N, ΣCᵢ]` (one image-level embedding per row, taps in order).
public func globalAveragePool(_ taps: [Tensor]) throws -> Tensor {
    try validateTaps(taps)
    let n = taps[0].shape[0]
    let d = taps.reduce(0) { $0 + $1.shape[1] }
    var out = Tensor(shape: [n, d])
    var offset = 0
    for tap in taps {
        let (c, means) = (tap.shape[1], channelMeans(tap))
        for image in 0..<n {
            for channel in 0..<c { out.data[image * d + offset + channel] = means.data[image * c + channel] }
        }
        offset += c
    }
    return out
}

/// Checks taps are `[N, C, H, W]` with one common `N ≥ 1`, nonzero extents, finite values.
func validateTaps(_ taps: [Tensor]) throws {
    guard let first = taps.first else { throw ScorerError.empty(argument: "taps") }
    for (i, tap) in taps.enumerated() {
        let name = "taps[\(i)]"
        guard tap.rank == 4, tap.shape.allSatisfy({ $0 > 0 }), tap.shape[0] == first.shape[0] else {
            throw ScorerError.badShape(argument: name, shape: tap.shape,
                                       expected: "[N, C, H, W] with N = \(first.shape[0]) and nonzero extents")
        }
        try validateFinite(tap, name)
    }
}

/// `[N, D, H, W]` → `[N · H · W, D]`.
func cellsAsRows(_ x: Tensor) -> Tensor {
    let (n, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var out = Tensor(shape: [n * h * w, d])
    x.data.withUnsafeBufferPointer { input in
        out.data.withUnsafeMutableBufferPointer { output in
            for image in 0..<n {
                for channel in 0..<d {
                    let src = input.baseAddress! + (image * d + channel) * h * w
                    let dst = output.baseAddress! + image * h * w * d + channel
                    for cell in 0..<h * w { dst[cell * d] = src[cell] }
                }
            }
        }
    }
    return out
}

/// Each row of `[R, L]` pooled to `length` values with `adaptive_avg_pool1d` bins:
/// bin `i` averages elements `⌊i·L/length⌋ ..< ⌈(i+1)·L/length⌉`.
func adaptiveAveragePoolRows(_ x: Tensor, length: Int) -> Tensor {
    let (r, l) = (x.shape[0], x.shape[1])
    if l == length { return x }
    let bins = (0..<length).map { i in (i * l / length, ((i + 1) * l + length - 1) / length) }
    var out = Tensor(shape: [r, length])
    for row in 0..<r {
        for (i, (lower, upper)) in bins.enumerated() {
            var sum: Float = 0
            for j in lower..<upper { sum += x.data[row * l + j] }
            out.data[row * length + i] = sum / Float(upper - lower)
        }
    }
    return out
}
