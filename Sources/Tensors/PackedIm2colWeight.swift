import CGemmKernels

/// The weight of a convolution that runs as im2col on Trawl's own GEMM (``trawl_gemm``):
/// its `[O, C · kH · kW]` matrix packed once, when the layer is built, into the kernel's
/// panels of six rows, so no product packs it again. `Conv2D`'s im2col writes the patch
/// matrix straight into the kernel's 16-column panels, and every output is one multiply-add
/// chain over its patch whatever the image's size.
struct PackedIm2colWeight: Sendable {
    /// Columns of a packed right operand's panel (the patch matrix's layout).
    static let panelColumns = Int(TRAWL_GEMM_PANEL_COLUMNS)

    let packed: [Float]

    /// Whether an im2col layer runs on Trawl's GEMM: ungrouped with at least 64 output
    /// channels (the ResNets' stems, strided 3×3 and strided 1×1 shortcuts). EfficientNet-Lite's
    /// and MobileNetV2's stems (32 outputs) stay on OpenBLAS, so their results keep their bits.
    /// Depends on the layer's shape only, never on the batch or the thread count.
    static func applies(weight: Tensor, groups: Int) -> Bool {
        groups == 1 && weight.shape[0] >= 64
    }

    /// Packs `weight` `[O, C, kH, kW]`.
    init(weight: Tensor) {
        let (outputs, depth) = (weight.shape[0], weight.count / weight.shape[0])
        let count = trawl_gemm_packed_left_count(outputs, depth)
        packed = weight.data.withUnsafeBufferPointer { w in
            [Float](unsafeUninitializedCapacity: count) { packed, initialized in
                trawl_gemm_pack_left(w.baseAddress!, outputs, depth, depth, packed.baseAddress!)
                initialized = count
            }
        }
    }
}
