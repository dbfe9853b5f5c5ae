import Backbones
import Datasets
import Foundation
import Reports

/// `run.json`: what was run, on what, how long it took and what it found.
struct RunRecord: Encodable {
    struct Git: Encodable { var sha: String; var dirty: Bool }
    struct Spec: Encodable { var path: String; var sha256: String }
    struct Backbone: Encodable {
        var name: String
        var weights: String
        var weightsSha256: String
        var taps: [String]
        var resize: Int
        var inputSize: Int
        /// Present for tiled extraction only.
        var tiling: Tiling?
    }
    struct Dataset: Encodable {
        struct Exclusion: Encodable { var reason: String; var count: Int }
        /// The swept dataset fields of the point (empty without dataset sweeps).
        var parameters: [String: String]
        /// Split → label name → count.
        var counts: [String: [String: Int]]
        /// Split → normal/anomalous → count.
        var kinds: [String: [String: Int]]
        var excluded: [Exclusion]

        init(_ report: SplitReport, parameters: [Parameter]) {
            self.parameters = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
            counts = [:]
            kinds = [:]
            for (split, labels) in report.counts {
                for (label, count) in labels {
                    counts[split.rawValue, default: [:]][label.name, default: 0] += count
                    kinds[split.rawValue, default: [:]][label.kind.rawValue, default: 0] += count
                }
            }
            excluded = report.exclusions.map { Exclusion(reason: $0.reason, count: $0.count) }
        }
    }
    struct Cache: Encodable { var file: String; var hits: Int; var misses: Int; var warnings: [String] }
    /// Grid points whose PatchCore coreset came from a saved selection (hits) or was selected now (misses).
    struct Coresets: Encodable { var files: [String]; var hits: Int; var misses: Int; var warnings: [String] }
    struct Headline: Encodable { var metric: String; var value: Double; var point: Int }
    struct Stage: Encodable { var name: String; var seconds: Double }

    var name: String
    var description: String
    /// How the decision threshold was chosen, in words (`ThresholdRule.summary`).
    var thresholdRule: String
    var toolVersion: String
    var startedAt: String
    /// nil when the spec is not inside a git work tree (or git is missing).
    var git: Git?
    var spec: Spec
    /// `trawl run --coreset-shards N`: the `scorer.coreset_shards` every PatchCore grid point
    /// used instead of the spec's; absent without the option.
    var coresetShardsOverride: Int?
    var seed: UInt64
    var backbone: Backbone
    var swiftVersion: String
    var os: String
    var libraries: [String: String]
    /// One entry per dataset point, in point order.
    var datasets: [Dataset]
    var cache: Cache
    var coresetCache: Coresets
    var gridPoints: Int
    var headline: Headline
    /// Wall time per stage, in run order, seconds.
    var stages: [Stage]
    var wallSeconds: Double
    /// VmHWM at the end of the run, bytes.
    var peakMemoryBytes: Int?

    /// Pretty-printed JSON, sorted keys, snake_case.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }
}

extension RunRecord.Coresets {
    init(_ outcomes: [CoresetCache.Outcome]) {
        files = outcomes.map(\.file.path)
        hits = outcomes.filter(\.hit).count
        misses = outcomes.count - hits
        warnings = outcomes.flatMap(\.warnings)
    }
}

extension ThresholdRule {
    /// The rule in words, as reports name it: `f1_max (best F1 on the test set)`,
    /// `train_percentile 95 (of training scores)`, `fixed 3.2`.
    var summary: String {
        switch self {
        case .f1Max: return "f1_max (best F1 on the test set)"
        case .trainPercentile(let percentile): return "train_percentile \(formatNumber(percentile)) (of training scores)"
        case .fixed(let value): return "fixed \(formatNumber(value))"
        }
    }
}
