import Dispatch

extension Conv2D {
    /// Depthwise convolution (one input channel per group): channel `c` of the output reads
    /// channel `c` of the input only. One job per image, channel after channel: the channel is
    /// copied, zero-padded, into this thread's scratch as `stride` column phases (phase `p` holds
    /// padded columns `p`, `p + stride`, …), so every tap of eight adjacent outputs is one
    /// contiguous load at an offset computed once per call. Sixteen adjacent outputs of a row
    /// are summed in registers in the order bias, then taps row by row, and written once.
    func depthwise(_ x: Tensor, into out: inout Tensor) {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (out.shape[2], out.shape[3])
        let (kh, kw) = (kernelHeight, kernelWidth)
        let (s, d, top, left) = (stride, dilation, padding.top, padding.left)
        let block = DepthwiseRows.block
        // Padded rows read, and columns per phase (the last block of sixteen may overrun outW).
        let rows = (outH - 1) * s + (kh - 1) * d + 1
        let phaseWidth = (outW + block - 1) / block * block + (kw - 1) * d / s
        // Tap (ki, kj) of output (oh, ow) reads phase (kj · d) % s, padded row oh · s + ki · d,
        // phase column ow + (kj · d) / s.
        let taps = (0..<kh * kw).map { t -> Int in
            let (ki, column) = (t / kw, t % kw * d)
            return ((column % s) * rows + ki * d) * phaseWidth + column / s
        }
        let kernel = DepthwiseRows(taps: taps, rowStep: s * phaseWidth, outH: outH, outW: outW,
                                   bounds: activation.bounds)
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    let inBase = input.baseAddress!, wBase = w.baseAddress!, outBase = output.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: n) { image in
                        let padded = ThreadScratch.forCurrentThread.buffer(s * rows * phaseWidth)
                        for c in 0..<channels {
                            let src = inBase + (image * channels + c) * height * width
                            for y in 0..<rows {
                                let iy = y - top
                                for phase in 0..<s {
                                    let line = padded + (phase * rows + y) * phaseWidth
                                    guard iy >= 0 && iy < height else {
                                        line.update(repeating: 0, count: phaseWidth)
                                        continue
                                    }
                                    // Column x of this phase is input column x · s + phase − left: inside for lo..<hi.
                                    let first = left - phase
                                    let lo = min(first <= 0 ? 0 : (first + s - 1) / s, phaseWidth)
                                    let last = width - 1 + first  // column x is inside while x · s ≤ last
                                    let hi = last < 0 ? lo : max(lo, min(phaseWidth, last / s + 1))
                                    copyRow(src + iy * width + phase - left, stride: s, into: line, count: phaseWidth,
                                            inside: lo..<hi)
                                }
                            }
                            kernel.run(padded, weights: wBase + c * kh * kw, bias: bias?[c] ?? 0,
                                       into: outBase + (image * channels + c) * outH * outW)
                        }
                    }
                }
            }
        }
    }
}

/// The inner loop of ``Conv2D/depthwise(_:into:)`` for one channel: every output row from the
/// channel's padded phases.
private struct DepthwiseRows {
    typealias Lanes = SIMD8<Float>
    /// Outputs summed together, two SIMD groups.
    static let block = 2 * Lanes.scalarCount

    /// Offset of each tap, row-major over the kernel, from the read position of output (0, 0).
    let taps: [Int]
    /// Floats between the read positions of output rows `oh` and `oh + 1`.
    let rowStep: Int
    let outH: Int
    let outW: Int
    /// The activation as a clamp (``Activation/bounds``).
    let bounds: (lower: Float, upper: Float)

    /// `[outH, outW]` at `output` from the phases at `padded`, `weights` `[kH · kW]` row-major.
    func run(_ padded: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: Float,
             into output: UnsafeMutablePointer<Float>) {
        let (lower, upper) = (Lanes(repeating: bounds.lower), Lanes(repeating: bounds.upper))
        taps.withUnsafeBufferPointer { taps in
            for oh in 0..<outH {
                let row = padded + oh * rowStep
                let line = output + oh * outW
                for ow in Swift.stride(from: 0, to: outW, by: Self.block) {
                    var sum0 = Lanes(repeating: bias), sum1 = sum0
                    for t in taps.indices {
                        let w = Lanes(repeating: weights[t])
                        let tap = UnsafeRawPointer(row + ow + taps[t])
                        sum0 += w * tap.loadUnaligned(as: Lanes.self)
                        sum1 += w * tap.loadUnaligned(fromByteOffset: MemoryLayout<Lanes>.size, as: Lanes.self)
                    }
                    sum0 = sum0.replacing(with: lower, where: sum0 .< lower).replacing(with: upper, where: sum0 .> upper)
                    sum1 = sum1.replacing(with: lower, where: sum1 .< lower).replacing(with: upper, where: sum1 .> upper)
                    let count = min(Self.block, outW - ow)
                    if count == Self.block {
                        UnsafeMutableRawPointer(line + ow).storeBytes(of: sum0, as: Lanes.self)
                        UnsafeMutableRawPointer(line + ow + Lanes.scalarCount).storeBytes(of: sum1, as: Lanes.self)
                    } else {
                        for l in 0..<count { line[ow + l] = l < Lanes.scalarCount ? sum0[l] : sum1[l - Lanes.scalarCount] }
                    }
                }
            }
        }
    }
}
