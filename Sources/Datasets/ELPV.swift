import FileErrors
import Foundation

/// The ELPV solar-cell set (Buerhop-Lutz et al. 2018; Deitsch et al. 2019) as installed
/// by `make setup`: `root/labels.csv` (whitespace separated: image path, defect
/// probability 0, 1/3, 2/3 or 1, cell type `mono` / `poly`) and `root/images/cellNNNN.png`
/// (300×300 gray).
///
/// PASS (normal) = probability 0; FAIL (anomalous) = probability ≥ `failProbability`;
/// probabilities in between are excluded and counted. PASS images are split as in
/// `FoldersConfiguration`; every FAIL image is tested. Metadata: `probability`
/// (number), `type` (string).
public struct ELPVConfiguration: Codable, Equatable, Sendable {
    /// Which cells to keep.
    public enum CellType: String, Codable, Sendable { case all, mono, poly }

    /// The folder holding `labels.csv` (default `.assets/elpv/elpv_dataset/data`).
    public var root: String
    /// Smallest defect probability labelled FAIL (default 2/3).
    public var failProbability: Double
    /// Cell type filter (default `all`).
    public var cellType: CellType
    /// Share of the PASS images used for training, 0…1 (default 0.8).
    public var trainFraction: Double
    /// Upper bound on the number of training images; the surplus is excluded (default none).
    public var maxTrainImages: Int?
    /// Seed of the train/test shuffle (default 0).
    public var seed: UInt64

    public static let defaultRoot = ".assets/elpv/elpv_dataset/data"

    public init(root: String = ELPVConfiguration.defaultRoot, failProbability: Double = 2.0 / 3.0,
                cellType: CellType = .all, trainFraction: Double = 0.8, maxTrainImages: Int? = nil,
                seed: UInt64 = 0) {
        self.root = root
        self.failProbability = failProbability
        self.cellType = cellType
        self.trainFraction = trainFraction
        self.maxTrainImages = maxTrainImages
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case root, failProbability, cellType, trainFraction, maxTrainImages, seed
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(root: try c.decodeIfPresent(String.self, forKey: .root) ?? Self.defaultRoot,
                  failProbability: try c.decodeIfPresent(Double.self, forKey: .failProbability) ?? 2.0 / 3.0,
                  cellType: try c.decodeIfPresent(CellType.self, forKey: .cellType) ?? .all,
                  trainFraction: try c.decodeIfPresent(Double.self, forKey: .trainFraction) ?? 0.8,
                  maxTrainImages: try c.decodeIfPresent(Int.self, forKey: .maxTrainImages),
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0)
    }

    /// Probabilities in `labels.csv` are written with 16 digits (`0.6666666666666666`);
    /// comparisons with `failProbability` allow this much slack.
    private static let tolerance = 1e-9

    public func load() throws -> Dataset {
        try validateSplit(fraction: trainFraction, maxTrainImages: maxTrainImages)
        guard failProbability > Self.tolerance, failProbability <= 1 + Self.tolerance else {
            throw DatasetError.invalidConfiguration("failProbability \(failProbability) must be in (0, 1]")
        }
        let root = URL(fileURLWithPath: self.root)
        let labels = root.appendingPathComponent("labels.csv")
        guard FileManager.default.fileExists(atPath: root.path) else { throw DatasetError.missingAssets(root) }
        try requireFolder(root, "ELPV folder")
        guard FileManager.default.fileExists(atPath: labels.path) else { throw DatasetError.missingAssets(labels) }
        let text: String
        do { text = try String(contentsOf: labels, encoding: .utf8) } catch {
            throw DatasetError.malformed(labels, "cannot read: \(FileErrorDescription.reason(error))")
        }
        var tally = ExclusionTally()
        var passes = [Sample]()
        var fails = [Sample]()
        for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.isEmpty { continue }
            guard fields.count == 3, let probability = Double(fields[1]), (0...1).contains(probability),
                  fields[2] == "mono" || fields[2] == "poly" else {
                throw DatasetError.malformed(labels, "line \(index + 1): expected `path probability mono|poly`, got \"\(line)\"")
            }
            let path = String(fields[0])
            let type = String(fields[2])
            if cellType != .all && type != cellType.rawValue {
                tally.add("cell type \(type) (cellType \(cellType.rawValue))")
                continue
            }
            let kind: Label.Kind
            if probability == 0 {
                kind = .normal
            } else if probability >= failProbability - Self.tolerance {
                kind = .anomalous
            } else {
                tally.add(String(format: "defect probability %.3f (between PASS 0 and failProbability %.3f)",
                                 probability, failProbability))
                continue
            }
            let image = root.appendingPathComponent(path)
            try requireFile(image, "ELPV image listed on line \(index + 1) of \(labels.path)")
            let sample = Sample(id: path, image: .file(image),
                                label: Label(kind: kind, name: kind == .normal ? "PASS" : "FAIL"),
                                metadata: ["probability": .number(probability), "type": .string(type)], split: .test)
            if kind == .normal { passes.append(sample) } else { fails.append(sample) }
        }
        passes.sort { $0.id < $1.id }
        let selection = selectTraining(passes, fraction: trainFraction, maxTrainImages: maxTrainImages, seed: seed)
        tally.add("PASS image beyond maxTrainImages", selection.overCap)
        return Dataset(samples: assemble(train: selection.train, test: selection.test + fails),
                       exclusions: tally.exclusions)
    }
}
