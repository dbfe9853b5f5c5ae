import CDistanceKernels
import Dispatch
import Tensors

/// Greedy k-center coreset selection (PatchCore's memory-bank subsampling).
///
/// Follows the reference `ApproximateGreedyCoresetSampler`
/// (amazon-science/patchcore-inspection, `sampler.py`):
/// 1. features of dimension `D > projectionDimension` are mapped to
///    `projectionDimension` (128) dims by a seeded random Gaussian matrix
///    (entries `N(0, 1/128)`; the reference uses an untrained
///    `torch.nn.Linear`, i.e. uniform entries, and projects whenever `D ≠ 128`);
/// 2. the running distance of every point starts either as its mean
///    euclidean distance to `n` seeded random start points that are *not*
///    themselves selected (``Start/referenceMean(points:)``, the reference's
///    behaviour with `n = 10`) or as its distance to one seeded random point
///    that is selected first (``Start/randomPoint``);
/// 3. each step selects the point with the largest running distance (ties:
///    lowest index, as `torch.argmax`) and lowers every running distance to
///    its distance from the new centre.
///
/// The selection is exactly that greedy sequence, computed lazily: points
/// live in blocks of 1024 rows that remember an upper bound of their largest
/// running distance; a step brings only the blocks whose bound can still beat
/// the best exact value up to date, two at a time, against the centres each
/// has not yet seen, in chunks of 256, by fused kernels (`coreset_lowering.c`) whose
/// arithmetic is that of OpenBLAS 0.3.21's Haswell/Zen sgemm per block and chunk, on every
/// CPU, whatever OpenBLAS is installed: the selection never depends on the machine. The
/// projection and the start distances are products on Trawl's GEMM (``matmul(_:_:transposeB:)``).
/// Memory is `O(N · 128)` (the projected points, twice: row-major and tiled) plus the
/// centres; no `N × k` matrix exists.
public struct CoresetSampler: Sendable {
    /// How many points to keep.
    public enum Size: Sendable, Equatable {
        /// `floor(N · fraction)` points (at least 1), `0 < fraction ≤ 1`.
        case fraction(Double)
        /// Exactly this many points, `1 ≤ count ≤ N`.
        case count(Int)
    }

    /// How the running distances start.
    public enum Start: Sendable, Equatable {
        /// Mean euclidean distance to `points` seeded random points, none of
        /// them selected (the reference, with 10 points).
        case referenceMean(points: Int)
        /// Distance to one seeded random point, which is the first selection.
        case randomPoint
    }

    public var size: Size
    public var start: Start
    /// Dimension of the random projection; features with `D` at most this are used as they are.
    public var projectionDimension: Int
    public var seed: UInt64
    /// Draw a progress bar (steps, %, ETA) on stderr.
    public var showsProgress: Bool

    public init(size: Size, start: Start = .referenceMean(points: 10), projectionDimension: Int = 128,
                seed: UInt64 = 0, showsProgress: Bool = true) {
        self.size = size
        self.start = start
        self.projectionDimension = projectionDimension
        self.seed = seed
        self.showsProgress = showsProgress
    }

    /// Indices of the selected rows of `features` (`[N, D]`), in selection order.
    public func select(from features: Tensor) throws -> [Int] {
        try validateMatrix(features, "coreset features")
        let target = try targetCount(features.shape[0])
        let prepared = prepare(features)
        return greedySelection(prepared, count: target)
    }

    /// The selected rows, `[k, D]`, in selection order.
    public func sample(_ features: Tensor) throws -> Tensor {
        let indices = try select(from: features)
        return gatherRows(features, indices)
    }

    /// How many times the final share of its rows each shard keeps in the first round of
    /// ``select(from:shards:)``. With 1, the second pass could only drop points and every
    /// shard would already have fixed which of its regions are covered; with 2, the union
    /// holds two candidates per final centre, so the second greedy pass can still choose
    /// the globally farthest ones (Malkomes et al. keep k + z per machine for the same
    /// reason), at the cost of a second pass over 2 × the final count.
    public static let shardOversampling = 2

