import Foundation
import Scorers
import Tensors

/// UMAP's fuzzy simplicial set: a symmetric weighted graph on the points, built from each
/// point's k nearest neighbours (McInnes, Healy & Melville 2018, §3; umap-learn's
/// `fuzzy_simplicial_set` with `local_connectivity` 1, `set_op_mix_ratio` 1).
///
/// Edges are stored in both directions, sorted by (head, tail); weights are in (0, 1].
public struct FuzzySimplicialSet: Equatable, Sendable {
    /// Number of points (vertices).
    public let count: Int
    /// Edge `e` joins `heads[e]` to `tails[e]` with membership strength `weights[e]`.
    public let heads: [Int]
    public let tails: [Int]
    public let weights: [Double]

    /// The graph of `points` (`[N, D]`, euclidean) from the exact `neighbours`-nearest
    /// neighbours of each point, the point itself counting as the first (umap-learn's
    /// `n_neighbors`).
    public init(points: Tensor, neighbours: Int) throws {
        let n = points.shape[0]
        let index = try NearestNeighbourIndex(bank: points, metric: .euclidean)
        let others = try index.searchLeavingOneOut(k: neighbours - 1)
        // Rows of `neighbours` entries, the point itself first at distance 0.
        var distances = [Double](), indices = [Int]()
        distances.reserveCapacity(n * neighbours)
        indices.reserveCapacity(n * neighbours)
        for i in 0..<n {
            distances.append(0)
            indices.append(i)
            for j in 0..<neighbours - 1 {
                distances.append(Double(others.distances[i * (neighbours - 1) + j]))
                indices.append(others.indices[i * (neighbours - 1) + j])
            }
        }
        self.init(neighbourDistances: distances, indices: indices, neighbours: neighbours)
    }

    /// The graph from precomputed neighbour lists: row `i` of `neighbourDistances` and
    /// `indices` (`[N, neighbours]`, row-major, nearest first) lists point `i`'s neighbours,
    /// itself included.
    public init(neighbourDistances distances: [Double], indices: [Int], neighbours k: Int) {
        let n = distances.count / k
        let (sigmas, rhos) = smoothNeighbourDistances(distances, neighbours: k)
        // Directed memberships: exp(−(d − ρᵢ) / σᵢ), 1 within ρᵢ, nothing to itself.
        var directed = [(head: Int, tail: Int, weight: Double)]()
        directed.reserveCapacity(2 * n * k)
        for i in 0..<n {
            for j in 0..<k where indices[i * k + j] != i {
                let excess = distances[i * k + j] - rhos[i]
                let weight = excess <= 0 || sigmas[i] == 0 ? 1 : exp(-excess / sigmas[i])
                directed.append((head: i, tail: indices[i * k + j], weight: weight))
            }
        }
        // Fuzzy union A + Aᵀ − A∘Aᵀ: gather both directions, then merge each pair.
        var both = directed
        both += directed.map { (head: $0.tail, tail: $0.head, weight: $0.weight) }
        both.sort { ($0.head, $0.tail) < ($1.head, $1.tail) }
        var heads = [Int](), tails = [Int](), weights = [Double]()
        var e = 0
        while e < both.count {
            let (head, tail) = (both[e].head, both[e].tail)
            // A pair holds Aᵢⱼ and/or Aⱼᵢ; the same directed edge cannot appear twice
            // because neighbour lists hold distinct points.
            let first = both[e].weight
            var second = 0.0
            e += 1
            if e < both.count, both[e].head == head, both[e].tail == tail {
                second = both[e].weight
                e += 1
            }
            let weight = first + second - first * second
            if weight > 0 {
                heads.append(head)
                tails.append(tail)
                weights.append(weight)
            }
        }
        self.count = n
        self.heads = heads
        self.tails = tails
        self.weights = weights
    }
}

/// umap-learn's `smooth_knn_dist` with `local_connectivity` 1 and bandwidth 1: for each
/// row of `distances` (`[N, neighbours]`, nearest first, the point itself first), ρᵢ is the
/// distance to the nearest neighbour at a positive distance and σᵢ solves
/// `Σⱼ≥₁ exp(−max(0, dᵢⱼ − ρᵢ) / σᵢ) = log₂(neighbours)` by 64 bisection steps (tolerance
/// 1e-5), floored at 1e-3 × the row's mean distance (× the mean of all distances when ρᵢ = 0).
/// Returns `(σ, ρ)`, `[N]` each.
public func smoothNeighbourDistances(_ distances: [Double], neighbours k: Int) -> (sigmas: [Double], rhos: [Double]) {
    let n = distances.count / k
    let target = log2(Double(k))
    let meanOfAll = distances.reduce(0, +) / Double(max(1, distances.count))
    var sigmas = [Double](repeating: 0, count: n), rhos = [Double](repeating: 0, count: n)
    for i in 0..<n {
        let row = distances[i * k ..< (i + 1) * k]
        rhos[i] = row.first { $0 > 0 } ?? 0
        var (low, high, middle) = (0.0, Double.infinity, 1.0)
        for _ in 0..<64 {
            var sum = 0.0
            for d in row.dropFirst() {
                let excess = d - rhos[i]
                sum += excess > 0 ? exp(-excess / middle) : 1
            }
            if abs(sum - target) < 1e-5 { break }
            if sum > target {
                high = middle
                middle = (low + high) / 2
            } else {
                low = middle
                middle = high == .infinity ? middle * 2 : (low + high) / 2
            }
        }
        let floorScale = rhos[i] > 0 ? row.reduce(0, +) / Double(k) : meanOfAll
        sigmas[i] = max(middle, 1e-3 * floorScale)
    }
    return (sigmas, rhos)
}
