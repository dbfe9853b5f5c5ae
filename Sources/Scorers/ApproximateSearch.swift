#if canImport(CFaiss)
import CFaiss
#endif
import Foundation
import Tensors

/// A faiss index (Johnson, Douze and Jégou, "Billion-scale similarity search with GPUs",
/// IEEE TBD 2019) that finds the nearest bank rows of a query without scanning the whole
/// bank: what PatchCore and image kNN search with when their bank is too large for exact
/// search. faiss picks the candidate rows; their distances are then computed exactly from
/// the stored rows (so a found neighbour's distance is exact, only the choice may miss).
public struct ApproximateSearch: Hashable, Sendable {
    public enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// Inverted file over `lists` k-means cells; a search scans the `probe` nearest cells
        /// (`probe = lists` is exact search).
        case ivfFlat(lists: Int, probe: Int)
        /// Hierarchical navigable small-world graph (Malkov and Yashunin, TPAMI 2020) with
        /// `m` links per node, `efSearch` candidates kept per search.
        case hnsw(m: Int, efSearch: Int)
        /// Inverted file with product-quantised residuals (Jégou et al., TPAMI 2011):
        /// `codeBytes` bytes a row; the `rerank` best PQ candidates are re-ranked exactly.
        case ivfPQ(lists: Int, codeBytes: Int, probe: Int, rerank: Int)

        /// The spec's name of the kind: `ivf_flat`, `hnsw`, `ivf_pq`.
        public var name: String {
            switch self {
            case .ivfFlat: return "ivf_flat"
            case .hnsw: return "hnsw"
            case .ivfPQ: return "ivf_pq"
            }
        }

        /// The kind and its parameters as a spec writes them: `hnsw m=32 ef_search=64`.
        public var description: String {
            switch self {
            case let .ivfFlat(lists, probe): return "ivf_flat lists=\(lists) probe=\(probe)"
            case let .hnsw(m, efSearch): return "hnsw m=\(m) ef_search=\(efSearch)"
            case let .ivfPQ(lists, codeBytes, probe, rerank):
                return "ivf_pq lists=\(lists) code_bytes=\(codeBytes) probe=\(probe) rerank=\(rerank)"
            }
        }
    }

    public var kind: Kind
    /// Seeds the k-means of the IVF kinds and the HNSW level draws.
    public var seed: UInt64

    public init(_ kind: Kind, seed: UInt64) {
        self.kind = kind
        self.seed = seed
    }

    /// Whether this build of Trawl includes faiss (the CFaiss shim, built when libfaiss-dev is installed).
    public static var isAvailable: Bool {
        #if canImport(CFaiss)
        return true
        #else
        return false
        #endif
    }

    /// What asking for index `kind` says when ``isAvailable`` is false: how to install faiss.
    public static func notInstalledMessage(kind: String) -> String {
        "index kind \"\(kind)\" needs faiss, which this build of trawl does not include. Install it "
            + "(`make setup`, or `apt-get install libfaiss-dev` on Debian/Ubuntu), then rebuild: "
            + "`touch Package.swift && make build` (the manifest adds the faiss shim when /usr/include/faiss exists). "
            + "Or use {\"kind\": \"exact\"}."
    }

    /// Bank rows each k-means cell needs for faiss to train well (its `min_points_per_centroid`).
    public static let rowsPerList = 39

    /// Checks the parameters against a bank of `rows` rows of `dimension` values: an IVF kind
    /// needs ``rowsPerList`` rows per list (it errors, never clamps), IVF-PQ's `codeBytes` must
    /// divide `dimension` and its 256-centroid sub-quantizers need 256 rows.
    public func check(rows: Int, dimension: Int) throws {
        func invalid(_ name: String, _ value: Int, _ reason: String) -> ScorerError {
            .invalidParameter(name: "index.\(name)", value: "\(value)", reason: reason)
        }
        switch kind {
        case .ivfFlat(let lists, let probe), .ivfPQ(let lists, _, let probe, _):
            guard lists >= 1 && probe >= 1 && probe <= lists else {
                throw invalid("probe", probe, "must be in 1...lists (\(lists))")
            }
            guard rows >= Self.rowsPerList * lists else {
                throw invalid("lists", lists, "k-means needs \(Self.rowsPerList) bank rows per list and the bank has "
                              + "\(rows) rows: use lists ≤ \(max(1, rows / Self.rowsPerList))")
            }
            if case .ivfPQ(_, let codeBytes, _, let rerank) = kind {
                guard codeBytes >= 1 && dimension % codeBytes == 0 else {
                    throw invalid("code_bytes", codeBytes, "must divide the feature dimension \(dimension)")
                }
                guard rows >= 256 else {
                    throw invalid("code_bytes", codeBytes, "product quantisation trains 256 centroids per byte "
                                  + "and the bank has \(rows) rows (needs 256)")
                }
                guard rerank >= 1 else { throw invalid("rerank", rerank, "must be at least 1") }
            }
        case .hnsw(let m, let efSearch):
            guard m >= 2 else { throw invalid("m", m, "must be at least 2") }
            guard efSearch >= 1 else { throw invalid("ef_search", efSearch, "must be at least 1") }
        }
    }
}

