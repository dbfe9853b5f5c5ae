import CConvolutionKernels
import Dispatch

extension Conv2D {
    /// Whether the layer is a 1×1, stride-1, unpadded, ungrouped convolution, which
    /// ``pointwise(_:ending:into:)`` computes on the input as it lies, without im2col.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .uniform(0) && groups == 1
    }

    /// Whether a 1×1 convolution to `outputs` channels over a plane of `plane` pixels reads the
    /// image as it lies (``trawl_gemm_unpacked``) rather than copying it block by block into
    /// ``trawl_gemm``'s panels first, with its weights packed once (``trawl_gemm_packing``): a
    /// shape's choice, never the batch's or the thread count's. With 48 or fewer outputs
    /// (EfficientNet-Lite0's projections at 112² to 28²) a block of the image meets at most eight
    /// register blocks of weights, and reading it as it lies measured faster than OpenBLAS there;
    /// everything else (ResNet bottlenecks, expansions) copies.
    static func pointwiseReadsImageUnpacked(outputs: Int, plane: Int) -> Bool {
        outputs <= 48 && plane >= 784
    }

    /// A 1×1 convolution, one job per image (so an image's bits never depend on its batch):
    /// per image, `[O, C] · [C, H · W]` from the input on Trawl's GEMM: each output is one FMA
    /// chain over `C` from 0, then the bias is added, the activation and the `ending`, if any,
    /// applied as it is stored (no pass over the output of its own; both kernels give the same
    /// bits).
    func pointwise(_ x: Tensor, ending: ResidualEnding?, into out: inout Tensor) {
        let (n, plane) = (x.shape[0], x.shape[2] * x.shape[3])
        let (inputs, outputs) = (inputChannels, outputChannels)
        let unpacked = Self.pointwiseReadsImageUnpacked(outputs: outputs, plane: plane)
        let packedWeight = unpacked ? [] : self.packedWeight!.value
        x.data.withUnsafeBufferPointer { input in
            (unpacked ? weight.data : packedWeight).withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    (bias ?? []).withUnsafeBufferPointer { biasValues in
                        let (inBase, wBase, outBase) = (input.baseAddress!, w.baseAddress!, output.baseAddress!)
                        DispatchQueue.concurrentPerform(iterations: n) { image in
                            let result = outBase + image * outputs * plane
                            let imageInput = inBase + image * inputs * plane
                            var outputEnding = gemmEnding(bias: bias == nil ? nil : biasValues.baseAddress,
                                                          ending: ending?.advanced(by: image * outputs * plane))
                            if unpacked {
                                trawl_gemm_unpacked(outputs, plane, inputs, wBase, inputs, imageInput, plane, result, plane,
                                                    &outputEnding)
                            } else {
                                let scratch = ThreadScratch.forCurrentThread.buffer(trawl_gemm_packing_scratch_count())
                                trawl_gemm_packing(outputs, plane, inputs, wBase, imageInput, plane, result, plane,
                                                   &outputEnding, scratch)
                            }
                        }
                    }
                }
            }
        }
    }

    /// What Trawl's GEMM does to each output it stores for this layer: add `bias` (the layer's
    /// bias from the product's first output channel on, or nil), clamp to ``activation``, then the
    /// residual `ending`, if any (its shortcut from the product's first output on).
    func gemmEnding(bias: UnsafePointer<Float>?, ending: ResidualEnding?) -> TrawlOutputEnding {
        let (lower, upper) = activation.bounds
        let (finalLower, finalUpper) = ending?.activation.bounds ?? (lower, upper)
        return TrawlOutputEnding(bias: bias, lower: lower[0], upper: upper[0], shortcut: ending?.shortcut,
                                 finalLower: finalLower[0], finalUpper: finalUpper[0])
    }

    /// `weight` `[O, C / groups, kH, kW]` as ``trawl_gemm_pack_a`` packs each group's
    /// `[O / groups, C / groups · kH · kW]` left operand, group after group.
    static func packedForGEMM(_ weight: Tensor, groups: Int) -> [Float] {
        let groupOut = weight.shape[0] / groups, depth = weight.count / weight.shape[0]
        let groupCount = trawl_gemm_packed_a_count(groupOut, depth)
        return [Float](unsafeUninitializedCapacity: groups * groupCount) { packed, count in
            weight.data.withUnsafeBufferPointer { w in
                for g in 0..<groups {
                    trawl_gemm_pack_a(groupOut, depth, w.baseAddress! + g * groupOut * depth, depth,
                                      packed.baseAddress! + g * groupCount)
                }
            }
            count = packed.count
        }
    }
}
