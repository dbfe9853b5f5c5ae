import Foundation

/// How a manifest row is labelled normal or anomalous.
public enum LabelRule: Codable, Equatable, Sendable {
    /// `{"column": "label", "normal": ["PASS"], "anomalous": ["FAIL"]}`: the column's text
    /// names the verdict and is the label name. Without `anomalous`, every value not in
    /// `normal` is anomalous; with it, values in neither list are excluded and counted.
    case column(String, normal: [MetadataValue], anomalous: [MetadataValue]?)
    /// `{"anomalousWhen": <predicate>}`: rows satisfying the predicate are anomalous
    /// (label name `anomalous`), the others normal (label name `normal`).
    case anomalousWhen(Predicate)

    var columns: [String] {
        switch self {
        case .column(let column, _, _): return [column]
        case .anomalousWhen(let predicate): return predicate.columns
        }
    }

    private enum CodingKeys: String, CodingKey { case column, normal, anomalous, anomalousWhen }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.anomalousWhen) {
            try rejectUnknownKeys(in: decoder, allowed: ["anomalousWhen"])
            self = .anomalousWhen(try c.decode(Predicate.self, forKey: .anomalousWhen))
        } else {
            try rejectUnknownKeys(in: decoder, allowed: ["column", "normal", "anomalous"])
            self = .column(try c.decode(String.self, forKey: .column),
                           normal: try c.decode([MetadataValue].self, forKey: .normal),
                           anomalous: try c.decodeIfPresent([MetadataValue].self, forKey: .anomalous))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .column(let column, let normal, let anomalous):
            try c.encode(column, forKey: .column)
            try c.encode(normal, forKey: .normal)
            try c.encodeIfPresent(anomalous, forKey: .anomalous)
        case .anomalousWhen(let predicate):
            try c.encode(predicate, forKey: .anomalousWhen)
        }
    }
}

/// A table of images with metadata: a CSV file, or the JSON list of image records that
/// FathomNet exports.
///
/// - CSV (RFC 4180): a header line, then one row per image. `imageColumn` holds the
///   image path relative to the CSV's folder; every column becomes metadata (cells that
///   read as decimal numbers are numbers, the rest strings; empty cells are missing).
/// - FathomNet JSON: a top-level array of objects. Every top-level field whose value is a
///   string, number or boolean becomes a column (e.g. FathomNet's `uuid`, `depthMeters`,
///   `latitude`, `longitude`, `timestamp`, `imagingType`, `width`, `height`); `null`
///   is missing; nested arrays and objects (`boundingBoxes`, `tags`) are not read.
///   FathomNet records point at remote `url`s, so add a field with the local file path
///   (relative to the JSON's folder) and name it in `imageColumn`.
///
/// Rows are labelled by `label`, then: normal rows satisfying `train` (all normal rows
/// when absent) are shuffled with `seed` and `floor(trainFraction · n)` of them train (at
/// most `maxTrainImages`); every other row satisfying `test` (all when absent) is tested.
/// A row missing a column that `label`, `train` or `test` read, or its image path, or
/// whose image file does not exist, is excluded and counted by reason.
public struct ManifestConfiguration: Codable, Equatable, Sendable {
    public enum Format: String, Codable, Sendable {
        case csv
        case fathomnet
    }

    /// The manifest file.
    public var path: String
    /// File format; default from the extension (`.json` → `fathomnet`, otherwise `csv`).
    public var format: Format?
    /// Column holding the image path, relative to the manifest's folder (default `path`).
    public var imageColumn: String
    /// Column holding a ground-truth mask path (optional; empty cells mean no mask).
    public var maskColumn: String?
    public var label: LabelRule
    /// Which normal rows may train (default: all).
    public var train: Predicate?
    /// Which rows not training are tested (default: all).
    public var test: Predicate?
    /// Share of the eligible normal rows used for training, 0…1 (default 1).
    public var trainFraction: Double
    /// Upper bound on the number of training images; the surplus is excluded (default none).
    public var maxTrainImages: Int?
    /// Seed of the train/test shuffle (default 0).
    public var seed: UInt64

    public init(path: String, format: Format? = nil, imageColumn: String = "path", maskColumn: String? = nil,
                label: LabelRule, train: Predicate? = nil, test: Predicate? = nil, trainFraction: Double = 1,
                maxTrainImages: Int? = nil, seed: UInt64 = 0) {
        self.path = path
        self.format = format
        self.imageColumn = imageColumn
        self.maskColumn = maskColumn
        self.label = label
        self.train = train
        self.test = test
        self.trainFraction = trainFraction
        self.maxTrainImages = maxTrainImages
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case path, format, imageColumn, maskColumn, label, train, test, trainFraction, maxTrainImages, seed
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(path: try c.decode(String.self, forKey: .path),
                  format: try c.decodeIfPresent(Format.self, forKey: .format),
                  imageColumn: try c.decodeIfPresent(String.self, forKey: .imageColumn) ?? "path",
                  maskColumn: try c.decodeIfPresent(String.self, forKey: .maskColumn),
                  label: try c.decode(LabelRule.self, forKey: .label),
                  train: try c.decodeIfPresent(Predicate.self, forKey: .train),
                  test: try c.decodeIfPresent(Predicate.self, forKey: .test),
                  trainFraction: try c.decodeIfPresent(Double.self, forKey: .trainFraction) ?? 1,
                  maxTrainImages: try c.decodeIfPresent(Int.self, forKey: .maxTrainImages),
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0)
    }