    /// The two-round distributed greedy k-center selection (Malkomes, Kusner, Chen,
    /// Weinberger and Moseley, "Fast distributed k-center clustering with outliers on
    /// massive data", NeurIPS 2015): every shard (row indices of `features`, `[N, D]`)
    /// selects greedily ``shardOversampling`` × its share of the final count from its own
    /// rows, the shards in parallel; then one greedy pass over their union (in ascending
    /// row order) selects ``targetCount(_:)`` of `N`, the same count as ``select(from:)``.
    /// Every pass uses this sampler's start, projection and seed. Returns row indices of
    /// `features` in the final selection order; one shard holding every row gives exactly
    /// ``select(from:)``'s selection. Deterministic for given shards, whatever the thread count.
    public func select(from features: Tensor, shards: [[Int]]) throws -> [Int] {
        try validateMatrix(features, "coreset features")
        let n = features.shape[0]
        let target = try targetCount(n)
        let groups = shards.filter { !$0.isEmpty }
        guard groups.reduce(0, { $0 + $1.count }) == n, Set(groups.joined()).count == n,
              groups.allSatisfy({ $0.allSatisfy { (0..<n).contains($0) } }) else {
            throw ScorerError.invalidParameter(name: "coreset shards", value: "\(shards.count) shards",
                                               reason: "must hold every one of the \(n) rows exactly once")
        }
        if groups.count == 1 { return try select(from: features) }
        var firstRound = [[Int]](repeating: [], count: groups.count)
        firstRound.withUnsafeMutableBufferPointer { results in
            DispatchQueue.concurrentPerform(iterations: groups.count) { shard in
                let rows = groups[shard]
                let share = Double(target) * Double(Self.shardOversampling) * Double(rows.count) / Double(n)
                var sampler = self
                sampler.showsProgress = false
                let points = sampler.prepare(gatherRows(features, rows))
                let selected = sampler.greedySelection(points, count: min(rows.count, max(1, Int(share.rounded(.up)))),
                                                       startsHelper: false)
                results[shard] = selected.map { rows[$0] }
            }
        }
        let union = firstRound.joined().sorted()
        var final = self
        final.size = .count(target)
        return try final.select(from: gatherRows(features, union)).map { union[$0] }
    }

    /// How many of `n` points ``size`` keeps.
    public func targetCount(_ n: Int) throws -> Int {
        switch size {
        case .fraction(let f):
            guard f > 0 && f <= 1 else {
                throw ScorerError.invalidParameter(name: "coreset fraction", value: "\(f)", reason: "must be in (0, 1]")
            }
            return max(1, Int(Double(n) * f))
        case .count(let c):
            guard c >= 1 && c <= n else {
                throw ScorerError.invalidParameter(name: "coreset count", value: "\(c)",
                                                   reason: "must be in 1...\(n) (the number of features)")
            }
            return c
        }
    }

    /// Projected, column-centred points and the start indices drawn from the seed.
    struct Prepared {
        var points: Tensor
        var starts: [Int]
    }

    func prepare(_ features: Tensor) -> Prepared {
        var random = SeededRandom(seed: seed)
        let n = features.shape[0], d = features.shape[1]
        var points = features
        if d > projectionDimension {
            let scale = 1 / Double(projectionDimension).squareRoot()
            let projection = Tensor(shape: [d, projectionDimension],
                                    data: (0..<d * projectionDimension).map { _ in Float(random.nextGaussian() * scale) })
            points = matmul(features, projection)
        }
        // Centring changes no distance but removes cancellation in ‖p‖² + ‖c‖² − 2p·c.
        let width = points.shape[1]
        var mean = [Double](repeating: 0, count: width)
        for r in 0..<n { for j in 0..<width { mean[j] += Double(points.data[r * width + j]) } }
        for r in 0..<n { for j in 0..<width { points.data[r * width + j] -= Float(mean[j] / Double(n)) } }
        let starts: [Int]
        switch start {
        case .referenceMean(let count): starts = random.distinctIndices(min(max(count, 1), n), from: n)
        case .randomPoint: starts = random.distinctIndices(1, from: n)
        }
        return Prepared(points: points, starts: starts)
    }

    static let blockRows = 1024
    static let centreChunk = 256

    /// Threads a round's work is dealt to (a fixed count: results do not depend on it).
    static let workers = 2
    /// Most blocks refreshed in one round (the unrefreshed ones with the largest bounds).
    static let blocksPerRound = 2

    /// The rows a block lowered against `centres` unseen centres may be cut at when two workers
    /// share it: whole tiles (8 rows) where every chunk takes the small-chunk kernel, whole
    /// twelve-row calls where every chunk takes the OpenBLAS-order kernel, both (24) where its
    /// last chunk takes the small-chunk kernel and the others the OpenBLAS-order one.
    static func rowQuantum(centres: Int) -> Int {
        let small = Int(TRAWL_MAX_LOWERING_CENTRES), tile = Int(TRAWL_TILE_ROWS), call = 12
        if centres <= small { return tile }
        return (1...small).contains(centres % centreChunk) ? 24 : call
    }

