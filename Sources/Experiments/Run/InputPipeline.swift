import Backbones
import Checksums
import Datasets
import EmbeddingCache
import Foundation
import Images
import Tensors

/// How a sample becomes the backbone's input: decode, RGB (gray replicated), shorter side
/// resized to `resize` (PIL bilinear, torchvision `Resize(int)` sizes), centre crop
/// `inputSize × inputSize`, then the backbone's normalisation.
struct InputPipeline: Sendable {
    var resize: Int
    var inputSize: Int
    /// The backbone's own normalisation (EfficientNet-Lite `(x − 127) / 128`, ImageNet for ResNets).
    var normalization: Backbones.Preprocessing.Normalization

    init(_ spec: BackboneSpec, backbone: Backbone) {
        resize = spec.resize
        inputSize = spec.inputSize
        normalization = backbone.preprocessing.normalization
    }

    /// The decoded sample, RGB, 0…255, before any geometry.
    func decode(_ sample: Sample) throws -> Image {
        switch sample.image {
        case .file(let url): return try Image(contentsOf: url, colorMode: .rgb)
        case .pixels(let pixels): return Image(pixels: pixels).converted(to: .rgb)
        }
    }

    /// `image` resized and cropped to `[C, inputSize, inputSize]`: what the network sees
    /// and what heatmaps are drawn over.
    func geometry(_ image: Image, filter: Image.ResizeFilter = .bilinear) -> Image {
        // torchvision Resize(size): the shorter side becomes `size`, the longer one
        // int(size · long / short).
        let (width, height) = image.width <= image.height
            ? (resize, Int(Double(resize) * Double(image.height) / Double(image.width)))
            : (Int(Double(resize) * Double(image.width) / Double(image.height)), resize)
        return image.resized(width: width, height: height, filter: filter)
            .centerCropped(width: inputSize, height: inputSize)
    }

    /// The network input `[3, inputSize, inputSize]` of `sample`.
    func input(_ sample: Sample) throws -> Tensor {
        Backbones.Preprocessing(resize: .stretch(size: inputSize), normalization: normalization)
            .normalize(geometry(try decode(sample)).pixels)
    }

    /// The sample's ground-truth mask on the anomaly-map grid (`inputSize²`, row-major,
    /// true = anomalous): the mask file with the image's geometry (nearest), or all false
    /// when the sample has none.
    func mask(_ sample: Sample) throws -> [Bool] {
        guard let url = sample.maskURL else { return [Bool](repeating: false, count: inputSize * inputSize) }
        let mask = geometry(try Image(contentsOf: url, colorMode: .gray), filter: .nearest)
        return mask.pixels.data.map { $0 >= 128 }
    }

    /// The preprocessing as the embedding cache's key records it.
    var cacheDescription: CachePreprocessing {
        let mean: [Float], std: [Float]
        switch normalization {
        case .centered:
            (mean, std) = ([127, 127, 127], [128, 128, 128])
        case .imageNet:
            (mean, std) = ([0.485, 0.456, 0.406].map { $0 * 255 }, [0.229, 0.224, 0.225].map { $0 * 255 })
        }
        return CachePreprocessing(
            resize: [resize, resize], resizeFilter: "pil-bilinear-shorter-side", centerCrop: [inputSize, inputSize],
            color: "rgb", mean: mean, std: std)
    }
}

/// The content digest of a sample's pixels: the file's bytes, or the in-memory values.
func contentSHA256(_ sample: Sample) throws -> String {
    switch sample.image {
    case .file(let url):
        return try ImageSetFingerprint.contentSHA256(ofFile: url)
    case .pixels(let pixels):
        var hasher = SHA256()
        hasher.update(Array("\(pixels.shape)".utf8))
        pixels.data.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize().hex
    }
}
