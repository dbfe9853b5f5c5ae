import Foundation
import Images

/// The part of an experiment a sample belongs to.
public enum Split: String, Codable, CaseIterable, Sendable {
    /// What a one-class detector learns from: normal images only.
    case train
    /// What the detector is scored on: normal and anomalous images.
    case test
}

/// Ground truth of one sample: normal or anomalous, plus a finer name.
public struct Label: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case normal, anomalous
    }

    /// Normal or anomalous.
    public var kind: Kind
    /// The finer label: an MVTec defect type (`good`, `broken_large`), `PASS` / `FAIL`,
    /// a Fashion-MNIST class name, or a manifest column's value.
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    public var isAnomalous: Bool { kind == .anomalous }

    public var description: String { "\(kind.rawValue)/\(name)" }
}

/// Where a sample's pixels come from.
public enum ImageSource: Equatable, Sendable {
    /// An image file (PNG or JPEG) to decode.
    case file(URL)
    /// Pixels already in memory (Fashion-MNIST: gray 28×28, values 0…255).
    case pixels(Image)
}

/// A typed metadata value: a manifest cell, a JSON field, an ELPV probability.
public enum MetadataValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case number(Double)
    case bool(Bool)

    /// The value as text: strings as they are, integral numbers without a fraction
    /// (`800`, not `800.0`), other numbers in Swift's shortest round-trip form.
    public var description: String {
        switch self {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        }
    }
}

/// One image of a dataset with its ground truth.
public struct Sample: Equatable, Sendable {
    /// Stable identifier: the image path relative to the dataset root
    /// (`test/broken_large/000.png`), or `train/00042` for in-memory images.
    public var id: String
    /// The pixels: a file or an in-memory buffer.
    public var image: ImageSource
    public var label: Label
    /// Pixel-level ground truth (255 = anomalous pixel), when the dataset has one.
    public var maskURL: URL?
    /// Extra columns: manifest cells, ELPV `probability` / `type`, Fashion-MNIST `class`.
    public var metadata: [String: MetadataValue]
    public var split: Split

    public init(id: String, image: ImageSource, label: Label, maskURL: URL? = nil,
                metadata: [String: MetadataValue] = [:], split: Split) {
        self.id = id
        self.image = image
        self.label = label
        self.maskURL = maskURL
        self.metadata = metadata
        self.split = split
    }

    /// The image file, or nil for in-memory pixels.
    public var imageURL: URL? {
        if case .file(let url) = image { return url }
        return nil
    }
}