    /// The rows of each candidate block (`rows` of them, against `centres` unseen centres) that
    /// each worker lowers: every block is cut into two halves at the cut its
    /// ``rowQuantum(centres:)`` allows nearest to its middle, so both workers run the same mix of
    /// kernels and finish together. Every row belongs to exactly one worker.
    static func deal(_ blocks: [(rows: Int, centres: Int)]) -> [[(slot: Int, rows: Range<Int>)]] {
        var shares = [[(slot: Int, rows: Range<Int>)]](repeating: [], count: workers)
        for (slot, block) in blocks.enumerated() {
            let quantum = rowQuantum(centres: block.centres)
            let middle = (block.rows / 2 + quantum / 2) / quantum * quantum
            let cut = middle == 0 ? block.rows : min(block.rows, middle)   // too short to halve: whole
            shares[0].append((slot, 0..<cut))
            if cut < block.rows { shares[1].append((slot, cut..<block.rows)) }
        }
        return shares
    }

    /// The greedy selection of `target` points; `startsHelper` false keeps it on the calling
    /// thread (the shards of ``select(from:shards:)``, which already run on every core).
    func greedySelection(_ prepared: Prepared, count target: Int, startsHelper: Bool = true) -> [Int] {
        let points = prepared.points
        let n = points.shape[0], d = points.shape[1]
        let blockRows = Self.blockRows
        let blockCount = (n + blockRows - 1) / blockRows
        let norms = points.data.withUnsafeBufferPointer { rowSquaredNorms($0.baseAddress!, rows: n, dim: d) }

        // Running squared distances; selected points hold −1 and are never chosen again.
        var running = [Float](repeating: .infinity, count: n)
        var centres = [Float](repeating: 0, count: target * d)
        var centreNorms = [Float](repeating: 0, count: target)
        var selected = [Int]()
        selected.reserveCapacity(target)

        if case .referenceMean = start {
            running = meanStartDistances(points, norms: norms, starts: prepared.starts)
        }
        var blockMax = [Float](repeating: .infinity, count: blockCount)
        var blockArgmax = (0..<blockCount).map { $0 * blockRows }
        var blockSeen = [Int](repeating: 0, count: blockCount)   // centres applied to the block
        if case .referenceMean = start {
            running.withUnsafeMutableBufferPointer { values in
                for b in 0..<blockCount {
                    (blockMax[b], blockArgmax[b]) = Self.maximum(values.baseAddress!, b * blockRows, min(n, (b + 1) * blockRows))
                }
            }
        }

        var progress = showsProgress ? ProgressBar(label: "coreset", total: target) : nil
        var refreshed = [Bool](repeating: false, count: blockCount)
        let chunk = Self.centreChunk
        // Each piece's scratch (``deal`` cuts each of a round's blocks into at most one piece per
        // worker): a chunk of centres packed for the OpenBLAS-order kernel and their norms.
        let maximumPieces = Self.blocksPerRound * Self.workers
        let scratchSize = chunk * d + chunk
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: maximumPieces * scratchSize)
        scratch.initialize(repeating: 0, count: maximumPieces * scratchSize)
        defer { scratch.deallocate() }
        // The points eight rows at a time dimension-major, for the kernels (blocks start at a tile).
        let tileFloats = (n + Int(TRAWL_TILE_ROWS) - 1) / Int(TRAWL_TILE_ROWS) * Int(TRAWL_TILE_ROWS) * d
        let tiles = UnsafeMutablePointer<Float>.allocate(capacity: tileFloats)
        defer { tiles.deallocate() }
        points.data.withUnsafeBufferPointer { trawl_pack_rows($0.baseAddress!, n, d, tiles) }
        // The 8-bit screen, where the CPU and the dimension allow it (same bits either way), and
        // each piece's scratch for it.
        let screen = points.data.withUnsafeBufferPointer { trawl_coreset_screen_make($0.baseAddress!, n, d, target) }
        defer { trawl_coreset_screen_free(screen) }
        let screenScratchSize = screen.map { trawl_coreset_screen_scratch_bytes($0, chunk) } ?? 0
        let screenScratch = UnsafeMutableRawPointer.allocate(byteCount: max(1, maximumPieces * screenScratchSize),
                                                             alignment: 64)
        defer { screenScratch.deallocate() }