/// A faiss index built over the bank of an exact ``NearestNeighbourIndex`` (its rows as it
/// holds them: L2-normalised for cosine, where L2 order is cosine order).
///
/// Deterministic: k-means and HNSW levels are seeded, HNSW inserts rows on one thread (faiss
/// inserts in parallel, which would make the graph depend on thread timing), IVF assignment
/// and search do not depend on the thread count, and distances are recomputed in Swift.
public final class ApproximateNeighbourIndex: @unchecked Sendable {
    // @unchecked: the handle is written once in init and only read by faiss's const search.
    public let settings: ApproximateSearch
    /// The exact index whose rows this one searches and re-ranks from.
    public let exact: NearestNeighbourIndex
    /// Wall time of training and adding the rows, seconds.
    public let buildSeconds: Double
    /// Bytes faiss holds for the index (cells, codes, graph), beyond ``exact``'s rows.
    public let memoryBytes: Int
    #if canImport(CFaiss)
    private let handle: OpaquePointer
    #endif

    /// Builds the index of `settings` over `exact`'s bank; throws when faiss is not in this
    /// build, the parameters do not fit the bank, or faiss fails (with its message).
    public init(_ settings: ApproximateSearch, over exact: NearestNeighbourIndex) throws {
        try settings.check(rows: exact.count, dimension: exact.dimension)
        self.settings = settings
        self.exact = exact
        #if canImport(CFaiss)
        let clock = Date()
        // faiss assigns rows to cells with BLAS products: on one OpenBLAS thread their bits,
        // and so the cells, do not depend on the thread count.
        BLASThreads.pinToOne()
        var message = [CChar](repeating: 0, count: 512)
        let rows = Int64(exact.count), d = Int64(exact.dimension)
        let built: OpaquePointer? = exact.bank.data.withUnsafeBufferPointer { bank in
            message.withUnsafeMutableBufferPointer { error in
                let b = bank.baseAddress!, e = error.baseAddress!, size = error.count
                switch settings.kind {
                case let .ivfFlat(lists, probe):
                    return trawl_faiss_ivf_flat(b, rows, d, Int64(lists), Int64(probe), settings.seed, e, size)
                case let .hnsw(m, efSearch):
                    return trawl_faiss_hnsw(b, rows, d, Int64(m), Int64(efSearch), settings.seed, e, size)
                case let .ivfPQ(lists, codeBytes, probe, _):
                    return trawl_faiss_ivf_pq(b, rows, d, Int64(lists), Int64(codeBytes), Int64(probe), settings.seed, e, size)
                }
            }
        }
        guard let built else {
            throw ScorerError.invalidParameter(name: "index", value: settings.kind.name,
                                               reason: "faiss failed: " + String(cString: message))
        }
        handle = built
        memoryBytes = Int(trawl_faiss_memory_bytes(built))
        buildSeconds = Date().timeIntervalSince(clock)
        #else
        throw ScorerError.invalidParameter(name: "index", value: settings.kind.name,
                                           reason: ApproximateSearch.notInstalledMessage(kind: settings.kind.name))
        #endif
    }

