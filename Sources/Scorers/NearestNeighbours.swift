import CDistanceKernels
import Dispatch
import Foundation
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

/// Exact k-nearest-neighbour search by a fused kernel (`nearest_kernels.c` in `CDistanceKernels`).
///
/// A query `q`'s distance to a bank row `m` is `max(0, fma(−2, q·m, ‖q‖²) + ‖m‖²)`, with `q·m`
/// one fused multiply-add chain over the `D` dimensions in order (square root taken last for
/// ``DistanceMetric/euclidean``): the same bits whatever the queries searched with it, the
/// query's place among them, and the CPU path (AVX2+FMA or portable), so a result never depends
/// on its batch. Queries go to the cores in blocks of 256 (up to 1024 for many queries), packed
/// into panels of 16; the bank is read in L2-sized chunks. For `k = 1` the kernel copies each
/// chunk into 6-row tiles once per block, keeps each query's nearest row as it goes and writes
/// no distances; for more it writes a panel's distances to one chunk of the bank, read in place,
/// at a time for a top-k scan. Memory: one small buffer (at most a chunk) per block, whatever the sizes. Ties go to
/// the lower bank index.
///
/// On CPUs with AVX2, 1-NN searches first screen the bank with 8-bit codes of it (``ScreenedBank``,
/// a quarter of the bank's size, kept with the index): integer dot products give each distance
/// within a proven bound, and only the rows that bound cannot rule out get the float distance
/// above, so the results are the same bits as without the screen.
public struct NearestNeighbourIndex: Sendable {
    /// The metric of every search.
    public let metric: DistanceMetric
    /// The bank `[M, D]` (rows L2-normalised for ``DistanceMetric/cosine``).
    public let bank: Tensor
    private let bankNorms: [Float]
    /// The bank's 8-bit codes for 1-NN searches; nil where the screen does not apply.
    private let screen: ScreenedBank?

    /// Number of bank entries `M`.
    public var count: Int { bank.shape[0] }
    /// Feature dimension `D`.
    public var dimension: Int { bank.shape[1] }

    /// Queries per unit of work a core takes when searching `queries` rows: 256, or up to 1024
    /// in steps of 256 while every core still gets at least 8 blocks (the 1-NN kernel copies
    /// each bank chunk into its tiles once per block, so larger blocks copy less often).
    static func queryBlock(queries: Int) -> Int {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        return min(1024, max(256, queries / (8 * cores) / 256 * 256))
    }

    /// Indexes `bank` (`[M, D]`, finite, `M ≥ 1`).
    public init(bank: Tensor, metric: DistanceMetric = .euclidean) throws {
        try validateMatrix(bank, "bank")
        guard bank.shape[0] < Int(Int32.max) else {
            throw ScorerError.invalidParameter(name: "bank", value: "\(bank.shape[0]) rows", reason: "must be fewer than 2³¹")
        }
        self.metric = metric
        self.bank = metric == .cosine ? try l2Normalised(bank, "bank") : bank
        self.bankNorms = self.bank.data.withUnsafeBufferPointer {
            rowSquaredNorms($0.baseAddress!, rows: bank.shape[0], dim: bank.shape[1])
        }
        self.screen = ScreenedBank(self.bank)
    }

    /// An index over rows `rows` of this one's bank, as this one holds them (normalised for
    /// cosine, not again): a query's distance to each of them is bit for bit the one this
    /// index computes.
    func restricted(to rows: [Int]) -> NearestNeighbourIndex {
        NearestNeighbourIndex(metric: metric, bank: gatherRows(bank, rows), bankNorms: rows.map { bankNorms[$0] })
    }

    private init(metric: DistanceMetric, bank: Tensor, bankNorms: [Float]) {
        self.metric = metric
        self.bank = bank
        self.bankNorms = bankNorms
        self.screen = ScreenedBank(bank)
    }

    /// The `k` nearest bank entries of every row of `queries` (`[Q, D]`); each row's results
    /// are bit for bit those it gets searched alone.
    public func search(_ queries: Tensor, k: Int) throws -> Neighbours {
        run(try prepared(queries, k: k), k: k, excludeSelf: false)
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
            let found = run(gatherRows(queries, short), k: k, excludeSelf: false)
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
        return run(bank, k: k, excludeSelf: true)
    }

