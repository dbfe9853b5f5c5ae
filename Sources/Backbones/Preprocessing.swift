import Tensors

/// How an RGB image becomes a backbone's input `[3, S, S]`.
public struct Preprocessing: Sendable, Equatable {
    /// Geometry: how the decoded image is brought to the input size.
    public enum Resize: Sendable, Equatable {
        /// Resize to `size × size`, ignoring the aspect ratio (PIL bilinear).
        case stretch(size: Int)
        /// Resize so the shorter side is `shorterSide` (aspect ratio kept,
        /// PIL bilinear), then cut the central `crop × crop` (torchvision
        /// `Resize(shorterSide)` + `CenterCrop(crop)`).
        case shorterSideThenCenterCrop(shorterSide: Int, crop: Int)
    }

    /// Pixel values: from 0…255 RGB to network input.
    public enum Normalization: Sendable, Equatable {
        /// `(x − 127) / 128`, as the TF-Lite EfficientNet-Lite models were trained.
        case centered
        /// `(x / 255 − mean) / std` with ImageNet's per-channel statistics
        /// (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225), as torchvision.
        case imageNet
    }

    public let resize: Resize
    public let normalization: Normalization

    public init(resize: Resize, normalization: Normalization) {
        self.resize = resize
        self.normalization = normalization
    }

    /// Side of the square network input, in pixels.
    public var inputSize: Int {
        switch resize {
        case let .stretch(size): return size
        case let .shorterSideThenCenterCrop(_, crop): return crop
        }
    }

    /// Per-channel `(offset, scale)` so that input = (x − offset) · scale for x in 0…255.
    var channelAffine: [(offset: Float, scale: Float)] {
        switch normalization {
        case .centered:
            return Array(repeating: (127, 1 / 128), count: 3)
        case .imageNet:
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            return (0..<3).map { (255 * mean[$0], 1 / (255 * std[$0])) }
        }
    }

    /// Normalises RGB pixel values in 0…255, `[3, H, W]` or `[N, 3, H, W]`.
    public func normalize(_ pixels: Tensor) -> Tensor {
        precondition(pixels.rank >= 3 && pixels.shape[pixels.rank - 3] == 3,
                     "normalize expects [3, H, W] or [N, 3, H, W], got \(pixels.shape)")
        let plane = pixels.shape[pixels.rank - 2] * pixels.shape[pixels.rank - 1]
        let affine = channelAffine
        var out = pixels
        for i in 0..<out.count {
            let (offset, scale) = affine[(i / plane) % 3]
            out.data[i] = (out.data[i] - offset) * scale
        }
        return out
    }
}
