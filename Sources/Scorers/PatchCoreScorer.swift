import Tensors

/// Scores of a batch of images from a patch-level scorer.
public struct AnomalyScores: Equatable, Sendable {
    /// One score per image, `[N]`; larger is more anomalous.
    public var imageScores: [Float]
    /// Per-cell scores on the feature grid, `[N, h, w]`.
    public var patchScores: Tensor
    /// `patchScores`, maximum-filtered (``PatchCoreScorer/mapMaxFilter``), minus each image's
    /// median with ``MapNormalization/imageMedian``, resized bilinearly to the image size and
    /// blurred: `[N, H, W]`.
    public var anomalyMaps: Tensor
}

/// What a PatchCore anomaly map shows of its image's patch scores.
public enum MapNormalization: String, CaseIterable, Sendable {
    /// The patch scores themselves (distances to the bank).
    case none
    /// Each patch score minus the median patch score of its own image (numpy's median: the
    /// mean of the two middle values for an even count). Where normal content of one kind
    /// sits farther from its bank neighbours than another's (coarse texture, a sparser
    /// mode), the maps of different images become comparable: a region scores how far it
    /// stands out from its image's typical patch. Image scores are unchanged; an image that
    /// is anomalous in more than half its patches gets a flat map.
    case imageMedian = "image_median"
}

/// Resizes `[N, h, w]` scores bilinearly (`align_corners = False`) to
/// `[N, height, width]`, then applies a Gaussian blur of `sigma` pixels
/// (`scipy.ndimage.gaussian_filter`, mode `reflect`, truncate 4): the
/// reference `RescaleSegmentor` with σ = 4. `sigma = 0` skips the blur.
public func anomalyMaps(_ patchScores: Tensor, height: Int, width: Int, sigma: Float = 4) -> Tensor {
    let resized = resizeBilinear(patchScores, height: height, width: width)
    return sigma > 0 ? gaussianBlur(resized, sigma: sigma) : resized
}

/// PatchCore (Roth et al., CVPR 2022): a memory bank of normal patch features,
/// optionally a greedy coreset of it; a test patch scores its distance to the
/// nearest bank entry (mean over `neighbours` entries when more than 1); an
/// image scores its largest patch score, optionally re-weighted (paper Eq. 7).
///
/// Distances: ``DistanceMetric/euclidean`` by default, as in anomalib.
/// The reference implementation searches with faiss `IndexFlatL2`, whose
/// distances are *squared*; choose ``DistanceMetric/squaredEuclidean`` to
/// reproduce its scores (rankings with `neighbours = 1` are the same).
public struct PatchCoreScorer: Sendable {
    /// How training taps become patch features.
    public var aggregator: PatchFeatureAggregator
    /// Memory-bank subsampling; nil keeps every training patch.
    public var coreset: CoresetSampler?
    /// Nearest bank entries averaged per patch score (the reference's `anomaly_score_num_nn`).
    public var neighbours: Int
    public var metric: DistanceMetric
    /// `b` of paper Eq. 7; nil scores an image by its largest patch score alone.
    /// anomalib uses 9. Capped at the bank size.
    public var reweightingNeighbours: Int?
    /// Gaussian σ (pixels) of the anomaly-map blur; 0 for none.
    public var blurSigma: Float
    /// What the anomaly maps show of the patch scores (image scores never change).
    public var mapNormalization: MapNormalization
    /// Side (patch-grid cells, odd) of the maximum filter the maps apply to the patch scores
    /// before resizing: each cell shows the largest score within `mapMaxFilter / 2` cells
    /// (`scipy.ndimage.maximum_filter`, mode `nearest`), so a region around an anomalous
    /// patch lights up as a whole; 1 = none. Image scores never change.
    public var mapMaxFilter: Int
    /// The faiss index test patches search; nil searches exactly.
    public var approximateSearch: ApproximateSearch?

    /// The fitted memory bank's index; nil before ``fit(taps:)``.
    public private(set) var index: NearestNeighbourIndex?
    /// ``approximateSearch`` built over ``index``'s bank; nil when searching exactly.
    public private(set) var approximateIndex: ApproximateNeighbourIndex?

    public init(aggregator: PatchFeatureAggregator = PatchFeatureAggregator(),
                coreset: CoresetSampler? = CoresetSampler(size: .fraction(0.1)),
                neighbours: Int = 1, metric: DistanceMetric = .euclidean,
                reweightingNeighbours: Int? = nil, blurSigma: Float = 4,
                mapNormalization: MapNormalization = .none, mapMaxFilter: Int = 1,
                approximateSearch: ApproximateSearch? = nil) {
        self.aggregator = aggregator
        self.coreset = coreset
        self.neighbours = neighbours
        self.metric = metric
        self.reweightingNeighbours = reweightingNeighbours
        self.blurSigma = blurSigma
        self.mapNormalization = mapNormalization
        self.mapMaxFilter = mapMaxFilter
        self.approximateSearch = approximateSearch
    }

