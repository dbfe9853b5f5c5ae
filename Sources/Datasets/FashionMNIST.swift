import FileErrors
import Foundation
import Images
import Tensors

/// Fashion-MNIST (Xiao et al. 2017) as a one-class problem: the uncompressed IDX files
/// `root/{train,t10k}-images-idx3-ubyte` and `root/{train,t10k}-labels-idx1-ubyte`.
///
/// Train = training-set images of `normalClasses` (a seeded subsample of at most
/// `maxTrainImages`); test = the t10k set (at most `maxTestImagesPerClass` per class,
/// seeded), the normal classes normal and the rest anomalous. Images are in memory:
/// `ImageSource.pixels` holding a gray 28×28 `Image` (values 0…255). Ids are `train/00042` and
/// `t10k/00042` (index in the file); label names are the class names; metadata `class`
/// holds the class index.
public struct FashionMNISTConfiguration: Codable, Equatable, Sendable {
    /// The folder holding the four IDX files (default `.assets/fashion-mnist`).
    public var root: String
    /// Class indices 0–9 that are normal.
    public var normalClasses: [Int]
    /// Upper bound on the number of training images (seeded subsample; default all).
    public var maxTrainImages: Int?
    /// Upper bound on the number of test images of each class (seeded; default all).
    public var maxTestImagesPerClass: Int?
    /// Seed of the subsampling (default 0).
    public var seed: UInt64

    public static let defaultRoot = ".assets/fashion-mnist"

    /// Class names by index.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public init(root: String = FashionMNISTConfiguration.defaultRoot, normalClasses: [Int],
                maxTrainImages: Int? = nil, maxTestImagesPerClass: Int? = nil, seed: UInt64 = 0) {
        self.root = root
        self.normalClasses = normalClasses
        self.maxTrainImages = maxTrainImages
        self.maxTestImagesPerClass = maxTestImagesPerClass
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case root, normalClasses, maxTrainImages, maxTestImagesPerClass, seed
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(root: try c.decodeIfPresent(String.self, forKey: .root) ?? Self.defaultRoot,
                  normalClasses: try c.decode([Int].self, forKey: .normalClasses),
                  maxTrainImages: try c.decodeIfPresent(Int.self, forKey: .maxTrainImages),
                  maxTestImagesPerClass: try c.decodeIfPresent(Int.self, forKey: .maxTestImagesPerClass),
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0)
    }

    public func load() throws -> Dataset {
        let normal = Set(normalClasses)
        guard !normal.isEmpty, normal.allSatisfy({ (0..<10).contains($0) }), normal.count < 10 else {
            throw DatasetError.invalidConfiguration("normalClasses \(normalClasses) must be 1 to 9 distinct indices in 0…9")
        }
        if let cap = maxTrainImages, cap < 1 { throw DatasetError.invalidConfiguration("maxTrainImages \(cap) must be at least 1") }
        if let cap = maxTestImagesPerClass, cap < 1 {
            throw DatasetError.invalidConfiguration("maxTestImagesPerClass \(cap) must be at least 1")
        }
        let root = URL(fileURLWithPath: self.root)
        guard FileManager.default.fileExists(atPath: root.path) else { throw DatasetError.missingAssets(root) }
        try requireFolder(root, "Fashion-MNIST folder")
        let train = try IDXSet(root: root, prefix: "train")
        let test = try IDXSet(root: root, prefix: "t10k")
        var tally = ExclusionTally()

        let normalTrain = train.labels.indices.filter { normal.contains(Int(train.labels[$0])) }
        tally.add("training-set image of an anomalous class", train.count - normalTrain.count)
        var trainIndices = normalTrain
        if let cap = maxTrainImages, cap < trainIndices.count {
            trainIndices = Array(seededShuffle(trainIndices, seed: seed)[..<cap])
            tally.add("training image beyond maxTrainImages", normalTrain.count - cap)
        }

        var testIndices = [Int]()
        for label in 0..<10 {
            var indices = test.labels.indices.filter { Int(test.labels[$0]) == label }
            if let cap = maxTestImagesPerClass, cap < indices.count {
                tally.add("test image beyond maxTestImagesPerClass", indices.count - cap)
                indices = Array(seededShuffle(indices, seed: seed &+ 1 &+ UInt64(label))[..<cap])
            }
            testIndices += indices
        }

        func sample(_ set: IDXSet, _ index: Int, _ prefix: String, _ split: Split) -> Sample {
            let label = Int(set.labels[index])
            return Sample(id: prefix + "/" + String(format: "%05d", index), image: .pixels(Image(pixels: set.image(index))),
                          label: Label(kind: normal.contains(label) ? .normal : .anomalous, name: Self.classNames[label]),
                          metadata: ["class": .number(Double(label))], split: split)
        }
        let samples = trainIndices.sorted().map { sample(train, $0, "train", .train) }
            + testIndices.sorted().map { sample(test, $0, "t10k", .test) }
        return Dataset(samples: samples, exclusions: tally.exclusions)
    }
}

/// One IDX image file and its label file (LeCun's MNIST format: big-endian magic
/// `0x00000803` / `0x00000801`, big-endian UInt32 extents, then unsigned bytes).
struct IDXSet {
    let rows: Int
    let columns: Int
    let pixels: [UInt8]
    let labels: [UInt8]

    var count: Int { labels.count }

    init(root: URL, prefix: String) throws {
        let imagesURL = root.appendingPathComponent("\(prefix)-images-idx3-ubyte")
        let labelsURL = root.appendingPathComponent("\(prefix)-labels-idx1-ubyte")
        let images = try Self.read(imagesURL, magic: 0x0803, rank: 3)
        let labels = try Self.read(labelsURL, magic: 0x0801, rank: 1)
        guard images.extents[0] == labels.extents[0] else {
            throw DatasetError.malformed(imagesURL, "\(images.extents[0]) images but \(labels.extents[0]) labels in \(labelsURL.lastPathComponent)")
        }
        if let bad = labels.bytes.first(where: { $0 > 9 }) {
            throw DatasetError.malformed(labelsURL, "label \(bad) is outside 0…9")
        }
        rows = images.extents[1]
        columns = images.extents[2]
        pixels = images.bytes
        self.labels = labels.bytes
    }

    /// Image `index` as `[1, rows, columns]`, values 0…255.
    func image(_ index: Int) -> Tensor {
        let size = rows * columns
        return Tensor(shape: [1, rows, columns], data: pixels[index * size ..< (index + 1) * size].map(Float.init))
    }

    private static func read(_ url: URL, magic: UInt32, rank: Int) throws -> (extents: [Int], bytes: [UInt8]) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingAssets(url) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.malformed(url, "cannot read: \(FileErrorDescription.reason(error))")
        }
        let bytes = [UInt8](data)
        func word(_ i: Int) -> UInt32 {
            bytes[4 * i ..< 4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        let header = 4 * (rank + 1)
        guard bytes.count >= header, word(0) == magic else {
            throw DatasetError.malformed(url, String(format: "not an IDX file with magic 0x%08x", magic))
        }
        let extents = (1...rank).map { Int(word($0)) }
        let expected = header + extents.reduce(1, *)
        guard bytes.count == expected else {
            throw DatasetError.malformed(url, "IDX extents \(extents) need \(expected) bytes, file has \(bytes.count)")
        }
        return (extents, Array(bytes[header...]))
    }
}
