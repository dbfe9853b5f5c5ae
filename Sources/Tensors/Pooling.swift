/// Max pooling over `[N, C, H, W]` with PyTorch `MaxPool2d` semantics
/// (`ceil_mode=False`, padding counts as −∞). Computed separably (a maximum is exact, so the
/// order changes nothing): for each output row, the maximum of its window's rows column by
/// column, eight columns per SIMD operation, then of each window's columns of that line (at
/// stride 2, eight windows at a time wherever their columns lie inside the line).
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
    typealias Lanes = SIMD8<Float>
    let (outH, outW) = poolingOutputSize(x, kernel: kernel, stride: stride, padding: padding)
    let (planes, inH, inW) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    // Every output is written (each row's columns 0..<outW, in the three loops below).
    var out = ActivationPool.uninitializedTensor(shape: [x.shape[0], x.shape[1], outH, outW])
    var line = [Float](repeating: 0, count: inW)
    // At stride 2, eight outputs from j on take one 16-float load per kernel column, from column
    // 2j − padding + c: inside the line from j = ⌈padding / 2⌉ while 2j − padding + kernel + 14 < inW.
    let vectorStart = stride == 2 ? (padding + 1) / 2 : outW
    x.data.withUnsafeBufferPointer { input in
        out.data.withUnsafeMutableBufferPointer { output in
            line.withUnsafeMutableBufferPointer { line in
                let lineBase = line.baseAddress!
                for p in 0..<planes {
                    let plane = input.baseAddress! + p * inH * inW
                    for i in 0..<outH {
                        // Every window has at least one row and column inside (padding ≤ kernel / 2).
                        let r0 = max(i * stride - padding, 0), r1 = min(i * stride - padding + kernel, inH)
                        lineBase.update(from: plane + r0 * inW, count: inW)
                        for r in r0 + 1 ..< r1 {
                            let row = plane + r * inW
                            var c = 0
                            while c + Lanes.scalarCount <= inW {
                                let m = UnsafeRawPointer(lineBase + c).loadUnaligned(as: Lanes.self)
                                let v = UnsafeRawPointer(row + c).loadUnaligned(as: Lanes.self)
                                UnsafeMutableRawPointer(lineBase + c).storeBytes(of: m.replacing(with: v, where: v .>= m),
                                                                                  as: Lanes.self)
                                c += Lanes.scalarCount
                            }
                            while c < inW { line[c] = max(line[c], row[c]); c += 1 }
                        }
                        let destination = output.baseAddress! + (p * outH + i) * outW
                        func window(_ j: Int) -> Float {
                            let c0 = max(j * stride - padding, 0), c1 = min(j * stride - padding + kernel, inW)
                            var m = line[c0]
                            for c in c0 + 1 ..< c1 { m = max(m, line[c]) }
                            return m
                        }
                        var j = 0
                        while j < vectorStart && j < outW { destination[j] = window(j); j += 1 }
                        while j + Lanes.scalarCount <= outW && 2 * j - padding + kernel + 14 < inW {
                            let first = UnsafeRawPointer(lineBase + 2 * j - padding)
                            var m = first.loadUnaligned(as: SIMD16<Float>.self).evenHalf
                            for c in 1..<kernel {
                                let v = first.loadUnaligned(fromByteOffset: c * 4, as: SIMD16<Float>.self).evenHalf
                                m = m.replacing(with: v, where: v .>= m)
                            }
                            UnsafeMutableRawPointer(destination + j).storeBytes(of: m, as: Lanes.self)
                            j += Lanes.scalarCount
                        }
                        while j < outW { destination[j] = window(j); j += 1 }
                    }
                }
            }
        }
    }
    return out
}

