import CDistanceKernels
import Dispatch
import Tensors

/// How two feature vectors are compared.
public enum DistanceMetric: String, Sendable, CaseIterable {
    /// `‖q − m‖₂`.
    case euclidean
    /// `‖q − m‖₂²` (what faiss `IndexFlatL2`, and so the PatchCore reference, reports).
    case squaredEuclidean
    /// `1 − cos(q, m)`, in `[0, 2]`; vectors are L2-normalised first.
    case cosine
}

/// The `k` nearest bank entries of each query, nearest first.
public struct Neighbours: Equatable, Sendable {
    /// Number of neighbours per query.
    public let k: Int
    /// `[queries · k]`, row-major: distance of the j-th neighbour of query q at `q·k + j`.
    public var distances: [Float]
    /// `[queries · k]`: bank row of the j-th neighbour of query q at `q·k + j`.
    public var indices: [Int]

    /// Number of queries.
    public var count: Int { k == 0 ? 0 : distances.count / k }

    /// Share of `truth`'s queries (the first `truth.count` of these) whose nearest neighbour
    /// here is `truth`'s nearest: faiss's recall@1 of these results against exact ones.
    public func recallAtOne(against truth: Neighbours) -> Double {
        let hits = (0..<truth.count).filter { indices[$0 * k] == truth.indices[$0 * truth.k] }.count
        return Double(hits) / Double(max(1, truth.count))
    }

    /// Mean of the `k` distances of each query: `[queries]`.
    public var meanDistances: [Float] {
        (0..<count).map { q in
            var sum: Float = 0
            for j in 0..<k { sum += distances[q * k + j] }
            return sum / Float(k)
        }
    }
}

/// Exact k-nearest-neighbour search by blocked GEMM.
///
/// Distances come from `‖q‖² + ‖m‖² − 2 q·m` clamped at 0 (square root taken
/// last for ``DistanceMetric/euclidean``). Queries and bank are processed in
/// blocks of 128 × 2048, so memory stays at one small block per core whatever
/// the sizes; the two cores take alternate query blocks. Ties go to the lower
/// bank index. Results are deterministic.
///
/// OpenBLAS's sums for a query row depend on the row's position within its block,
/// so a caller whose queries come in groups (one image's patches) passes the
/// group's row count: blocks then start at every group, and a group's results do
/// not depend on the groups searched with it.
public struct NearestNeighbourIndex: Sendable {
    /// The metric of every search.
    public let metric: DistanceMetric
    /// The bank `[M, D]` (rows L2-normalised for ``DistanceMetric/cosine``).
    public let bank: Tensor
    private let bankNorms: [Float]

    /// Number of bank entries `M`.
    public var count: Int { bank.shape[0] }
    /// Feature dimension `D`.
    public var dimension: Int { bank.shape[1] }

    static let queryBlock = 128
    static let bankBlock = 2048

    /// Indexes `bank` (`[M, D]`, finite, `M ≥ 1`).
    public init(bank: Tensor, metric: DistanceMetric = .euclidean) throws {
        try validateMatrix(bank, "bank")
        self.metric = metric
        self.bank = metric == .cosine ? try l2Normalised(bank, "bank") : bank
        self.bankNorms = self.bank.data.withUnsafeBufferPointer {
            rowSquaredNorms($0.baseAddress!, rows: bank.shape[0], dim: bank.shape[1])
        }
    }

    /// The `k` nearest bank entries of every row of `queries` (`[Q, D]`), searched in groups
    /// of `rowsPerGroup` consecutive rows (`Q` a multiple of it; nil = one group), each
    /// group's results independent of the others.
    public func search(_ queries: Tensor, k: Int, rowsPerGroup: Int? = nil) throws -> Neighbours {
        let queries = try prepared(queries, k: k)
        let group = rowsPerGroup ?? max(1, queries.shape[0])
        guard group >= 1 && queries.shape[0] % group == 0 else {
            throw ScorerError.invalidParameter(name: "rowsPerGroup", value: "\(group)",
                                               reason: "must divide the \(queries.shape[0]) query rows")
        }
        return run(queries, k: k, excludeSelf: false, rowsPerGroup: group)
    }

    /// `queries` checked (`[Q, D]`, finite, `1 ≤ k ≤ M`) and, for cosine, L2-normalised.
    func prepared(_ queries: Tensor, k: Int) throws -> Tensor {
        try validateMatrix(queries, "queries")
        guard queries.shape[1] == dimension else {
            throw ScorerError.badShape(argument: "queries", shape: queries.shape, expected: "[Q, \(dimension)]")
        }
        try checkK(k, available: count)
        return metric == .cosine ? try l2Normalised(queries, "queries") : queries
    }