    public func load() throws -> Dataset {
        try validateSplit(fraction: trainFraction, maxTrainImages: maxTrainImages)
        let file = URL(fileURLWithPath: path)
        try requireFile(file, "manifest")
        let folder = file.deletingLastPathComponent()
        let rows = (format ?? (file.pathExtension.lowercased() == "json" ? .fathomnet : .csv)) == .csv
            ? try Self.csvRows(file) : try Self.fathomNetRows(file)
        let ruleColumns = label.columns + (train?.columns ?? []) + (test?.columns ?? [])

        var tally = ExclusionTally()
        var firstLocation = [String: String]()
        var trainCandidates = [Sample]()
        var testSamples = [Sample]()
        var testEligible = Set<String>()
        for (location, row) in rows {
            guard let pathValue = row[imageColumn] else { tally.add("missing \(imageColumn)"); continue }
            if let column = ruleColumns.first(where: { row[$0] == nil }) { tally.add("missing \(column)"); continue }
            let id = pathValue.description
            let image = URL(fileURLWithPath: id, relativeTo: folder).standardizedFileURL
            guard FileManager.default.fileExists(atPath: image.path) else { tally.add("image file not found"); continue }
            if let earlier = firstLocation.updateValue(location, forKey: id) {
                throw DatasetError.malformed(file, "image \(id) is listed twice (\(earlier) and \(location))")
            }

            let kind: Label.Kind
            let name: String
            switch label {
            case .column(let column, let normal, let anomalous):
                let text = row[column]!.description
                name = text
                if normal.contains(where: { $0.description == text }) {
                    kind = .normal
                } else if anomalous == nil || anomalous!.contains(where: { $0.description == text }) {
                    kind = .anomalous
                } else {
                    tally.add("\(column) \"\(text)\" is neither normal nor anomalous")
                    continue
                }
            case .anomalousWhen(let predicate):
                kind = try predicate.evaluate(row, file: file, location: location) ? .anomalous : .normal
                name = kind.rawValue
            }
            let mask = maskColumn.flatMap { row[$0] }.map { URL(fileURLWithPath: $0.description, relativeTo: folder).standardizedFileURL }
            let sample = Sample(id: id, image: .file(image), label: Label(kind: kind, name: name), maskURL: mask,
                                metadata: row, split: .test)
            let tested = try test?.evaluate(row, file: file, location: location) ?? true
            if tested { testEligible.insert(id) }
            if kind == .normal, try train?.evaluate(row, file: file, location: location) ?? true {
                trainCandidates.append(sample)
            } else if tested {
                testSamples.append(sample)
            } else {
                tally.add("not selected by the test rule")
            }
        }
        trainCandidates.sort { $0.id < $1.id }
        let selection = selectTraining(trainCandidates, fraction: trainFraction, maxTrainImages: maxTrainImages, seed: seed)
        tally.add("normal image beyond maxTrainImages", selection.overCap)
        let heldOut = selection.test.filter { testEligible.contains($0.id) }
        tally.add("not selected by the test rule", selection.test.count - heldOut.count)
        return Dataset(samples: assemble(train: selection.train, test: testSamples + heldOut), exclusions: tally.exclusions)
    }

    /// Rows of a CSV manifest with their locations (`manifest.csv line 7`); empty cells omitted.
    static func csvRows(_ file: URL) throws -> [(String, [String: MetadataValue])] {
        let table = try CSVTable(contentsOf: file)
        return table.records.map { record in
            var row = [String: MetadataValue]()
            for (column, cell) in zip(table.header, record.fields) where !cell.isEmpty {
                row[column] = Self.typedCell(cell)
            }
            return ("\(file.lastPathComponent) line \(record.line)", row)
        }
    }

    /// A cell that is a plain decimal number (`800`, `-1.5`, `2e3`) becomes a number;
    /// anything else (including `nan`, `inf`, hex) stays a string.
    static func typedCell(_ cell: String) -> MetadataValue {
        let decimal = cell.unicodeScalars.allSatisfy { "0123456789+-.eE".unicodeScalars.contains($0) }
        if decimal, let number = Double(cell), number.isFinite { return .number(number) }
        return .string(cell)
    }

    /// Rows of a FathomNet JSON export (`images.json element 3`); see the type's documentation.
    static func fathomNetRows(_ file: URL) throws -> [(String, [String: MetadataValue])] {
        let records: [[String: JSONField]]
        do { records = try JSONDecoder().decode([[String: JSONField]].self, from: try Data(contentsOf: file)) } catch {
            throw DatasetError.malformed(file, "not a JSON array of image records: \(error)")
        }
        return records.enumerated().map { index, record in
            ("\(file.lastPathComponent) element \(index)", record.compactMapValues(\.value))
        }
    }
}

/// A top-level field of a JSON record: a scalar, or nil for `null`, `""` and nested values.
private struct JSONField: Decodable {
    var value: MetadataValue?

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let flag = try? c.decode(Bool.self) { value = .bool(flag) }
        else if let number = try? c.decode(Double.self) { value = .number(number) }
        else if let text = try? c.decode(String.self), !text.isEmpty { value = .string(text) }
        else { value = nil }
    }
}