    /// Sets the OpenMP threads faiss uses in later builds and searches (results do not
    /// depend on it; tests and the bench compare thread counts). No effect without faiss.
    public static func setThreadCount(_ threads: Int) {
        #if canImport(CFaiss)
        trawl_faiss_set_threads(Int32(max(1, threads)))
        #endif
    }

    deinit {
        #if canImport(CFaiss)
        trawl_faiss_free(handle)
        #endif
    }

    /// The `k` nearest bank rows of every row of `queries` (`[Q, D]`), distances in the exact
    /// index's metric. faiss proposes `k` candidates (IVF-PQ: `max(k, rerank)`); a query
    /// for which it finds fewer than `k` (its probed cells hold too few rows) is searched exactly.
    /// `probe` (IVF kinds, 1...lists) scans that many cells instead of the settings' `probe`,
    /// without rebuilding: how a probe/recall/speed curve is measured on one index.
    public func search(_ queries: Tensor, k: Int, probe: Int? = nil) throws -> Neighbours {
        if let probe {
            switch settings.kind {
            case .ivfFlat(let lists, _), .ivfPQ(let lists, _, _, _):
                guard (1...lists).contains(probe) else {
                    throw ScorerError.invalidParameter(name: "index.probe", value: "\(probe)", reason: "must be in 1...lists (\(lists))")
                }
            case .hnsw:
                throw ScorerError.invalidParameter(name: "index.probe", value: "\(probe)", reason: "hnsw has no probe")
            }
        }
        let prepared = try exact.prepared(queries, k: k)
        BLASThreads.pinToOne()   // the coarse quantizer ranks cells with BLAS products
        let candidates: Int
        if case .ivfPQ(_, _, _, let rerank) = settings.kind { candidates = min(max(k, rerank), exact.count) } else { candidates = k }
        let q = prepared.shape[0]
        var labels = [Int64](repeating: -1, count: q * candidates)
        #if canImport(CFaiss)
        var distances = [Float](repeating: 0, count: q * candidates)
        var message = [CChar](repeating: 0, count: 512)
        let status = prepared.data.withUnsafeBufferPointer { queryBuffer in
            distances.withUnsafeMutableBufferPointer { distanceBuffer in
                labels.withUnsafeMutableBufferPointer { labelBuffer in
                    message.withUnsafeMutableBufferPointer { error in
                        trawl_faiss_search(handle, queryBuffer.baseAddress!, Int64(q), Int64(candidates), Int64(probe ?? 0),
                                           distanceBuffer.baseAddress!, labelBuffer.baseAddress!,
                                           error.baseAddress!, error.count)
                    }
                }
            }
        }
        guard status == 0 else {
            throw ScorerError.invalidParameter(name: "index", value: settings.kind.name,
                                               reason: "faiss search failed: " + String(cString: message))
        }
        #endif
        return try exact.nearest(among: labels.map(Int.init), perQuery: candidates, queries: prepared, k: k)
    }

    /// Share of `queries` (`[Q, D]`) whose nearest row this index finds as exact search
    /// does (faiss's recall@1), with the wall time of both searches, seconds.
    public func recallAtOne(_ queries: Tensor) throws -> (recall: Double, seconds: Double, exactSeconds: Double) {
        let clock = Date()
        let found = try search(queries, k: 1)
        let seconds = Date().timeIntervalSince(clock)
        let exactClock = Date()
        let truth = try exact.search(queries, k: 1)
        let exactSeconds = Date().timeIntervalSince(exactClock)
        return (found.recallAtOne(against: truth), seconds, exactSeconds)
    }
}