    /// The `k` nearest of each query's `perQuery` candidate rows (`candidates` is
    /// `[Q · perQuery]`, -1 = none), distances computed directly as `Σ (q − m)²` in row
    /// order; ties go to the lower row. A query with fewer than `k` candidates is searched
    /// exactly. `queries` are ``prepared(_:k:)`` ones.
    func nearest(among candidates: [Int], perQuery: Int, queries: Tensor, k: Int) throws -> Neighbours {
        let q = queries.shape[0], d = dimension
        var distances = [Float](repeating: 0, count: q * k)
        var indices = [Int](repeating: 0, count: q * k)
        var short = [Int]()
        queries.data.withUnsafeBufferPointer { queryBuffer in
        bank.data.withUnsafeBufferPointer { bankBuffer in
            for i in 0..<q {
                let query = queryBuffer.baseAddress! + i * d
                var top = TopK(k: k)
                let rows = candidates[i * perQuery ..< (i + 1) * perQuery].filter { $0 >= 0 }.sorted()
                guard rows.count >= k else { short.append(i); continue }
                for row in rows {
                    let m = bankBuffer.baseAddress! + row * d
                    var sum: Float = 0
                    for j in 0..<d { let difference = query[j] - m[j]; sum += difference * difference }
                    if sum < top.worst { top.insert(sum, row) }
                }
                for j in 0..<k {
                    distances[i * k + j] = finish(top.distances[j])
                    indices[i * k + j] = top.indices[j]
                }
            }
        }
        }
        if !short.isEmpty {
            let found = run(gatherRows(queries, short), k: k, excludeSelf: false, rowsPerGroup: 1)
            for (position, i) in short.enumerated() {
                for j in 0..<k {
                    distances[i * k + j] = found.distances[position * k + j]
                    indices[i * k + j] = found.indices[position * k + j]
                }
            }
        }
        return Neighbours(k: k, distances: distances, indices: indices)
    }

    /// For every bank entry, its `k` nearest *other* bank entries
    /// (leave-one-out: entry `i` never counts as its own neighbour).
    public func searchLeavingOneOut(k: Int) throws -> Neighbours {
        try checkK(k, available: count - 1)
        return run(bank, k: k, excludeSelf: true, rowsPerGroup: max(1, count))
    }

    private func checkK(_ k: Int, available: Int) throws {
        guard k >= 1 else { throw ScorerError.invalidParameter(name: "k", value: "\(k)", reason: "must be at least 1") }
        guard k <= available else { throw ScorerError.notEnoughNeighbours(requested: k, available: available) }
    }

