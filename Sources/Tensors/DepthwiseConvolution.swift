import Dispatch

extension Conv2D {
    /// Depthwise convolution (one input channel per group): channel `c` of the output reads
    /// channel `c` of the input only. One job per image, channel after channel: the channel is
    /// copied, zero-padded, into this thread's scratch as `stride` column phases (phase `p` holds
    /// padded columns `p`, `p + stride`, …), so every tap of eight adjacent outputs is one
    /// contiguous load at an offset computed once per call. Each output is summed in a register
    /// in the order bias, then taps row by row, and written once (``DepthwiseRows``).
    func depthwise(_ x: Tensor, into out: inout Tensor) {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (out.shape[2], out.shape[3])
        let (kh, kw) = (kernelHeight, kernelWidth)
        let (s, d, top, left) = (stride, dilation, padding.top, padding.left)
        // Padded rows read, and columns per phase.
        let rows = (outH - 1) * s + (kh - 1) * d + 1
        let phaseWidth = DepthwiseRows.readWidth(outW: outW) + (kw - 1) * d / s
        // Tap (ki, kj) of output (oh, ow) reads phase (kj · d) % s, padded row oh · s + ki · d,
        // phase column ow + (kj · d) / s.
        let taps = (0..<kh * kw).map { t -> Int in
            let (ki, column) = (t / kw, t % kw * d)
            return ((column % s) * rows + ki * d) * phaseWidth + column / s
        }
        // Column x of phase p is input column x · s + p − left: inside the image for x in `inside`
        // (the same for every row).
        let phases = (0..<s).map { phase -> (offset: Int, inside: Range<Int>) in
            let first = left - phase
            let lo = min(first <= 0 ? 0 : (first + s - 1) / s, phaseWidth)
            let last = width - 1 + first  // column x is inside while x · s ≤ last
            let hi = last < 0 ? lo : max(lo, min(phaseWidth, last / s + 1))
            return (phase - left, lo..<hi)
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
                                    if iy >= 0 && iy < height {
                                        copyRow(src + iy * width + phases[phase].offset, stride: s, into: line,
                                                count: phaseWidth, inside: phases[phase].inside)
                                    } else {
                                        line.update(repeating: 0, count: phaseWidth)
                                    }
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
///
/// Outputs go in SIMD groups of eight: groups start at multiples of eight, the last at
/// `outW − 8` (overlapping its neighbour, whose outputs it recomputes bit for bit), so every
/// store is a whole group inside its row. Two groups of a row are summed at once, each weight
/// loaded once for both. (Two rows at once, eight independent sums, measured slower in the
/// network on this 2-core AMD EPYC: SSE registers run out.)
private struct DepthwiseRows {
    typealias Lanes = SIMD8<Float>

    /// Offset of each tap, row-major over the kernel, from the read position of output (0, 0).
    let taps: [Int]
    /// Floats between the read positions of output rows `oh` and `oh + 1`.
    let rowStep: Int
    let outH: Int
    let outW: Int
    /// The activation as a clamp (``Activation/bounds``).
    let bounds: (lower: Lanes, upper: Lanes)
    /// First columns of the pairs of groups summed together (an odd last group pairs with
    /// itself); `[(0, 0)]` when the row is narrower than a group.
    let groupPairs: [(Int, Int)]

    init(taps: [Int], rowStep: Int, outH: Int, outW: Int, bounds: (lower: Lanes, upper: Lanes)) {
        self.taps = taps
        self.rowStep = rowStep
        self.outH = outH
        self.outW = outW
        self.bounds = bounds
        let lanes = Lanes.scalarCount
        let groups = Swift.stride(from: 0, to: outW, by: lanes).map { min($0, max(outW - lanes, 0)) }
        groupPairs = Swift.stride(from: 0, to: groups.count, by: 2).map { (groups[$0], groups[min($0 + 1, groups.count - 1)]) }
    }

    /// Columns of a phase row that the groups read before the kernel's reach is added: `outW`
    /// rounded up to whole groups (a row narrower than a group is read as one group).
    static func readWidth(outW: Int) -> Int {
        (outW + Lanes.scalarCount - 1) / Lanes.scalarCount * Lanes.scalarCount
    }

    /// `[outH, outW]` at `output` from the phases at `padded`, `weights` `[kH · kW]` row-major.
    func run(_ padded: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: Float,
             into output: UnsafeMutablePointer<Float>) {
        taps.withUnsafeBufferPointer { taps in
            for oh in 0..<outH {
                let row = padded + oh * rowStep, line = output + oh * outW
                for (a, b) in groupPairs {
                    // Outputs a ..< a + 8 and b ..< b + 8, each summed in the order bias, then taps row by row.
                    var sum0 = Lanes(repeating: bias), sum1 = sum0
                    for t in taps.indices {
                        let w = Lanes(repeating: weights[t])
                        let tap = row + taps[t]
                        sum0 += w * UnsafeRawPointer(tap + a).loadUnaligned(as: Lanes.self)
                        sum1 += w * UnsafeRawPointer(tap + b).loadUnaligned(as: Lanes.self)
                    }
                    store(sum0, line + a)
                    store(sum1, line + b)
                }
            }
        }
    }

    /// The activation of `sum` at `destination`: eight outputs, or the row's `outW` when it is narrower.
    @inline(__always)
    private func store(_ sum: Lanes, _ destination: UnsafeMutablePointer<Float>) {
        let value = clamp(sum, lower: bounds.lower, upper: bounds.upper)
        if outW >= Lanes.scalarCount {
            UnsafeMutableRawPointer(destination).storeBytes(of: value, as: Lanes.self)
        } else {
            for l in 0..<outW { destination[l] = value[l] }
        }
    }
}
