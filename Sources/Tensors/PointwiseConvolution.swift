import Dispatch

extension Conv2D {
    /// Whether the layer is a 1×1, stride-1, unpadded, ungrouped convolution, which
    /// ``pointwise(_:into:)`` computes on the input as it lies, without im2col.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == .uniform(0) && groups == 1
    }

    /// A 1×1 convolution: per image, the output starts as the bias and `[O, C] · [C, H · W]`
    /// is added to it by one sgemm straight from the input (`beta` 1, so OpenBLAS makes no
    /// zeroing pass and no pass adds the bias afterwards; where OpenBLAS splits a long sum
    /// over `C` in panels, the bias joins the first panel's partial sum), then the activation
    /// in one SIMD pass, with the `ending`, if any. One job per image, so an image's bits never
    /// depend on its batch.
    func pointwise(_ x: Tensor, ending: ResidualEnding?, into out: inout Tensor) {
        let (n, plane) = (x.shape[0], x.shape[2] * x.shape[3])
        let (inputs, outputs) = (inputChannels, outputChannels)
        x.data.withUnsafeBufferPointer { input in
            weight.data.withUnsafeBufferPointer { w in
                out.data.withUnsafeMutableBufferPointer { output in
                    let (inBase, wBase, outBase) = (input.baseAddress!, w.baseAddress!, output.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: n) { image in
                        let result = outBase + image * outputs * plane
                        if let bias {
                            for o in 0..<outputs { (result + o * plane).update(repeating: bias[o], count: plane) }
                        }
                        sgemm(m: outputs, n: plane, k: inputs, a: wBase, lda: inputs,
                              b: inBase + image * inputs * plane, ldb: plane, beta: bias == nil ? 0 : 1,
                              c: result, ldc: plane)
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
