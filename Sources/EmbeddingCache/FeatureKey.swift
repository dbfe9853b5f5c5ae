import Checksums
import Foundation
import Tensors

/// Everything that determines the features of a set of images; its SHA-256 names the
/// cache file.
///
/// The canonical form is the JSON encoding with sorted keys and no insignificant
/// whitespace; floats use Swift's shortest round-trip digits.
public struct FeatureKey: Codable, Equatable, Sendable {
    /// The images, in row order.
    public var images: ImageSetFingerprint
    /// Backbone name, e.g. `efficientnet-lite0`.
    public var backbone: String
    /// SHA-256 (hex) of the weights file.
    public var weightsSHA256: String
    /// The datasets stored, in the caller's order: tapped layers, e.g. `["blocks.4", "blocks.10"]`
    /// (a tiled run adds `tile_mean_embedding`, each image's mean tile embedding).
    public var taps: [String]
    /// How feature maps are reduced before caching: nil stores the maps `[C, H, W]`
    /// per image; e.g. `global-average` stores pooled vectors `[D]`.
    public var pooling: String?
    public var preprocessing: Preprocessing
    /// Version of the code computing the features (bump when it changes numerics).
    public var toolVersion: String
    /// For a shard file: which shard of `images` it holds (the ids of `images` that
    /// ``ImageShard`` assigns to it); nil (absent from the canonical JSON) for the whole set.
    public var shard: ImageShard?

    public init(images: ImageSetFingerprint, backbone: String, weightsSHA256: String, taps: [String],
                pooling: String? = nil, preprocessing: Preprocessing, toolVersion: String, shard: ImageShard? = nil) {
        self.images = images
        self.backbone = backbone
        self.weightsSHA256 = weightsSHA256
        self.taps = taps
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.toolVersion = toolVersion
        self.shard = shard
    }

    /// The key of the whole image set (this key without its shard).
    public var whole: FeatureKey {
        var key = self
        key.shard = nil
        return key
    }

    /// The key of `shard` of this key's images.
    public func sharded(_ shard: ImageShard) -> FeatureKey {
        var key = whole
        key.shard = shard
        return key
    }

    /// How images become the network input.
    public struct Preprocessing: Codable, Equatable, Sendable {
        /// `[height, width]` the image is resized to, pixels.
        public var resize: [Int]
        /// Resampling filter of the resize, e.g. `bilinear` or `bilinear-antialias`.
        public var resizeFilter: String
        /// `[height, width]` of the centre crop taken after resizing; equal to `resize` for none.
        public var centerCrop: [Int]
        /// Colour handling, e.g. `rgb` or `gray-replicated-to-rgb`.
        public var color: String
        /// Per-channel mean subtracted, on the 0…255 pixel scale.
        public var mean: [Float]
        /// Per-channel divisor applied after the mean, on the 0…255 pixel scale.
        public var std: [Float]
        /// Tiled full-resolution extraction; nil (absent from the canonical JSON) for none.
        public var tiling: Tiling?

        public init(resize: [Int], resizeFilter: String, centerCrop: [Int], color: String, mean: [Float], std: [Float],
                    tiling: Tiling? = nil) {
            self.resize = resize
            self.resizeFilter = resizeFilter
            self.centerCrop = centerCrop
            self.color = color
            self.mean = mean
            self.std = std
            self.tiling = tiling
        }
    }

    /// How tiles were cut and stitched.
    public struct Tiling: Codable, Equatable, Sendable {
        /// Tile side and distance between tile origins, pixels of the scaled image.
        public var tile: Int
        public var stride: Int
        /// Factor the whole image was resized by before tiling.
        public var scale: Double
        /// How overlapping tile outputs became one grid, e.g. `most-central-tile`.
        public var stitching: String

        public init(tile: Int, stride: Int, scale: Double, stitching: String) {
            self.tile = tile
            self.stride = stride
            self.scale = scale
            self.stitching = stitching
        }
    }

    /// The canonical JSON description (stored in the file's `key` attribute).
    public var canonicalJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Strings, integers and (with the strategy above) every float encode without error.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Lowercase hex SHA-256 of `canonicalJSON`: the cache file's name.
    public var sha256: String { SHA256.hash(Array(canonicalJSON.utf8)).hex }
}

/// Identifies a list of images by content: a count and the SHA-256 over one line
/// `id<TAB>content-sha256<LF>` per image, in row order.
///
/// Content hashes rather than sizes and modification times: copying, checking out or
/// unpacking a dataset changes mtimes (needless recomputation), while an edit that
/// keeps size and mtime (`cp -p`, `rsync -t`, re-exports) would silently reuse stale
/// features. Hashing costs about a second per 300 MB, small beside feature extraction.
public struct ImageSetFingerprint: Codable, Equatable, Sendable {
    /// Number of images.
    public var count: Int
    /// Lowercase hex SHA-256 of the lines described above.
    public var sha256: String

    /// The fingerprint of `images` (id, content digest) in the order the cache rows use.
    public init(_ images: [(id: String, contentSHA256: String)]) {
        var hasher = SHA256()
        for image in images { hasher.update(Array("\(image.id)\t\(image.contentSHA256)\n".utf8)) }
        count = images.count
        sha256 = hasher.finalize().hex
    }

    /// Lowercase hex SHA-256 of a file's bytes.
    public static func contentSHA256(ofFile url: URL) throws -> String {
        do { return try SHA256.hexDigest(ofFileAt: url) } catch {
            throw EmbeddingCacheError.unreadableImage(url, error.localizedDescription)
        }
    }

    /// Lowercase hex SHA-256 of in-memory pixels: the shape as little-endian Int64s,
    /// then the float32 elements little-endian.
    public static func contentSHA256(ofPixels pixels: Tensor) -> String {
        var hasher = SHA256()
        for extent in pixels.shape {
            withUnsafeBytes(of: Int64(extent).littleEndian) { hasher.update($0) }
        }
        pixels.data.withUnsafeBytes { hasher.update($0) }  // float32 is little-endian on supported platforms
        return hasher.finalize().hex
    }
}
