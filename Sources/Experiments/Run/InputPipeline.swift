import Backbones
import Datasets
import EmbeddingCache
import Foundation
import Images
import Tensors

/// How a sample becomes the backbone's input: decode, RGB (gray replicated), then either
/// shorter side resized to `resize` (PIL bilinear, torchvision `Resize(int)`) and a centre
/// crop `inputSize × inputSize`, or (with `tiling`) the whole image resized by
/// `tiling.scale` and cut into tiles; then the backbone's own normalisation.
struct InputPipeline: Sendable {
    var preprocessing: Backbones.Preprocessing
    /// Full-resolution tiled extraction; nil = resize + centre crop.
    var tiling: Tiling?

    init(_ spec: BackboneSpec, backbone: Backbone) {
        preprocessing = Backbones.Preprocessing(
            resize: .shorterSideThenCenterCrop(shorterSide: spec.resize, crop: spec.inputSize),
            normalization: backbone.preprocessing.normalization)
        tiling = spec.tiling
    }

    /// The decoded sample, RGB, 0…255, before any geometry.
    func decode(_ sample: Sample) throws -> Image {
        switch sample.image {
        case .file(let url): return try Image(contentsOf: url, colorMode: .rgb)
        case .pixels(let image): return image.converted(to: .rgb)
        }
    }

    /// `image` resized and cropped to `[C, inputSize, inputSize]`, or scaled by the tiling:
    /// what the network sees, the anomaly map's grid and what heatmaps are drawn over.
    /// `source` names the image in errors (a result over the image limits).
    func geometry(_ image: Image, source: String, filter: Image.ResizeFilter = .bilinear) throws -> Image {
        let limits = try ImageLimits.fromEnvironment()
        if let tiling {
            let scaled = tiling.scaledSize(width: image.width, height: image.height)
            try limits.checkResize(width: image.width, height: image.height,
                                   shorterSide: min(scaled.width, scaled.height), source: source)
            return tiling.scaled(image, filter: filter)
        }
        guard case let .shorterSideThenCenterCrop(shorterSide, crop) = preprocessing.resize else {
            preconditionFailure("the pipeline always resizes the shorter side, then crops")
        }
        try limits.checkResize(width: image.width, height: image.height, shorterSide: shorterSide, source: source)
        return image.resized(shorterSide: shorterSide, filter: filter).centerCropped(width: crop, height: crop)
    }

    /// The network input of `sample`: `[3, inputSize, inputSize]`, transformed by
    /// `augmentation` when given, or with tiling the whole scaled image `[3, H, W]` (to be
    /// cut by `Backbone.features(tiled:tiling:taps:)`; tiling takes no augmentation).
    func input(_ sample: Sample, augmentation: Augmentation? = nil) throws -> Tensor {
        let image = try decode(sample)
        guard tiling != nil else {
            let input = try preprocessing.input(for: image, source: source(sample))
            return augmentation.map { transformed(input, $0) } ?? input
        }
        precondition(augmentation == nil, "augmentations apply to the resize + centre crop input only")
        return preprocessing.normalized(try geometry(image, source: source(sample)))
    }

    /// How errors name `sample`: its file's path, or its id for in-memory pixels.
    func source(_ sample: Sample) -> String {
        if case .file(let url) = sample.image { return url.path }
        return sample.id
    }

    /// `[height, width]` of the anomaly maps of `sample`, pixels: the crop side, or with
    /// tiling the scaled image (decoded to learn its size; throws when it is smaller than a tile).
    func mapSize(_ sample: Sample) throws -> (height: Int, width: Int) {
        guard let tiling else { return (preprocessing.inputSize, preprocessing.inputSize) }
        let image = try decode(sample)
        let size = tiling.scaledSize(width: image.width, height: image.height)
        guard size.width >= tiling.tile, size.height >= tiling.tile else {
            throw RunError("\(sample.id): \(size.width)×\(size.height) px after scaling by \(tiling.scale), "
                           + "smaller than the \(tiling.tile) px tile")
        }
        return (size.height, size.width)
    }

    /// The sample's ground-truth mask on the anomaly-map grid (`height · width`, row-major,
    /// true = anomalous): the mask file with the image's geometry (nearest), or all false
    /// when the sample has none.
    func mask(_ sample: Sample, height: Int, width: Int) throws -> [Bool] {
        guard let url = sample.maskURL else { return [Bool](repeating: false, count: height * width) }
        let mask = try geometry(try Image(contentsOf: url, colorMode: .gray), source: url.path, filter: .nearest)
        guard (mask.height, mask.width) == (height, width) else {
            throw RunError("\(url.path): the mask is \(mask.width)×\(mask.height) px after the image geometry, the anomaly map \(width)×\(height)")
        }
        return mask.pixels.data.map { $0 >= 128 }
    }

    /// The preprocessing as the embedding cache's key records it (untiled keys are exactly
    /// what they were before tiling existed).
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
        guard let tiling else {
            return FeatureKey.Preprocessing(
                resize: [shorterSide, shorterSide], resizeFilter: "pil-bilinear-shorter-side", centerCrop: [crop, crop],
                color: "rgb", mean: mean, std: std)
        }
        return FeatureKey.Preprocessing(
            resize: [], resizeFilter: "pil-bilinear-scale", centerCrop: [], color: "rgb", mean: mean, std: std,
            tiling: FeatureKey.Tiling(tile: tiling.tile, stride: tiling.stride, scale: tiling.scale,
                                      stitching: "most-central-tile"))
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