    private func checkK(_ k: Int, available: Int) throws {
        guard k >= 1 else { throw ScorerError.invalidParameter(name: "k", value: "\(k)", reason: "must be at least 1") }
        guard k <= available else { throw ScorerError.notEnoughNeighbours(requested: k, available: available) }
    }

    private func run(_ queries: Tensor, k: Int, excludeSelf: Bool) -> Neighbours {
        let q = queries.shape[0], d = dimension
        var distances = [Float](repeating: 0, count: q * k)
        var indices = [Int](repeating: 0, count: q * k)
        let queryNorms = queries.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: q, dim: d) }
        queries.data.withUnsafeBufferPointer { queryBuffer in
        distances.withUnsafeMutableBufferPointer { distanceBuffer in
        indices.withUnsafeMutableBufferPointer { indexBuffer in
            let (queryPointer, distanceOut, indexOut) = (queryBuffer.baseAddress!, distanceBuffer.baseAddress!, indexBuffer.baseAddress!)
            let queryBlock = Self.queryBlock(queries: q)
            DispatchQueue.concurrentPerform(iterations: (q + queryBlock - 1) / queryBlock) { block in
                let q0 = block * queryBlock, rows = min(queryBlock, q - q0)
                let (found, rowOf): ([Float], [Int])
                if k == 1, !excludeSelf, let screen, screen.pays {
                    (found, rowOf) = screenedNearest(screen, queryPointer + q0 * d, rows: rows,
                                                     norms: Array(queryNorms[q0 ..< q0 + rows]))
                } else {
                    let panels = QueryPanels(queryPointer + q0 * d, rows: rows, dim: d, norms: queryNorms[q0 ..< q0 + rows])
                    // Query i's own bank row (leave-one-out) is q0 + i.
                    (found, rowOf) = k == 1 ? nearest(panels, ownOffset: excludeSelf ? q0 : nil)
                                            : nearestK(panels, k: k, ownOffset: excludeSelf ? q0 : nil)
                }
                for i in 0 ..< rows * k {
                    distanceOut[q0 * k + i] = finish(found[i])
                    indexOut[q0 * k + i] = rowOf[i]
                }
            }
        }
        }
        }
        return Neighbours(k: k, distances: distances, indices: indices)
    }

    /// Each query's nearest row, `[rows]` squared distances and rows, by the kernel that keeps
    /// the running nearest (query i never takes row `ownOffset + i`).
    private func nearest(_ panels: QueryPanels, ownOffset: Int?) -> ([Float], [Int]) {
        var distances = [Float](repeating: 0, count: panels.lanes)
        var rows = [Int32](repeating: 0, count: panels.lanes)
        bank.data.withUnsafeBufferPointer { bankBuffer in
            trawl_nearest_rows(panels.packed, panels.count, panels.norms, bankBuffer.baseAddress!, count, dimension,
                               bankNorms, ownOffset == nil ? 0 : 1, ownOffset ?? 0, &distances, &rows)
        }
        return (Array(distances.prefix(panels.rows)), rows.prefix(panels.rows).map(Int.init))
    }

    /// Each of `rows` row-major queries' nearest row, `[rows]` squared distances and rows, through
    /// the bank's screen (which tallies how many it had to pass on): bit for bit what
    /// ``nearest(_:ownOffset:)`` finds.
    private func screenedNearest(_ screen: ScreenedBank, _ queries: UnsafePointer<Float>, rows: Int,
                                 norms: [Float]) -> ([Float], [Int]) {
        var distances = [Float](repeating: 0, count: rows)
        var found = [Int32](repeating: 0, count: rows)
        let overflowed = bank.data.withUnsafeBufferPointer { bankBuffer in
            trawl_screened_nearest_rows(screen.codes, queries, rows, norms, bankBuffer.baseAddress!, bankNorms,
                                        &distances, &found)
        }
        screen.record(queries: rows, overflowed: overflowed)
        return (distances, found.map(Int.init))
    }

    /// Each query's `k` nearest rows, `[rows · k]` squared distances and rows, nearest first:
    /// each panel's distances to one chunk of the bank at a time, scanned in row order.
    private func nearestK(_ panels: QueryPanels, k: Int, ownOffset: Int?) -> ([Float], [Int]) {
        let (m, d, lanes) = (count, dimension, Int(TRAWL_QUERY_PANEL_ROWS))
        let chunk = trawl_bank_chunk_rows(d)
        var best = [TopK](repeating: TopK(k: k), count: panels.rows)
        var scratch = [Float](repeating: 0, count: chunk * lanes)
        bank.data.withUnsafeBufferPointer { bankBuffer in
        bankNorms.withUnsafeBufferPointer { norms in
        scratch.withUnsafeMutableBufferPointer { scratchBuffer in
            let s = scratchBuffer.baseAddress!
            for b0 in stride(from: 0, to: m, by: chunk) {
                let rows = min(chunk, m - b0)
                for p in 0..<panels.count {
                    trawl_panel_distances(panels.packed + p * lanes * d, panels.norms + p * lanes,
                                          bankBuffer.baseAddress! + b0 * d, rows, d, norms.baseAddress! + b0,
                                          ownOffset == nil ? 0 : 1, (ownOffset ?? 0) + p * lanes - b0, s)
                    for lane in 0 ..< min(lanes, panels.rows - p * lanes) {
                        best[p * lanes + lane].withUpdates { top in
                            var worst = top.worst
                            for j in 0..<rows where s[j * lanes + lane] < worst {
                                top.insert(s[j * lanes + lane], b0 + j)
                                worst = top.worst
                            }
                        }
                    }
                }
            }
        }
        }
        }
        return (best.flatMap(\.distances), best.flatMap(\.indices))
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

/// A bank's 8-bit codes for the screened 1-NN kernel (`screened_nearest.h`), freed with it, and
/// a tally of how the screen fares on the queries it gets.
final class ScreenedBank: @unchecked Sendable {   // codes immutable after init; the tally behind `lock`
    let codes: OpaquePointer
    private let lock = NSLock()
    private var screened = 0, overflowed = 0

    /// Whether searches should go through the screen: for the first 4,096 queries, then while fewer
    /// than a quarter of them kept too many rows for it and so paid for both the screen and the
    /// float kernel (rows that lie within the codes' error of each other: many duplicates, or
    /// values far from 0 whose float rounding widens every window).
    var pays: Bool {
        lock.lock()
        defer { lock.unlock() }
        return screened < 4096 || overflowed * 4 < screened
    }

    /// Counts `queries` screened, `overflowed` of which went to the float kernel.
    func record(queries: Int, overflowed count: Int) {
        lock.lock()
        defer { lock.unlock() }
        screened += queries
        overflowed += count
    }

    /// Nil where the screen does not apply (no AVX2+FMA, more than 2048 dimensions, huge values).
    init?(_ bank: Tensor) {
        let made = bank.data.withUnsafeBufferPointer {
            trawl_screened_bank_make($0.baseAddress!, bank.shape[0], bank.shape[1])
        }
        guard let made else { return nil }
        codes = made
    }

    deinit { trawl_screened_bank_free(codes) }
}

/// A block of query rows packed for the kernel: panels of 16 queries (`[dim][16]` each, zero
/// past the last row) and their squared norms (`[count · 16]`, zero past the last row).
private final class QueryPanels {
    let rows: Int, count: Int
    let packed: UnsafeMutablePointer<Float>
    let norms: UnsafeMutablePointer<Float>
    var lanes: Int { count * Int(TRAWL_QUERY_PANEL_ROWS) }

    init(_ queries: UnsafePointer<Float>, rows: Int, dim: Int, norms rowNorms: ArraySlice<Float>) {
        self.rows = rows
        count = (rows + Int(TRAWL_QUERY_PANEL_ROWS) - 1) / Int(TRAWL_QUERY_PANEL_ROWS)
        packed = .allocate(capacity: count * Int(TRAWL_QUERY_PANEL_ROWS) * dim)
        trawl_pack_query_panels(queries, rows, dim, packed)
        norms = .allocate(capacity: count * Int(TRAWL_QUERY_PANEL_ROWS))
        norms.initialize(repeating: 0, count: count * Int(TRAWL_QUERY_PANEL_ROWS))
        for (i, norm) in rowNorms.enumerated() { norms[i] = norm }
    }

    deinit {
        packed.deallocate()
        norms.deallocate()
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
