import CGemmKernels
import Dispatch

extension Conv2D {
    /// Depthwise convolution (one input channel per group): channel `c` of the output reads
    /// channel `c` of the input only. One job per image, channel after channel: the channel is
    /// copied, zero-padded, into this thread's scratch as `stride` column phases (phase `p` holds
    /// padded columns `p`, `p + stride`, …), so every tap of eight adjacent outputs is one
    /// contiguous load at an offset computed once per call. Each output is summed in a register
    /// in the order bias, then taps row by row (each product rounded, then added), clamped to
    /// the activation and written once, by `trawl_depthwise_channel` (AVX2 where the CPU has it,
    /// the same bits without).
    func depthwise(_ x: Tensor, into out: inout Tensor) {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (out.shape[2], out.shape[3])
        let (kh, kw) = (kernelHeight, kernelWidth)
        let (s, d, top, left) = (stride, dilation, padding.top, padding.left)
        // Padded rows read, and columns per phase.
        let rows = (outH - 1) * s + (kh - 1) * d + 1
        // The kernel reads whole groups of outputs (a row narrower than a group as one group).
        let group = Int(TRAWL_DEPTHWISE_GROUP)
        let phaseWidth = (outW + group - 1) / group * group + (kw - 1) * d / s
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
        let bounds = activation.bounds  // every lane the same
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    taps.withUnsafeBufferPointer { taps in
                        let inBase = input.baseAddress!, wBase = w.baseAddress!, outBase = output.baseAddress!
                        var geometry = TrawlDepthwiseChannel(taps: taps.baseAddress, tapCount: taps.count,
                                                             rowStep: s * phaseWidth, outH: outH, outW: outW,
                                                             lower: bounds.lower[0], upper: bounds.upper[0])
                        withUnsafePointer(to: &geometry) { channel in
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
                                    trawl_depthwise_channel(channel, padded, wBase + c * kh * kw, bias?[c] ?? 0,
                                                            outBase + (image * channels + c) * outH * outW)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
