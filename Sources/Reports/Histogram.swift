/// Counts of values in consecutive bins, NumPy's convention: bin `i` holds
/// `edges[i] ≤ x < edges[i + 1]`, the last bin also holds `x == edges.last`; values outside
/// the edges and NaN are not counted.
public struct Histogram: Equatable, Sendable {
    /// Ascending bin edges, one more than `counts`.
    public var edges: [Double]
    public var counts: [Int]

    public init(values: [Double], edges: [Double]) {
        precondition(edges.count >= 2 && zip(edges, edges.dropFirst()).allSatisfy { $0 < $1 },
                     "a histogram needs at least two ascending edges")
        self.edges = edges
        var counts = [Int](repeating: 0, count: edges.count - 1)
        for value in values where value >= edges[0] && value <= edges[edges.count - 1] {
            // The last edge i with edges[i] ≤ value, by binary search.
            var (low, high) = (0, edges.count - 1)
            while high - low > 1 {
                let middle = (low + high) / 2
                if edges[middle] <= value { low = middle } else { high = middle }
            }
            counts[low] += 1
        }
        self.counts = counts
    }

    /// `bins` equal-width bins from `lower` to `upper` (widened by ±0.5 when they are equal).
    public static func edges(lower: Double, upper: Double, bins: Int) -> [Double] {
        precondition(bins >= 1, "a histogram needs at least one bin")
        let (lower, upper) = lower < upper ? (lower, upper) : (lower - 0.5, lower + 0.5)
        let width = (upper - lower) / Double(bins)
        return (0...bins).map { $0 == bins ? upper : lower + Double($0) * width }
    }
}
