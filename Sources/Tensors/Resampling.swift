import Dispatch
import Foundation

/// Bilinear resize of the last two axes (`[…, H, W]` → `[…, height, width]`)
/// with PyTorch `interpolate(mode="bilinear", align_corners=False)` semantics
/// and no antialiasing: output pixel `i` samples input coordinate
/// `(i + 0.5) · H / height − 0.5`, clamped below at 0.
public func resizeBilinear(_ x: Tensor, height: Int, width: Int) -> Tensor {
    precondition(x.rank >= 2, "resize expects [..., H, W], got \(x.shape)")
    let (inH, inW) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let rows = linearTaps(input: inH, output: height)
    let cols = linearTaps(input: inW, output: width)
    let planes = x.count / max(1, inH * inW)
    var out = Tensor(shape: Array(x.shape.dropLast(2)) + [height, width])
    x.data.withUnsafeBufferPointer { input in
        out.data.withUnsafeMutableBufferPointer { output in
            for p in 0..<planes {
                let src = input.baseAddress! + p * inH * inW
                let dst = output.baseAddress! + p * height * width
                for i in 0..<height {
                    let (r0, r1, fr) = rows[i]
                    let top = src + r0 * inW, bottom = src + r1 * inW
                    for j in 0..<width {
                        let (c0, c1, fc) = cols[j]
                        let upper = top[c0] + (top[c1] - top[c0]) * fc
                        let lower = bottom[c0] + (bottom[c1] - bottom[c0]) * fc
                        dst[i * width + j] = upper + (lower - upper) * fr
                    }
                }
            }
        }
    }
    return out
}

/// For each output index: the two input indices and the weight of the second.
private func linearTaps(input: Int, output: Int) -> [(Int, Int, Float)] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { i in
        let source = max((Float(i) + 0.5) * scale - 0.5, 0)
        let i0 = min(Int(source), input - 1)
        let i1 = min(i0 + 1, input - 1)
        return (i0, i1, source - Float(i0))
    }
}

/// Nearest-neighbour resize of the last two axes with PyTorch
/// `interpolate(mode="nearest")` semantics: output `i` takes input
/// `min(floor(i · H / height), H − 1)`.
public func resizeNearest(_ x: Tensor, height: Int, width: Int) -> Tensor {
    precondition(x.rank >= 2, "resize expects [..., H, W], got \(x.shape)")
    let (inH, inW) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let rowScale = Float(inH) / Float(height), colScale = Float(inW) / Float(width)
    let rows = (0..<height).map { min(Int((Float($0) * rowScale).rounded(.down)), inH - 1) }
    let cols = (0..<width).map { min(Int((Float($0) * colScale).rounded(.down)), inW - 1) }
    let planes = x.count / max(1, inH * inW)
    var out = Tensor(shape: Array(x.shape.dropLast(2)) + [height, width])
    for p in 0..<planes {
        for i in 0..<height {
            for j in 0..<width {
                out.data[(p * height + i) * width + j] = x.data[(p * inH + rows[i]) * inW + cols[j]]
            }
        }
    }
    return out
}

/// Gaussian blur of the last two axes with `scipy.ndimage.gaussian_filter`
/// semantics (other axes untouched): a separable kernel of radius
/// `Int(truncate · sigma + 0.5)`, weights `exp(−x² / 2σ²)` normalised to sum 1,
/// boundary mode `reflect` (`d c b a | a b c d | d c b a`). Like scipy, each
/// pass sums in Double, pairing the taps symmetric about the centre, and
/// stores Float; axis −2 is filtered first.
public func gaussianBlur(_ x: Tensor, sigma: Float, truncate: Float = 4) -> Tensor {
    precondition(x.rank >= 2, "blur expects [..., H, W], got \(x.shape)")
    precondition(sigma > 0, "blur sigma must be positive")
    let radius = Int(truncate * sigma + 0.5)
    let sigma2 = Double(sigma) * Double(sigma)
    var kernel = (0...radius).map { exp(-0.5 * Double($0 * $0) / sigma2) }
    let total = kernel[0] + 2 * kernel.dropFirst().reduce(0, +)
    kernel = kernel.map { $0 / total }
    let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let planes = x.count / max(1, h * w)
    let rowIndex = reflectedIndices(count: h, radius: radius)
    let colIndex = reflectedIndices(count: w, radius: radius)
    var out = x
    out.data.withUnsafeMutableBufferPointer { data in
        let base = data.baseAddress!
        DispatchQueue.concurrentPerform(iterations: planes) { p in
            blurPlane(base + p * h * w, height: h, width: w, kernel: kernel,
                      rowIndex: rowIndex, colIndex: colIndex)
        }
    }
    return out
}

/// Filters one `[height, width]` plane in place; `kernel[t]` weighs offset ±t.
private func blurPlane(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                       kernel: [Double], rowIndex: [Int], colIndex: [Int]) {
    let radius = kernel.count - 1
    let source = [Float](UnsafeBufferPointer(start: plane, count: h * w))
    var acc = [Double](repeating: 0, count: w)
    var line = [Double](repeating: 0, count: w + 2 * radius)
    // Axis −2: each output row is a weighted sum of whole input rows.
    source.withUnsafeBufferPointer { src in
        for i in 0..<h {
            let centre = src.baseAddress! + i * w
            for j in 0..<w { acc[j] = kernel[0] * Double(centre[j]) }
            for t in stride(from: 1, through: radius, by: 1) {
                let above = src.baseAddress! + rowIndex[radius + i - t] * w
                let below = src.baseAddress! + rowIndex[radius + i + t] * w
                let k = kernel[t]
                for j in 0..<w { acc[j] += k * (Double(above[j]) + Double(below[j])) }
            }
            for j in 0..<w { plane[i * w + j] = Float(acc[j]) }
        }
    }
    // Axis −1: along each row, through a reflected copy of it.
    for i in 0..<h {
        let r = plane + i * w
        for j in 0..<(w + 2 * radius) { line[j] = Double(r[colIndex[j]]) }
        for j in 0..<w {
            let c = j + radius
            var sum = kernel[0] * line[c]
            for t in stride(from: 1, through: radius, by: 1) {
                sum += kernel[t] * (line[c - t] + line[c + t])
            }
            r[j] = Float(sum)
        }
    }
}

/// Input index for each padded position `-radius ..< count + radius`, in
/// scipy's `reflect` mode (the edge sample is repeated: period `2 · count`).
private func reflectedIndices(count: Int, radius: Int) -> [Int] {
    (-radius ..< count + radius).map { i in
        let period = 2 * count
        var m = i % period
        if m < 0 { m += period }
        return m < count ? m : period - 1 - m
    }
}