    private func run(_ queries: Tensor, k: Int, excludeSelf: Bool, rowsPerGroup: Int) -> Neighbours {
        let q = queries.shape[0], d = dimension, m = count
        var distances = [Float](repeating: 0, count: q * k)
        var indices = [Int](repeating: 0, count: q * k)
        let queryNorms = queries.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: q, dim: d) }
        // Query blocks (first row, rows): each group cut into blocks from its first row.
        let queryBlocks = stride(from: 0, to: q, by: rowsPerGroup).flatMap { group in
            stride(from: group, to: group + rowsPerGroup, by: Self.queryBlock).map {
                (start: $0, count: min(Self.queryBlock, group + rowsPerGroup - $0))
            }
        }
        let blocks = queryBlocks.count
        let workers = min(2, blocks)
        queries.data.withUnsafeBufferPointer { queryBuffer in
        bank.data.withUnsafeBufferPointer { bankBuffer in
        distances.withUnsafeMutableBufferPointer { distanceBuffer in
        indices.withUnsafeMutableBufferPointer { indexBuffer in
            let qp = queryBuffer.baseAddress!, bp = bankBuffer.baseAddress!
            let dOut = distanceBuffer.baseAddress!, iOut = indexBuffer.baseAddress!
            let work = { (worker: Int) in
                // All zero between products: the nearest-neighbour epilogue leaves it so, and
                // sgemm adds to it (beta 1, the same bits as beta 0 without a zeroing pass).
                var scratch = [Float](repeating: 0, count: Self.queryBlock * Self.bankBlock)
                let empty = TopK(k: k)
                var nearestDistance = [Float](repeating: .infinity, count: Self.queryBlock)
                var nearestIndex = [Int](repeating: -1, count: Self.queryBlock)
                scratch.withUnsafeMutableBufferPointer { scratchBuffer in
                queryNorms.withUnsafeBufferPointer { queryNormBuffer in
                bankNorms.withUnsafeBufferPointer { norms in
                    let s = scratchBuffer.baseAddress!
                    for block in stride(from: worker, to: blocks, by: workers) {
                        let (q0, qn) = queryBlocks[block]
                        // k = 1: each query's nearest so far (the AVX2 epilogue); more: its top k.
                        for i in 0..<qn { (nearestDistance[i], nearestIndex[i]) = (.infinity, -1) }
                        var bestPerQuery = [TopK](repeating: empty, count: k == 1 ? 0 : qn)
                        for b0 in stride(from: 0, to: m, by: Self.bankBlock) {
                            let bn = min(Self.bankBlock, m - b0)
                            // s[i, j] = −2 q_i · m_j
                            sgemm(m: qn, n: bn, k: d, alpha: -2, a: qp + q0 * d, lda: d,
                                  b: bp + b0 * d, ldb: d, transposeB: true, beta: 1, c: s, ldc: bn)
                            if k == 1 {
                                trawl_nearest_from_products(s, qn, bn, queryNormBuffer.baseAddress! + q0, norms.baseAddress! + b0,
                                                            excludeSelf ? 1 : 0, q0 - b0, b0, &nearestDistance, &nearestIndex)
                                continue
                            }
                            let blockNorms = norms.baseAddress! + b0
                            for i in 0..<qn {
                                let row = s + i * bn, qNorm = queryNorms[q0 + i]
                                let skip = excludeSelf ? q0 + i - b0 : -1
                                bestPerQuery[i].withUpdates { top in
                                    // The clamp at 0 keeps order, so the scan compares
                                    // unclamped values and clamps only what it keeps.
                                    var worst = top.worst
                                    for j in 0..<bn {
                                        let value = row[j] + qNorm + blockNorms[j]
                                        row[j] = 0
                                        if value < worst && j != skip {
                                            let dist = max(0, value)
                                            if dist < worst {
                                                top.insert(dist, b0 + j)
                                                worst = top.worst
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        for i in 0..<qn {
                            let out = (q0 + i) * k
                            for j in 0..<k {
                                let (distance, index) = k == 1 ? (nearestDistance[i], nearestIndex[i])
                                    : (bestPerQuery[i].distances[j], bestPerQuery[i].indices[j])
                                dOut[out + j] = finish(distance)
                                iOut[out + j] = index
                            }
                        }
                    }
                }
                }
                }
            }
            if workers > 1 {
                DispatchQueue.concurrentPerform(iterations: workers) { work($0) }
            } else {
                work(0)
            }
        }
        }
        }
        }
        return Neighbours(k: k, distances: distances, indices: indices)
    }

    /// From the internal squared-distance form to the reported distance.
    private func finish(_ squared: Float) -> Float {
        switch metric {
        case .euclidean: return squared.squareRoot()
        case .squaredEuclidean: return squared
        case .cosine: return squared / 2          // ‖a − b‖² = 2 − 2 cos for unit vectors
        }
    }
}

/// The `k` smallest (distance, index) pairs seen so far, ascending;
/// on equal distances the earlier-inserted (lower) index stays first.
struct TopK {
    private(set) var distances: [Float]
    private(set) var indices: [Int]
    private(set) var worst: Float = .infinity

    init(k: Int) {
        distances = [Float](repeating: .infinity, count: k)
        indices = [Int](repeating: -1, count: k)
    }

    /// Gives `body` exclusive access (one uniqueness check instead of one per insert).
    mutating func withUpdates(_ body: (inout TopK) -> Void) { body(&self) }

    /// Inserts a pair known to beat ``worst``.
    mutating func insert(_ distance: Float, _ index: Int) {
        var j = distances.count - 1
        while j > 0 && distances[j - 1] > distance {
            distances[j] = distances[j - 1]
            indices[j] = indices[j - 1]
            j -= 1
        }
        distances[j] = distance
        indices[j] = index
        worst = distances[distances.count - 1]
    }
}

/// Rows scaled to unit L2 norm; a zero row is an error (its cosine is undefined).
func l2Normalised(_ x: Tensor, _ argument: String) throws -> Tensor {
    let d = x.shape[1]
    var out = x
    for r in 0..<x.shape[0] {
        var s: Double = 0
        for j in 0..<d { let v = Double(x.data[r * d + j]); s += v * v }
        guard s > 0 else {
            throw ScorerError.invalidParameter(name: "\(argument) row \(r)", value: "zero vector",
                                               reason: "cosine distance is undefined for a zero vector")
        }
        let scale = Float(1 / s.squareRoot())
        for j in 0..<d { out.data[r * d + j] *= scale }
    }
    return out
}
