import Foundation

/// A number for people to read: four significant digits (`0.8823`, `12.35`, `1.2e-05`),
/// `inf`, `-inf` or `nan`.
public func formatNumber(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.4g", value)
}
