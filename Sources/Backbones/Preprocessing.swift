import Images
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

    /// The network input `[3, S, S]` for `image` (gray images are replicated to RGB).
    ///
    /// - Throws: `ImageError` naming `source` when resizing the shorter side would make an
    ///   image over `limits` (default: ``ImageLimits/fromEnvironment(_:)``).
    public func input(for image: Image, source: String, limits: ImageLimits? = nil) throws -> Tensor {
        let rgb = image.converted(to: .rgb)
        let sized: Image
        switch resize {
        case let .stretch(size):
            sized = rgb.resized(width: size, height: size)
        case let .shorterSideThenCenterCrop(shorterSide, crop):
            try (limits ?? ImageLimits.fromEnvironment())
                .checkResize(width: image.width, height: image.height, shorterSide: shorterSide, source: source)
            sized = rgb.resized(shorterSide: shorterSide).centerCropped(width: crop, height: crop)
        }
        return normalized(sized)
    }

    /// `image` (RGB, 0…255, any size) with this normalisation: `[3, H, W]`.
    public func normalized(_ image: Image) -> Tensor {
        switch normalization {
        case .centered:
            return image.normalized(offset: 127, scale: 128)
        case .imageNet:
            return image.normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        }
    }
}
