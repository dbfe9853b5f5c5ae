/// Why a metric could not be computed.
///
/// Every metric validates its input first and throws one of these instead of returning
/// NaN or a silently wrong number. Indices are zero-based positions in the arrays the
/// caller passed, so the caller can map them back to image ids.
public enum MetricError: Error, Equatable, CustomStringConvertible {
    /// There was nothing to evaluate; `what` names the empty input.
    case emptyInput(what: String)
    /// Two inputs that must pair up element by element have different lengths.
    case lengthMismatch(what: String, expected: Int, actual: Int)
    /// All labels belong to one class, so a metric that ranks anomalous against
    /// normal samples (AUROC, AP, their curves, F1-max, AUPRO) is undefined.
    case singleClass(metric: String, allAnomalous: Bool, count: Int)
    /// A score is NaN or infinite.
    case nonFiniteScore(index: Int, value: Double)
    /// A pixel of an anomaly map is NaN or infinite.
    case nonFinitePixel(image: Int, pixel: Int, value: Double)
    /// A parameter lies outside its valid range.
    case invalidParameter(name: String, value: Double, reason: String)
    /// A query of a ranking metric has no relevant label, so its average precision is undefined.
    case noRelevantLabels(query: Int)

    public var description: String {
        switch self {
        case let .emptyInput(what):
            return "\(what) is empty: there is nothing to evaluate"
        case let .lengthMismatch(what, expected, actual):
            return "\(what): expected \(expected) elements, got \(actual)"
        case let .singleClass(metric, allAnomalous, count):
            let cls = allAnomalous ? "anomalous" : "normal"
            return "\(metric) is undefined: all \(count) labels are \(cls); "
                + "AUROC/AP need both normal and anomalous samples"
        case let .nonFiniteScore(index, value):
            return "score at index \(index) is \(value); scores must be finite"
        case let .nonFinitePixel(image, pixel, value):
            return "anomaly map of image \(image) has \(value) at pixel \(pixel); scores must be finite"
        case let .invalidParameter(name, value, reason):
            return "\(name) = \(value) is invalid: \(reason)"
        case let .noRelevantLabels(query):
            return "query \(query) has no relevant label; its average precision is undefined"
        }
    }
}

/// Checks that `scores` and `labels` pair up, are non-empty and that every score is finite.
func validate(scores: [Double], labels: [Bool]) throws {
    guard !scores.isEmpty else { throw MetricError.emptyInput(what: "scores") }
    guard labels.count == scores.count else {
        throw MetricError.lengthMismatch(what: "labels (one per score)", expected: scores.count,
                                         actual: labels.count)
    }
    if let index = scores.firstIndex(where: { !$0.isFinite }) {
        throw MetricError.nonFiniteScore(index: index, value: scores[index])
    }
}

/// Throws `singleClass` unless `labels` hold both classes.
func requireBothClasses(_ labels: [Bool], metric: String) throws {
    let positives = labels.reduce(0) { $0 + ($1 ? 1 : 0) }
    if positives == 0 || positives == labels.count {
        throw MetricError.singleClass(metric: metric, allAnomalous: positives > 0, count: labels.count)
    }
}