/// Average pooling over `[N, C, H, W]` with PyTorch `AvgPool2d` semantics
/// (`ceil_mode=False`). With `countIncludePad` the divisor is `kernel²`;
/// without it, the number of window cells inside the image.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0,
                      countIncludePad: Bool = true) -> Tensor {
    slidingWindow(x, kernel: kernel, stride: stride, padding: padding) { plane, width, rows, columns in
        var sum: Float = 0
        for r in rows {
            for c in columns { sum += plane[r * width + c] }
        }
        return sum / Float(countIncludePad ? kernel * kernel : rows.count * columns.count)
    }
}

/// Adaptive average pooling over `[N, C, H, W]` to `height × width`, with
/// PyTorch's bins: output cell `i` averages input rows
/// `floor(i·H/height) ..< ceil((i+1)·H/height)`, likewise for columns.
public func adaptiveAvgPool2d(_ x: Tensor, height: Int, width: Int) -> Tensor {
    precondition(x.rank == 4, "adaptiveAvgPool2d expects [N, C, H, W], got \(x.shape)")
    let (planes, inH, inW) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    var out = Tensor(shape: [x.shape[0], x.shape[1], height, width])
    for p in 0..<planes {
        let base = p * inH * inW
        for i in 0..<height {
            let r0 = i * inH / height, r1 = ((i + 1) * inH + height - 1) / height
            for j in 0..<width {
                let c0 = j * inW / width, c1 = ((j + 1) * inW + width - 1) / width
                var sum: Float = 0
                for r in r0..<r1 {
                    for c in c0..<c1 { sum += x.data[base + r * inW + c] }
                }
                out.data[(p * height + i) * width + j] = sum / Float((r1 - r0) * (c1 - c0))
            }
        }
    }
    return out
}

/// The output height and width of pooling `x` `[N, C, H, W]` (`ceil_mode=False`).
private func poolingOutputSize(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> (Int, Int) {
    precondition(x.rank == 4, "pooling expects [N, C, H, W], got \(x.shape)")
    precondition(padding <= kernel / 2, "padding \(padding) exceeds half the kernel \(kernel)")
    return ((x.shape[2] + 2 * padding - kernel) / stride + 1, (x.shape[3] + 2 * padding - kernel) / stride + 1)
}

/// The sliding-window loop of average pooling over `[N, C, H, W]`: `reduce` gets one input
/// plane, its width, and the in-image rows and columns of a window.
@inline(__always)
private func slidingWindow(
    _ x: Tensor, kernel: Int, stride: Int, padding: Int,
    reduce: (UnsafePointer<Float>, Int, Range<Int>, Range<Int>) -> Float
) -> Tensor {
    let (outH, outW) = poolingOutputSize(x, kernel: kernel, stride: stride, padding: padding)
    let (planes, inH, inW) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    var out = Tensor(shape: [x.shape[0], x.shape[1], outH, outW])
    x.data.withUnsafeBufferPointer { input in
        out.data.withUnsafeMutableBufferPointer { output in
            for p in 0..<planes {
                let plane = input.baseAddress! + p * inH * inW
                for i in 0..<outH {
                    let r0 = i * stride - padding
                    let rows = max(r0, 0) ..< min(r0 + kernel, inH)
                    for j in 0..<outW {
                        let c0 = j * stride - padding
                        let columns = max(c0, 0) ..< min(c0 + kernel, inW)
                        output[(p * outH + i) * outW + j] = reduce(plane, inW, rows, columns)
                    }
                }
            }
        }
    }
    return out
}

/// The mean of every channel plane of `[N, C, H, W]`: `[N, C]`, each summed in `Double`
/// in row-major order and rounded to `Float` once (global average pooling).
public func channelMeans(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "channelMeans expects [N, C, H, W], got \(x.shape)")
    let (planes, plane) = (x.shape[0] * x.shape[1], x.shape[2] * x.shape[3])
    var out = Tensor(shape: [x.shape[0], x.shape[1]])
    x.data.withUnsafeBufferPointer { input in
        for p in 0..<planes {
            var sum: Double = 0
            for i in 0..<plane { sum += Double(input[p * plane + i]) }
            out.data[p] = Float(sum / Double(plane))
        }
    }
    return out
}
