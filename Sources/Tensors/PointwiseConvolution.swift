import CConvolutionKernels
import Dispatch

extension Conv2D {
    /// Whether the layer is a 1×1, stride-1, unpadded, ungrouped convolution, which
    /// ``pointwise(_:ending:into:)`` computes on the input as it lies, without im2col.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .uniform(0) && groups == 1
    }

    /// Whether a 1×1 convolution to `outputs` channels over a plane of `plane` pixels runs on
    /// Trawl's own GEMM (``trawl_gemm_unpacked``) rather than OpenBLAS: where it measured
    /// faster (a shape's choice, never the batch's or the thread count's). With 48 or fewer
    /// outputs (EfficientNet-Lite0's projections at 112² to 28²), OpenBLAS's packing of the
    /// image on every call and its passes over the output (bias first, ending after) weigh on a
    /// short product, while Trawl's GEMM reads the image as it lies and ends each output as it
    /// stores it: one thread, mostly 10–30 % faster with the output's pages mapped, up to 11 %
    /// when the call faults them in. Elsewhere OpenBLAS's higher peak wins or ties: Lite0's
    /// expansions (level on fresh pages, and the whole network measured no faster with them),
    /// its 14² layers and WRN-50-2's bottlenecks (mostly 5–20 % slower).
    static func pointwiseRunsOnTrawlGEMM(outputs: Int, plane: Int) -> Bool {
        outputs <= 48 && plane >= 784
    }

    /// A 1×1 convolution, one job per image (so an image's bits never depend on its batch):
    /// per image, `[O, C] · [C, H · W]` straight from the input. On Trawl's GEMM
    /// (``pointwiseRunsOnTrawlGEMM(outputs:plane:)``), each output is one FMA chain over `C`
    /// from 0, then the bias is added, the activation and the `ending`, if any, applied as it is
    /// stored. On OpenBLAS, the output starts as the bias and one sgemm adds the product to it
    /// (`beta` 1, so no zeroing pass and no pass adding the bias; where OpenBLAS splits a long
    /// sum over `C` in panels, the bias joins the first panel's partial sum), then the
    /// activation and the `ending` in one SIMD pass.
    func pointwise(_ x: Tensor, ending: ResidualEnding?, into out: inout Tensor) {
        let (n, plane) = (x.shape[0], x.shape[2] * x.shape[3])
        let (inputs, outputs) = (inputChannels, outputChannels)
        let onTrawlGEMM = Self.pointwiseRunsOnTrawlGEMM(outputs: outputs, plane: plane)
        let (lower, upper) = activation.bounds
        let (finalLower, finalUpper) = ending?.activation.bounds ?? (lower, upper)
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    (bias ?? []).withUnsafeBufferPointer { biasValues in
                        let (inBase, wBase, outBase) = (input.baseAddress!, w.baseAddress!, output.baseAddress!)
                        DispatchQueue.concurrentPerform(iterations: n) { image in
                            let result = outBase + image * outputs * plane
                            let imageInput = inBase + image * inputs * plane
                            if onTrawlGEMM {
                                var outputEnding = TrawlOutputEnding(
                                    bias: bias == nil ? nil : biasValues.baseAddress, lower: lower[0], upper: upper[0],
                                    shortcut: ending.map { $0.shortcut + image * outputs * plane },
                                    finalLower: finalLower[0], finalUpper: finalUpper[0])
                                trawl_gemm_unpacked(outputs, plane, inputs, wBase, inputs, imageInput, plane, result, plane,
                                                    &outputEnding)
                                return
                            }
                            if let bias {
                                for o in 0..<outputs { (result + o * plane).update(repeating: bias[o], count: plane) }
                            }
                            sgemm(m: outputs, n: plane, k: inputs, a: wBase, lda: inputs,
                                  b: imageInput, ldb: plane, beta: bias == nil ? 0 : 1, c: result, ldc: plane)
                            if activation != .identity || ending != nil {
                                activation.apply(result, into: result, count: outputs * plane, adding: nil,
                                                 ending: ending?.advanced(by: image * outputs * plane))
                            }
                        }
                    }
                }
            }
        }
    }
}
