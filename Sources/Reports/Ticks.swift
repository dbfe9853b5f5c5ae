import Foundation

/// Axis ticks at "nice" numbers (1, 2 or 5 times a power of ten), Heckbert's loose labelling
/// (Graphics Gems, 1990): the axis is widened to whole steps, so the first and last ticks are
/// its ends.
public enum Ticks {
    /// About `count` (≥ 2) ticks covering `lower…upper`, ascending. An empty range is widened
    /// by half a unit (or 10 % of its value) on each side.
    public static func nice(lower: Double, upper: Double, count: Int = 6) -> [Double] {
        precondition(lower.isFinite && upper.isFinite && count >= 2, "ticks need finite bounds and count ≥ 2")
        var (lower, upper) = (min(lower, upper), max(lower, upper))
        if lower == upper {
            let pad = lower == 0 ? 0.5 : abs(lower) * 0.1
            lower -= pad
            upper += pad
        }
        let step = niceNumber((niceNumber(upper - lower, rounding: false)) / Double(count - 1), rounding: true)
        // A bound within rounding error of a multiple of the step is on it (1.8 / 0.1 = 18.000000000000004).
        let first = (lower / step + 1e-9).rounded(.down)
        let last = (upper / step - 1e-9).rounded(.up)
        // Multiply whole step counts (not repeated addition) so 0.1 · 3 prints as 0.3.
        return stride(from: first, through: last, by: 1).map { clean($0 * step, step: step) }
    }

    /// A label for tick `value` on an axis whose ticks are `step` apart: as many decimals as
    /// the step needs (`0.2` → 1), exponent form for very large or small magnitudes.
    public static func label(_ value: Double, step: Double) -> String {
        let value = value == 0 ? 0 : value  // no "-0.0"
        let magnitude = max(abs(value), step)
        if magnitude >= 1e6 || step < 1e-4 { return String(format: "%.3g", value) }
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", value)
    }

    /// The 1, 2, 5 or 10 times a power of ten nearest `x` (`rounding`) or at least `x`.
    static func niceNumber(_ x: Double, rounding: Bool) -> Double {
        let exponent = log10(x).rounded(.down)
        let power = pow(10, exponent)
        let fraction = x / power
        let nice: Double
        if rounding {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * power
    }

    /// `value` rounded to the step's precision, so that e.g. 0.30000000000000004 becomes 0.3.
    private static func clean(_ value: Double, step: Double) -> Double {
        let scale = pow(10, max(0, (-log10(step)).rounded(.up) + 2))
        return (value * scale).rounded() / scale
    }
}
