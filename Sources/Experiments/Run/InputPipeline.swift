import Backbones
import Datasets
import EmbeddingCache
import Foundation
import Images
import Tensors

/// How a sample becomes the backbone's input: decode, RGB (gray replicated), shorter side
/// resized to `resize` (PIL bilinear, torchvision `Resize(int)`), centre crop
/// `inputSize × inputSize`, then the backbone's own normalisation.
struct InputPipeline: Sendable {
    var preprocessing: Backbones.Preprocessing

    init(_ spec: BackboneSpec, backbone: Backbone) {
        preprocessing = Backbones.Preprocessing(
            resize: .shorterSideThenCenterCrop(shorterSide: spec.resize, crop: spec.inputSize),
            normalization: backbone.preprocessing.normalization)
    }

    var inputSize: Int { preprocessing.inputSize }

    /// The decoded sample, RGB, 0…255, before any geometry.
    func decode(_ sample: Sample) throws -> Image {
        switch sample.image {
        case .file(let url): return try Image(contentsOf: url, colorMode: .rgb)
        case .pixels(let image): return image.converted(to: .rgb)
        }
    }

    /// `image` resized and cropped to `[C, inputSize, inputSize]`: what the network sees
    /// and what heatmaps are drawn over. `source` names the image in errors.
    func geometry(_ image: Image, source: String, filter: Image.ResizeFilter = .bilinear) throws -> Image {
        guard case let .shorterSideThenCenterCrop(shorterSide, crop) = preprocessing.resize else {
            preconditionFailure("the pipeline always resizes the shorter side, then crops")
        }
        try ImageLimits.fromEnvironment()
            .checkResize(width: image.width, height: image.height, shorterSide: shorterSide, source: source)
        return image.resized(shorterSide: shorterSide, filter: filter).centerCropped(width: crop, height: crop)
    }

    /// The network input `[3, inputSize, inputSize]` of `sample`, transformed by
    /// `augmentation` when given.
    func input(_ sample: Sample, augmentation: Augmentation? = nil) throws -> Tensor {
        let input = try preprocessing.input(for: try decode(sample), source: source(sample))
        return augmentation.map { transformed(input, $0) } ?? input
    }

    /// How errors name `sample`: its file's path, or its id for in-memory pixels.
    func source(_ sample: Sample) -> String {
        if case .file(let url) = sample.image { return url.path }
        return sample.id
    }

    /// The sample's ground-truth mask on the anomaly-map grid (`inputSize²`, row-major,
    /// true = anomalous): the mask file with the image's geometry (nearest), or all false
    /// when the sample has none.
    func mask(_ sample: Sample) throws -> [Bool] {
        guard let url = sample.maskURL else { return [Bool](repeating: false, count: inputSize * inputSize) }
        let mask = try geometry(try Image(contentsOf: url, colorMode: .gray), source: url.path, filter: .nearest)
        return mask.pixels.data.map { $0 >= 128 }
    }

    /// The preprocessing as the embedding cache's key records it.
    var cacheDescription: FeatureKey.Preprocessing {
        guard case let .shorterSideThenCenterCrop(shorterSide, crop) = preprocessing.resize else {
            preconditionFailure("the pipeline always resizes the shorter side, then crops")
        }
        let mean: [Float], std: [Float]
        switch preprocessing.normalization {
        case .centered:
            (mean, std) = ([127, 127, 127], [128, 128, 128])
        case .imageNet:
            (mean, std) = ([0.485, 0.456, 0.406].map { $0 * 255 }, [0.229, 0.224, 0.225].map { $0 * 255 })
        }
        return FeatureKey.Preprocessing(
            resize: [shorterSide, shorterSide], resizeFilter: "pil-bilinear-shorter-side", centerCrop: [crop, crop],
            color: "rgb", mean: mean, std: std)
    }
}

/// `input` (`[C, S, S]`) mirrored or rotated; output pixel (y, x) reads input pixel
/// hflip (y, S−1−x), vflip (S−1−y, x), rot90 (x, S−1−y) (numpy `rot90`, counter-clockwise).
private func transformed(_ input: Tensor, _ augmentation: Augmentation) -> Tensor {
    let (channels, side) = (input.shape[0], input.shape[1])
    precondition(input.shape[2] == side, "augmentations need a square input")
    var out = Tensor(shape: input.shape)
    for c in 0..<channels {
        let plane = c * side * side
        for y in 0..<side {
            for x in 0..<side {
                let (sourceY, sourceX): (Int, Int)
                switch augmentation {
                case .hflip: (sourceY, sourceX) = (y, side - 1 - x)
                case .vflip: (sourceY, sourceX) = (side - 1 - y, x)
                case .rot90: (sourceY, sourceX) = (x, side - 1 - y)
                }
                out.data[plane + y * side + x] = input.data[plane + sourceY * side + sourceX]
            }
        }
    }
    return out
}

/// The content digest of a sample's pixels: the file's bytes, or the in-memory values.
func contentSHA256(_ sample: Sample) throws -> String {
    switch sample.image {
    case .file(let url): return try ImageSetFingerprint.contentSHA256(ofFile: url)
    case .pixels(let image): return ImageSetFingerprint.contentSHA256(ofPixels: image.pixels)
    }
}
