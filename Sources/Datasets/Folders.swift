import Foundation

/// Images sorted into folders by verdict: `root/PASS/*.png`, `root/FAIL/*.jpg`.
///
/// Normal images are sorted by id, shuffled with `seed`, and `floor(trainFraction · n)`
/// of them train (at most `maxTrainImages`); the other normal images and every
/// anomalous image are tested. The label name is the folder name.
public struct FoldersConfiguration: Codable, Equatable, Sendable {
    /// The folder holding the verdict folders.
    public var root: String
    /// Folders of normal images (default `["PASS"]`).
    public var normalFolders: [String]
    /// Folders of anomalous images (default `["FAIL"]`).
    public var anomalousFolders: [String]
    /// Share of the normal images used for training, 0…1 (default 0.8).
    public var trainFraction: Double
    /// Upper bound on the number of training images; the surplus is excluded (default none).
    public var maxTrainImages: Int?
    /// Seed of the train/test shuffle (default 0).
    public var seed: UInt64

    public init(root: String, normalFolders: [String] = ["PASS"], anomalousFolders: [String] = ["FAIL"],
                trainFraction: Double = 0.8, maxTrainImages: Int? = nil, seed: UInt64 = 0) {
        self.root = root
        self.normalFolders = normalFolders
        self.anomalousFolders = anomalousFolders
        self.trainFraction = trainFraction
        self.maxTrainImages = maxTrainImages
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case root, normalFolders, anomalousFolders, trainFraction, maxTrainImages, seed
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(root: try c.decode(String.self, forKey: .root),
                  normalFolders: try c.decodeIfPresent([String].self, forKey: .normalFolders) ?? ["PASS"],
                  anomalousFolders: try c.decodeIfPresent([String].self, forKey: .anomalousFolders) ?? ["FAIL"],
                  trainFraction: try c.decodeIfPresent(Double.self, forKey: .trainFraction) ?? 0.8,
                  maxTrainImages: try c.decodeIfPresent(Int.self, forKey: .maxTrainImages),
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0)
    }

    public func load() throws -> Dataset {
        try validateSplit(fraction: trainFraction, maxTrainImages: maxTrainImages)
        guard !normalFolders.isEmpty, !anomalousFolders.isEmpty else {
            throw DatasetError.invalidConfiguration("folders needs at least one normal and one anomalous folder")
        }
        if let shared = Set(normalFolders).intersection(anomalousFolders).first {
            throw DatasetError.invalidConfiguration("folder \"\(shared)\" is listed as both normal and anomalous")
        }
        let root = URL(fileURLWithPath: self.root)
        try requireFolder(root, "dataset folder")
        var tally = ExclusionTally()

        func samples(in folder: String, kind: Label.Kind) throws -> [Sample] {
            let url = root.appendingPathComponent(folder)
            try requireFolder(url, "\(kind.rawValue) image folder \"\(folder)\"")
            let (files, broken) = try listFiles(in: url)
            excludeBrokenLinks(broken, in: root, to: &tally)
            let images = files.filter { imageExtensions.contains($0.pathExtension.lowercased()) }
            tally.add("not a PNG/JPEG file", files.count - images.count)
            return images.map {
                Sample(id: folder + "/" + $0.lastPathComponent, image: .file($0),
                       label: Label(kind: kind, name: folder), split: .test)
            }
        }

        let normals = try normalFolders.flatMap { try samples(in: $0, kind: .normal) }.sorted { $0.id < $1.id }
        let anomalies = try anomalousFolders.flatMap { try samples(in: $0, kind: .anomalous) }
        let selection = selectTraining(normals, fraction: trainFraction, maxTrainImages: maxTrainImages, seed: seed)
        tally.add("normal image beyond maxTrainImages", selection.overCap)
        return Dataset(samples: assemble(train: selection.train, test: selection.test + anomalies),
                       exclusions: tally.exclusions)
    }
}