    /// Builds the memory bank from training taps (each `[N, Cᵢ, Hᵢ, Wᵢ]`).
    public mutating func fit(taps: [Tensor]) throws {
        try fit(bank: aggregator(taps).features)
    }

    /// Builds the memory bank from patch features `[M, D]` (subsampled by ``coreset``).
    ///
    /// - Returns: the rows of `bank` the coreset selected, in selection order
    ///   (nil without a coreset); ``fit(bank:selectedRows:)`` rebuilds the same bank from them.
    @discardableResult
    public mutating func fit(bank: Tensor) throws -> [Int]? {
        try validateMatrix(bank, "PatchCore training features")
        let selected = try coreset.map { try $0.select(from: bank) }
        try install(selected.map { gatherRows(bank, $0) } ?? bank)
        return selected
    }

    /// Builds the memory bank from rows `selectedRows` of patch features `[M, D]`, in that
    /// order, without running ``coreset``: a selection saved from an earlier ``fit(bank:)``
    /// on the same features and coreset settings gives a bit-identical scorer.
    ///
    /// Throws when a row is out of `0..<M` or repeated, or when there are not as many
    /// rows as ``coreset`` keeps of `M` (every row when ``coreset`` is nil).
    public mutating func fit(bank: Tensor, selectedRows: [Int]) throws {
        try validateMatrix(bank, "PatchCore training features")
        let rows = bank.shape[0]
        let expected = try coreset?.targetCount(rows) ?? rows
        guard selectedRows.count == expected else {
            throw ScorerError.invalidParameter(name: "selected rows", value: "\(selectedRows.count) rows",
                                               reason: "the coreset keeps \(expected) of \(rows)")
        }
        var seen = [Bool](repeating: false, count: rows)
        for row in selectedRows {
            guard row >= 0 && row < rows && !seen[row] else {
                throw ScorerError.invalidParameter(name: "selected rows", value: "\(row)",
                                                   reason: "must be distinct rows in 0..<\(rows)")
            }
            seen[row] = true
        }
        try install(gatherRows(bank, selectedRows))
    }

    /// Installs a saved memory bank `[M, D]` as it is (no coreset), building
    /// ``approximateSearch``'s index again: the scorer then scores bit-identically to the
    /// one whose ``index`` bank was saved.
    public mutating func restore(bank: Tensor) throws {
        try validateMatrix(bank, "PatchCore memory bank")
        try install(bank)
    }

    private mutating func install(_ kept: Tensor) throws {
        try checkNeighbours(bankSize: kept.shape[0])
        let index = try NearestNeighbourIndex(bank: kept, metric: metric)
        approximateIndex = try approximateSearch.map { try ApproximateNeighbourIndex($0, over: index) }
        self.index = index
    }

    /// Scores test taps; anomaly maps come out at `imageHeight × imageWidth`.
    public func score(taps: [Tensor], imageHeight: Int, imageWidth: Int) throws -> AnomalyScores {
        try score(patches: aggregator(taps), imageHeight: imageHeight, imageWidth: imageWidth)
    }

    /// Scores patch features (from the same ``aggregator`` as the bank).
    public func score(patches: PatchFeatures, imageHeight: Int, imageWidth: Int) throws -> AnomalyScores {
        guard imageHeight > 0 && imageWidth > 0 else {
            throw ScorerError.invalidParameter(name: "image size", value: "\(imageHeight)x\(imageWidth)",
                                               reason: "must be positive")
        }
        let index = try checkedIndex(for: patches)
        guard mapMaxFilter >= 1 && mapMaxFilter % 2 == 1 else {
            throw ScorerError.invalidParameter(name: "mapMaxFilter", value: "\(mapMaxFilter)", reason: "must be odd and positive")
        }
        let found = try neighbours(of: patches.features, index: index)
        let cellScores = found.meanDistances
        let imageScores = try imageScores(patches, cellScores: cellScores, found: found, index: index)
        let grid = Tensor(shape: [patches.images, patches.height, patches.width], data: cellScores)
        let shape = [patches.images, 1, patches.height, patches.width]
        let filtered = mapMaxFilter > 1
            ? maxPool2d(grid.reshaped(shape), kernel: mapMaxFilter, stride: 1, padding: mapMaxFilter / 2).reshaped(grid.shape)
            : grid
        let mapGrid = mapNormalization == .imageMedian ? subtractingImageMedians(filtered) : filtered
        return AnomalyScores(imageScores: imageScores, patchScores: grid,
                             anomalyMaps: anomalyMaps(mapGrid, height: imageHeight, width: imageWidth, sigma: blurSigma))
    }