        func addCentre(_ index: Int, _ running: UnsafeMutablePointer<Float>) {
            let slot = selected.count
            for j in 0..<d { centres[slot * d + j] = points.data[index * d + j] }
            centreNorms[slot] = norms[index]
            if let screen { centres.withUnsafeBufferPointer { trawl_coreset_screen_add_centre(screen, slot, $0.baseAddress! + slot * d) } }
            running[index] = -1
            selected.append(index)
        }

        // The round's two workers: this thread and, with a second CPU, a helper thread kept for the
        // whole selection (a round lasts well under a millisecond, too short to wake a thread for).
        let workers = WorkerPair(startsHelper: startsHelper)
        // Each piece's largest running distance and its first index.
        var pieceMaxima = [(value: Float, index: Int)](repeating: (-.infinity, -1), count: maximumPieces)

        running.withUnsafeMutableBufferPointer { runningBuffer in
        norms.withUnsafeBufferPointer { normBuffer in
            let runningBase = runningBuffer.baseAddress!
            let normBase = normBuffer.baseAddress!
            if case .randomPoint = start { addCentre(prepared.starts[0], runningBase) }
            while selected.count < target {
                let seenNow = selected.count
                for b in 0..<blockCount { refreshed[b] = false }
                var best: Float = -.infinity, bestIndex = -1
                while true {
                    // The (up to ``blocksPerRound``) unrefreshed blocks with the largest bounds that can still win.
                    var candidates = [Int]()
                    for _ in 0..<Self.blocksPerRound {
                        var top = -1
                        for b in 0..<blockCount where !refreshed[b] && !candidates.contains(b) {
                            if top < 0 || blockMax[b] > blockMax[top] { top = b }
                        }
                        guard top >= 0 else { break }
                        let bound = blockMax[top]
                        let canWin = bound > best || (bound == best && top * blockRows < bestIndex)
                        if canWin { candidates.append(top) }
                        if !canWin { break }
                    }
                    if candidates.isEmpty { break }
                    // The round's work: every candidate block against the centres it has not seen,
                    // its rows dealt to the two workers in pieces. Each row is lowered by one
                    // piece, with the bits of one sgemm per block and chunk, so neither the dealing
                    // nor the thread a piece runs on changes any result. Each piece then finds the
                    // largest value in its rows.
                    let rowRanges = candidates.map { b in b * blockRows ..< min(n, (b + 1) * blockRows) }
                    let shares = Self.deal(zip(candidates, rowRanges).map { ($1.count, seenNow - blockSeen[$0]) })
                    // Worker 0's pieces from the front, worker 1's from the back (see `WorkerPair`).
                    let pieces = shares[0] + shares[1].reversed()
                    precondition(pieces.count <= maximumPieces, "\(pieces.count) pieces for \(maximumPieces) scratch areas")
                    centres.withUnsafeBufferPointer { c in
                    centreNorms.withUnsafeBufferPointer { cn in
                    pieceMaxima.withUnsafeMutableBufferPointer { maxima in
                        let maxima = maxima.baseAddress!
                        workers.run(pieces: pieces.count) { i in
                            let (slot, rows) = pieces[i], r0 = rowRanges[slot].lowerBound
                            Self.lowerRunning(tiles: tiles + r0 * d,
                                              norms: normBase + r0, blockRows: rowRanges[slot].count, rows: rows, dim: d,
                                              centres: c.baseAddress!, centreNorms: cn.baseAddress!,
                                              seen: blockSeen[candidates[slot]] ..< seenNow, running: runningBase + r0,
                                              scratch: scratch + i * scratchSize,
                                              screen: screen.map { ($0, r0, screenScratch + i * screenScratchSize) })
                            maxima[i] = Self.maximum(runningBase, r0 + rows.lowerBound, r0 + rows.upperBound)
                        }
                    }
                    }
                    }
                    for (slot, b) in candidates.enumerated() {
                        blockSeen[b] = seenNow
                        refreshed[b] = true
                        (blockMax[b], blockArgmax[b]) = (-.infinity, -1)
                        for (i, piece) in pieces.enumerated() where piece.slot == slot {
                            let (value, index) = pieceMaxima[i]
                            if blockArgmax[b] < 0 || value > blockMax[b] || (value == blockMax[b] && index < blockArgmax[b]) {
                                (blockMax[b], blockArgmax[b]) = (value, index)
                            }
                        }
                        if blockMax[b] > best || (blockMax[b] == best && blockArgmax[b] < bestIndex) {
                            (best, bestIndex) = (blockMax[b], blockArgmax[b])
                        }
                    }
                }
                addCentre(bestIndex, runningBase)
                progress?.advance(to: selected.count)
            }
        }
        }
        progress?.finish()
        return selected
    }

    /// Lowers `running[i]` for rows `rows` of a block of `blockRows` points (squared norms
    /// `norms`; packed by `trawl_pack_rows` in `tiles`, `dim` wide) to their squared distance
    /// from each centre `seen` (rows of `centres`, `[*, dim]`), in chunks of ``centreChunk``
    /// from `seen.lowerBound`, with the bits of one OpenBLAS (0.3.21, Haswell/Zen) sgemm of the
    /// whole block against each chunk: fewer than eight centres take the small-chunk kernel
    /// (sgemm is one multiply-add chain per entry there) and more the OpenBLAS-order kernel,
    /// neither writing products out. `scratch` holds a chunk of centres packed, and their norms.
    /// With `screen` (the points' and centres' 8-bit codes, the block's first point among them,
    /// and scratch for a chunk of them), the OpenBLAS-order kernel screens first
    /// (``trawl_screened_lower_in_blas_order``): the same bits, fewer float products.
    static func lowerRunning(tiles: UnsafePointer<Float>, norms: UnsafePointer<Float>, blockRows: Int, rows: Range<Int>,
                             dim: Int, centres: UnsafePointer<Float>, centreNorms: UnsafePointer<Float>, seen: Range<Int>,
                             running: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                             screen: (codes: OpaquePointer, blockStart: Int, scratch: UnsafeMutableRawPointer)? = nil) {
        for c0 in stride(from: seen.lowerBound, to: seen.upperBound, by: centreChunk) {
            let count = min(seen.upperBound, c0 + centreChunk) - c0
            let r0 = rows.lowerBound
            if count <= Int(TRAWL_MAX_LOWERING_CENTRES) {
                trawl_lower_running_distances(tiles + r0 * dim, rows.count, dim, centres + c0 * dim, centreNorms + c0, count,
                                              norms + r0, running + r0)
            } else {
                let packedNorms = scratch + centreChunk * dim
                trawl_pack_centres(centres + c0 * dim, centreNorms + c0, count, dim, scratch, packedNorms)
                if let screen {
                    trawl_screened_lower_in_blas_order(screen.codes, screen.blockStart, tiles, dim, blockRows,
                                                       rows.lowerBound, rows.upperBound, c0, scratch, packedNorms, count,
                                                       norms, running, screen.scratch)
                } else {
                    trawl_lower_running_in_blas_order(tiles, dim, blockRows, rows.lowerBound, rows.upperBound,
                                                      scratch, packedNorms, count, norms, running)
                }
            }
        }
    }

    /// Largest value in `values[lower..<upper]` and its first index.
    private static func maximum(_ values: UnsafeMutablePointer<Float>, _ lower: Int, _ upper: Int) -> (Float, Int) {
        var best = values[lower], index = lower
        for i in lower + 1 ..< upper where values[i] > best { (best, index) = (values[i], i) }
        return (best, index)
    }

    /// Squared mean euclidean distance of every point to the start points.
    private func meanStartDistances(_ points: Tensor, norms: [Float], starts: [Int]) -> [Float] {
        let n = points.shape[0], s = starts.count
        let startRows = gatherRows(points, starts)
        let dots = matmul(points, startRows, transposeB: true)   // [n, s]
        return (0..<n).map { i in
            var sum: Float = 0
            for j in 0..<s { sum += max(0, norms[i] + norms[starts[j]] - 2 * dots.data[i * s + j]).squareRoot() }
            let mean = sum / Float(s)
            return mean * mean
        }
    }
}

/// Rows `indices` of `x` (`[N, D]`), in that order: `[indices.count, D]`.
func gatherRows(_ x: Tensor, _ indices: [Int]) -> Tensor {
    let d = x.shape[1]
    var data = [Float]()
    data.reserveCapacity(indices.count * d)
    for i in indices { data.append(contentsOf: x.data[i * d ..< (i + 1) * d]) }
    return Tensor(shape: [indices.count, d], data: data)
}
