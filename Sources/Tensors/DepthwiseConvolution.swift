import CConvolutionKernels
import Dispatch

extension Conv2D {
    /// Depthwise convolution (one input channel per group): channel `c` of the output reads
    /// channel `c` of the input only. One job per image, channel after channel, by
    /// `trawl_depthwise` (AVX2 where the CPU has it, the same bits without): the channel is
    /// copied, zero-padded, into this thread's scratch as `stride` column phases, and each
    /// output is summed in a register in the order bias, then taps row by row (each product
    /// rounded, then added), clamped to the activation and written once.
    func depthwise(_ x: Tensor, into out: inout Tensor) {
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let bounds = activation.bounds  // every lane the same
        var layer = TrawlDepthwiseLayer(height: height, width: width, kernelHeight: kernelHeight,
                                        kernelWidth: kernelWidth, stride: stride, dilation: dilation,
                                        top: padding.top, left: padding.left, outH: out.shape[2], outW: out.shape[3],
                                        lower: bounds.lower[0], upper: bounds.upper[0])
        let scratchCount = trawl_depthwise_scratch_count(&layer)
        let (inPlane, outPlane) = (channels * height * width, channels * out.shape[2] * out.shape[3])
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    withUnsafePointer(to: &layer) { layer in
                        let inBase = input.baseAddress!, wBase = w.baseAddress!, outBase = output.baseAddress!
                        func run(bias: UnsafePointer<Float>?) {
                            DispatchQueue.concurrentPerform(iterations: n) { image in
                                trawl_depthwise(layer, channels, inBase + image * inPlane, wBase, bias,
                                                ThreadScratch.forCurrentThread.buffer(scratchCount),
                                                outBase + image * outPlane)
                            }
                        }
                        if let bias {
                            bias.withUnsafeBufferPointer { run(bias: $0.baseAddress!) }
                        } else {
                            run(bias: nil)
                        }
                    }
                }
            }
        }
    }
}
