import Tensors

/// A decoded image: pixel values as a `Tensor` of shape `[C, H, W]`.
///
/// `C` is 1 (gray) or 3 (RGB). Values are `Float` on the 0…255 scale: 8-bit samples keep their
/// integer values, 16-bit samples are scaled by 255/65535. Alpha channels are dropped when
/// decoding (not composited over a background), as PIL's `convert("RGB")` / `convert("L")` do.
public struct Image: Equatable, Sendable {
    /// Pixel values, `[C, H, W]`, 0…255 scale.
    public private(set) var pixels: Tensor

    /// Wraps pixel values `[C, H, W]` with `C` 1 or 3.
    public init(pixels: Tensor) {
        precondition(pixels.rank == 3 && (pixels.shape[0] == 1 || pixels.shape[0] == 3),
                     "Image pixels must be [C, H, W] with C = 1 or 3, got \(pixels.shape)")
        self.pixels = pixels
    }

    /// Number of channels: 1 (gray) or 3 (RGB).
    public var channels: Int { pixels.shape[0] }
    /// Height in pixels.
    public var height: Int { pixels.shape[1] }
    /// Width in pixels.
    public var width: Int { pixels.shape[2] }

    /// Which channels to produce.
    public enum ColorMode: Sendable {
        /// Three channels; gray images are replicated.
        case rgb
        /// One channel; colour images are converted with PIL's luma weights.
        case gray
        /// As stored: one channel for gray (± alpha), three for colour and palette images.
        case original
    }

    /// This image with the channels `mode` asks for.
    ///
    /// RGB → gray follows PIL's `convert("L")`: L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16,
    /// i.e. 0.299 R + 0.587 G + 0.114 B rounded half up to a whole level. Gray → RGB replicates.
    public func converted(to mode: ColorMode) -> Image {
        switch (mode, channels) {
        case (.original, _), (.rgb, 3), (.gray, 1):
            return self
        case (.rgb, _):
            return Image(pixels: Tensor(shape: [3, height, width], data: pixels.data + pixels.data + pixels.data))
        case (.gray, _):
            let plane = height * width
            var gray = [Float](repeating: 0, count: plane)
            pixels.data.withUnsafeBufferPointer { rgb in
                for i in 0..<plane {
                    gray[i] = Float(luma(Double(rgb[i]), Double(rgb[plane + i]), Double(rgb[2 * plane + i])))
                }
            }
            return Image(pixels: Tensor(shape: [1, height, width], data: gray))
        }
    }
}

/// PIL's RGB → L conversion in 16-bit fixed point:
/// ⌊(19595 r + 38470 g + 7471 b + 32768) / 65536⌋, exact for integer samples of any depth.
func luma(_ r: Double, _ g: Double, _ b: Double) -> Double {
    ((19595 * r + 38470 * g + 7471 * b + 32768) / 65536).rounded(.down)
}
