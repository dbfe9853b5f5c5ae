import Tensors

extension Image {
    /// How `resized(width:height:filter:)` interpolates.
    public enum ResizeFilter: Sendable {
        /// PIL's `Image.resize(size, Image.BILINEAR)` on 8-bit images, bit for bit: a separable
        /// triangle filter whose support widens by the downscale factor (antialiasing), 22-bit
        /// fixed-point weights, horizontal pass first, each pass rounded and clipped to 0…255.
        /// Values are first rounded and clipped to whole 0…255 levels (16-bit sources lose their
        /// extra precision, as they do in PIL's 8-bit modes).
        case bilinear
        /// PIL's `Image.NEAREST`: source pixel ⌊(x + ½) · in/out⌋; values are copied unchanged.
        /// Use this for masks.
        case nearest
    }

    /// This image resized to `width` × `height`.
    public func resized(width: Int, height: Int, filter: ResizeFilter = .bilinear) -> Image {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)×\(height)")
        if width == self.width && height == self.height { return self }
        let planes = (0..<channels).map { pixels.slice($0).data }
        let resized: [[Float]]
        switch filter {
        case .bilinear:
            let horizontal = width == self.width ? nil : ResampleWeights(inputSize: self.width, outputSize: width)
            let vertical = height == self.height ? nil : ResampleWeights(inputSize: self.height, outputSize: height)
            resized = planes.map { plane in
                var levels = plane.map { UInt8(min(max($0.rounded(), 0), 255)) }
                var planeWidth = self.width
                if let horizontal {
                    levels = horizontal.resampleRows(levels, rows: self.height, width: planeWidth)
                    planeWidth = width
                }
                if let vertical {
                    levels = vertical.resampleColumns(levels, height: self.height, width: planeWidth)
                }
                return levels.map(Float.init)
            }
        case .nearest:
            let columns = nearestIndices(inputSize: self.width, outputSize: width)
            let rows = nearestIndices(inputSize: self.height, outputSize: height)
            resized = planes.map { plane in
                var out = [Float](repeating: 0, count: width * height)
                for (y, sourceRow) in rows.enumerated() {
                    for (x, sourceColumn) in columns.enumerated() {
                        out[y * width + x] = plane[sourceRow * self.width + sourceColumn]
                    }
                }
                return out
            }
        }
        return Image(pixels: Tensor(shape: [channels, height, width], data: resized.flatMap { $0 }))
    }
}

extension Image {
    /// This image resized so that its shorter side is `shorterSide`, keeping the aspect ratio as
    /// torchvision's `Resize(int)` does: the longer side becomes ⌊shorterSide · long / short⌋.
    /// With `centerCropped(width:height:)` this is the usual `Resize(256)` + `CenterCrop(224)`.
    public func resized(shorterSide: Int, filter: ResizeFilter = .bilinear) -> Image {
        let size = Self.shorterSideSize(width: width, height: height, shorterSide: shorterSide)
        return resized(width: size.width, height: size.height, filter: filter)
    }

    /// The size ``resized(shorterSide:filter:)`` gives a `width × height` image.
    static func shorterSideSize(width: Int, height: Int, shorterSide: Int) -> (width: Int, height: Int) {
        let (short, long) = (min(width, height), max(width, height))
        let newLong = Int(Double(shorterSide) * Double(long) / Double(short))
        return width <= height ? (shorterSide, newLong) : (newLong, shorterSide)
    }
}

/// Source indices for PIL's nearest-neighbour scaling, which steps a `Double` position by
/// in/out from ½·in/out and truncates (the accumulation is kept: it decides ties as PIL does).
private func nearestIndices(inputSize: Int, outputSize: Int) -> [Int] {
    let step = Double(inputSize) / Double(outputSize)
    var position = step * 0.5
    var indices: [Int] = []
    indices.reserveCapacity(outputSize)
    for _ in 0..<outputSize {
        indices.append(min(Int(position), inputSize - 1))
        position += step
    }
    return indices
}