    /// Scores test taps without maps: ``score(taps:imageHeight:imageWidth:)``'s image scores.
    public func imageScores(taps: [Tensor]) throws -> [Float] {
        try imageScores(patches: aggregator(taps))
    }

    /// The image scores of ``score(patches:imageHeight:imageWidth:)``, bit for bit, without
    /// its maps (what training images and images without masks need). With exact search only
    /// the patches that can be their image's worst are searched against the whole bank
    /// (``exactImageScores(_:index:)``).
    public func imageScores(patches: PatchFeatures) throws -> [Float] {
        let index = try checkedIndex(for: patches)
        guard approximateIndex == nil else {
            let found = try neighbours(of: patches.features, index: index)
            return try imageScores(patches, cellScores: found.meanDistances, found: found, index: index)
        }
        return try exactImageScores(patches, index: index)
    }

    /// Each image's score from all its cells' `cellScores` (the ``neighbours`` nearest `found`).
    private func imageScores(_ patches: PatchFeatures, cellScores: [Float], found: Neighbours,
                             index: NearestNeighbourIndex) throws -> [Float] {
        let perImage = patches.height * patches.width
        return try (0..<patches.images).map { image in
            try imageScore(cells: Array(image * perImage ..< (image + 1) * perImage), scores: cellScores,
                           found: found, features: patches.features, index: index)
        }
    }

    /// Cells of each image searched exactly per round of the pruned image scores.
    static let roundCells = 16

    /// Exact image scores, searching the whole bank only for the patches that can set them.
    ///
    /// The index computes a query's distance to a bank row the same way whatever else it
    /// searches, so a patch's score against some of the bank's rows is at least its score
    /// against all of them (the mean of `k` sorted distances rounds monotonically): every cell
    /// first gets such an upper bound from the rows near it (``upperBounds(of:index:)``). Then,
    /// round by round, each image's ``roundCells`` cells of highest bound are searched exactly;
    /// the largest score searched is a lower bound of the image's score, and the cells whose
    /// bound is below it are dropped: they cannot be the image's worst cell (nor tie with it).
    /// The worst of the searched cells is the full search's, bit for bit.
    private func exactImageScores(_ patches: PatchFeatures, index: NearestNeighbourIndex) throws -> [Float] {
        let (perImage, k) = (patches.height * patches.width, neighbours)
        let upperBounds = try upperBounds(of: patches.features, index: index)
        var lowerBounds = [Float](repeating: -.infinity, count: patches.images)
        // Per image, the cells that can still be its worst, highest upper bound first.
        var waiting = (0..<patches.images).map { image in
            (image * perImage ..< (image + 1) * perImage).map { ($0, upperBounds[$0]) }.sorted { $0.1 > $1.1 }
        }
        var searched = [Int]()
        var found = Neighbours(k: k, distances: [], indices: [])
        var scores = [Float]()
        while waiting.contains(where: { !$0.isEmpty }) {
            let rows = waiting.flatMap { $0.prefix(Self.roundCells).map(\.0) }
            let result = try index.search(gatherRows(patches.features, rows), k: k)
            let resultScores = result.meanDistances
            for (row, score) in zip(rows, resultScores) { lowerBounds[row / perImage] = max(lowerBounds[row / perImage], score) }
            for image in waiting.indices {
                waiting[image] = waiting[image].dropFirst(Self.roundCells).filter { $0.1 >= lowerBounds[image] }
            }
            searched += rows
            found.distances += result.distances
            found.indices += result.indices
            scores += resultScores
        }
        // Each image's searched cells (positions in `found`) in cell order.
        var byImage = [[(row: Int, position: Int)]](repeating: [], count: patches.images)
        for (position, row) in searched.enumerated().sorted(by: { $0.element < $1.element }) {
            byImage[row / perImage].append((row, position))
        }
        return try byImage.map { cells in
            try imageScore(cells: cells.map(\.position), scores: scores, found: found,
                           features: patches.features, rows: cells.map(\.row), index: index)
        }
    }