/// PIL's bilinear resampling weights along one axis, in 22-bit fixed point.
///
/// Output sample `i` is centred at `(i + ½) · scale` in input coordinates (scale = in/out); the
/// triangle filter's support is `max(scale, 1)` input pixels either side, its argument is divided
/// by `max(scale, 1)`, and the weights are normalised to sum to 1 before rounding away from zero.
struct ResampleWeights {
    static let precisionBits = 22

    /// First input index of each output sample.
    let first: [Int]
    /// Number of input samples each output sample reads.
    let count: [Int]
    /// `kernelSize` weights per output sample (the first `count[i]` are used).
    let weights: [Int32]
    let kernelSize: Int

    init(inputSize: Int, outputSize: Int) {
        let scale = Double(Float(inputSize)) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](), count = [Int]()
        var weights = [Int32](repeating: 0, count: outputSize * kernelSize)
        for i in 0..<outputSize {
            let center = (Double(i) + 0.5) * scale
            let lower = max(Int(center - support + 0.5), 0)
            let upper = min(Int(center + support + 0.5), inputSize)
            var kernel = (lower..<upper).map { x in
                max(1 - abs((Double(x) - center + 0.5) / filterScale), 0)
            }
            let total = kernel.reduce(0, +)
            if total != 0 { kernel = kernel.map { $0 / total } }
            for (j, w) in kernel.enumerated() {
                let scaled = w * Double(1 << Self.precisionBits)
                weights[i * kernelSize + j] = Int32(scaled < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            first.append(lower)
            count.append(upper - lower)
        }
        self.first = first
        self.count = count
        self.weights = weights
    }

    /// Rounds a fixed-point sum (which includes the ½ bias) to a clipped 8-bit level.
    @inline(__always)
    private static func clip(_ sum: Int) -> UInt8 {
        UInt8(min(max(sum >> precisionBits, 0), 255))
    }

    /// Calls `body` with unchecked views of the bounds and weights tables.
    private func withTables<R>(_ body: (UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int32>) -> R) -> R {
        first.withUnsafeBufferPointer { first in
            count.withUnsafeBufferPointer { count in
                weights.withUnsafeBufferPointer { weights in body(first, count, weights) }
            }
        }
    }

    /// Resamples each of `rows` rows of `width` levels to `first.count` levels.
    func resampleRows(_ input: [UInt8], rows: Int, width: Int) -> [UInt8] {
        let outputWidth = first.count
        var output = [UInt8](repeating: 0, count: rows * outputWidth)
        withTables { first, count, k in
            input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<rows {
                        for x in 0..<outputWidth {
                            var sum = 1 << (Self.precisionBits - 1)
                            let weights = k.baseAddress! + x * kernelSize
                            let samples = src.baseAddress! + y * width + first[x]
                            for j in 0..<count[x] { sum += Int(samples[j]) * Int(weights[j]) }
                            dst[y * outputWidth + x] = Self.clip(sum)
                        }
                    }
                }
            }
        }
        return output
    }

    /// Resamples each column of a `height` × `width` plane to `first.count` levels.
    func resampleColumns(_ input: [UInt8], height: Int, width: Int) -> [UInt8] {
        let outputHeight = first.count
        var output = [UInt8](repeating: 0, count: outputHeight * width)
        var sums = [Int](repeating: 0, count: width)
        withTables { first, count, k in
            input.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { dst in
                    sums.withUnsafeMutableBufferPointer { sums in
                        for y in 0..<outputHeight {
                            for x in 0..<width { sums[x] = 1 << (Self.precisionBits - 1) }
                            for j in 0..<count[y] {
                                let weight = Int(k[y * kernelSize + j])
                                let row = src.baseAddress! + (first[y] + j) * width
                                for x in 0..<width { sums[x] += Int(row[x]) * weight }
                            }
                            for x in 0..<width { dst[y * width + x] = Self.clip(sums[x]) }
                        }
                    }
                }
            }
        }
        return output
    }
}