    /// An upper bound of every row of `features`' cell score, `[rows]`: each row searched
    /// against one list of an inverted file over the bank only. The bank's first `√M` rows (the
    /// coreset's first picks, spread over the data) are the lists' centres; each bank row joins
    /// the list of its nearest centre, and each query searches the list of its nearest centre
    /// (about `2√M` distances instead of `M`). A list shorter than ``neighbours`` bounds nothing
    /// (`+∞`).
    private func upperBounds(of features: Tensor, index: NearestNeighbourIndex) throws -> [Float] {
        let centreCount = Int(Double(index.count).squareRoot())
        let centres = index.restricted(to: Array(0..<centreCount))
        var bankRowsOfList = [[Int]](repeating: [], count: centreCount)
        for (row, list) in try centres.search(index.bank, k: 1).indices.enumerated() { bankRowsOfList[list].append(row) }
        var queriesOfList = [[Int]](repeating: [], count: centreCount)
        for (query, list) in try centres.search(features, k: 1).indices.enumerated() { queriesOfList[list].append(query) }
        var bounds = [Float](repeating: .infinity, count: features.shape[0])
        for (queries, rows) in zip(queriesOfList, bankRowsOfList) where !queries.isEmpty && rows.count >= neighbours {
            let listBounds = try index.restricted(to: rows).search(gatherRows(features, queries), k: neighbours).meanDistances
            for (query, bound) in zip(queries, listBounds) { bounds[query] = bound }
        }
        return bounds
    }

    /// An image's score from its worst cell (the first of equal ones) among `cells` (positions
    /// in `scores` and `found`, in the image's cell order; `rows`: their rows of `features`,
    /// nil when the positions are the rows).
    private func imageScore(cells: [Int], scores: [Float], found: Neighbours, features: Tensor,
                            rows: [Int]? = nil, index: NearestNeighbourIndex) throws -> Float {
        var worst = 0
        for (i, cell) in cells.enumerated() where scores[cell] > scores[cells[worst]] { worst = i }
        guard let b = reweightingNeighbours else { return scores[cells[worst]] }
        let row = rows?[worst] ?? cells[worst]
        return scores[cells[worst]] * (try reweighting(patch: gatherRows(features, [row]),
                                                       nearest: found.indices[cells[worst] * neighbours], b: b, index: index))
    }

    /// The fitted index, after checking `patches` against it.
    private func checkedIndex(for patches: PatchFeatures) throws -> NearestNeighbourIndex {
        guard let index else { throw ScorerError.notFitted(scorer: "PatchCoreScorer") }
        try checkNeighbours(bankSize: index.count)
        try validateMatrix(patches.features, "PatchCore test features")
        guard patches.dimension == index.dimension,
              patches.features.shape[0] == patches.images * patches.height * patches.width else {
            throw ScorerError.badShape(argument: "PatchCore test features", shape: patches.features.shape,
                                       expected: "[\(patches.images) · \(patches.height) · \(patches.width), \(index.dimension)] (the bank's dimension)")
        }
        return index
    }

    /// The ``neighbours`` nearest bank rows of every patch.
    private func neighbours(of features: Tensor, index: NearestNeighbourIndex) throws -> Neighbours {
        try approximateIndex?.search(features, k: neighbours) ?? index.search(features, k: neighbours)
    }

    /// Paper Eq. 7 as anomalib implements it: with `m*` the bank entry nearest
    /// to the image's worst patch and `N_b(m*)` the `b` bank entries nearest to
    /// `m*` (itself first), the weight is `1 − softmax(d(patch, N_b(m*)))₀`.
    private func reweighting(patch: Tensor, nearest: Int, b: Int, index: NearestNeighbourIndex) throws -> Float {
        guard b >= 1 else {
            throw ScorerError.invalidParameter(name: "reweightingNeighbours", value: "\(b)", reason: "must be at least 1")
        }
        let support = try index.search(gatherRows(index.bank, [nearest]), k: min(b, index.count)).indices
        let distances = try NearestNeighbourIndex(bank: gatherRows(index.bank, support), metric: metric)
            .search(patch, k: support.count)
        // Distances to the support in support order.
        var bySupport = [Float](repeating: 0, count: support.count)
        for (rank, row) in distances.indices.enumerated() { bySupport[row] = distances.distances[rank] }
        let largest = bySupport.max()!
        let exponentials = bySupport.map { Double(exp($0 - largest)) }
        return Float(1 - exponentials[0] / exponentials.reduce(0, +))
    }

    /// `[N, h, w]` scores minus each image's median score (``MapNormalization/imageMedian``).
    private func subtractingImageMedians(_ grid: Tensor) -> Tensor {
        let perImage = grid.shape[1] * grid.shape[2]
        var out = grid
        for image in 0..<grid.shape[0] {
            let cells = image * perImage ..< (image + 1) * perImage
            let median = percentile(Array(grid.data[cells]), 50)
            for cell in cells { out.data[cell] -= median }
        }
        return out
    }

    private func checkNeighbours(bankSize: Int) throws {
        guard neighbours >= 1 else {
            throw ScorerError.invalidParameter(name: "neighbours", value: "\(neighbours)", reason: "must be at least 1")
        }
        guard neighbours <= bankSize else {
            throw ScorerError.notEnoughNeighbours(requested: neighbours, available: bankSize)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
