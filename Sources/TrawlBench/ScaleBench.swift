import EmbeddingCache
import Experiments
import Foundation
import Scorers
import Tensors

/// `make bench SECTIONS=scale`: exact search against each faiss index kind on a bank of
/// millions of real patch features, the experiment's AUROC with its index swapped, and a
/// 10-million-row bank's peak memory in a child process.
///
/// The bank is the PatchCore patch features (EfficientNet-Lite0 `stride8` + `stride16`, 3×3
/// pooling, concatenated to 152 dims) of the 24 training modules of `make modules` at tiling
/// scale 1.0 (3000×1800 px, a 375×225 stride-8 grid: 84,375 rows a module, 2,025,000 in all).
/// The bench extracts them through the runner (`ExperimentRunner.extract`, the path of
/// `trawl extract`) with `elpv-modules-tiled` at scale 1.0, a spec it writes under
/// `.cache/scale-bench/`, into `.cache/embeddings` (later runs hit the cache), then streams
/// them from the cache with ``CachedRows``, one module at a time, into the one bank array.
/// The queries are 100,000 patches of the 32 test modules drawn with seed 0.
///
/// Exact search of every query would take about 20 minutes on 2 cores: it runs on the first
/// `TRAWL_SCALE_EXACT_QUERIES` (1,000) queries, which give exact queries/s and every index's
/// recall@1. Each IVF kind is built once and searched at several probes (faiss's own
/// probe/recall/speed curve) on the first 10,000 queries; its fastest probe with recall@1
/// ≥ 0.95 then searches all of them. Environment knobs (defaults in brackets):
/// `TRAWL_SCALE_QUERIES` (100,000), `TRAWL_SCALE_SWEEP_QUERIES` (10,000),
/// `TRAWL_SCALE_LISTS` (2048, both IVF kinds), `TRAWL_SCALE_HNSW_ROWS` (the first 100,000 bank
/// rows: HNSW builds on one thread), `TRAWL_SCALE_BIG_ROWS` (10,000,000, the child's bank).
/// Each line is flushed as it is measured, so a run stopped early keeps what it measured.
func runScaleBenchmarks() {
    print("\n## Scale: exact search vs faiss indexes on real patch features\n")
    guard ApproximateSearch.isAvailable else {
        return print("skipped: " + ApproximateSearch.notInstalledMessage(kind: "ivf_flat"))
    }
    let settings = ScaleSettings()
    do {
        guard let source = try ScaleSource.extracted() else { return }
        var clock = Date()
        let bank = try source.bank(capacityRows: source.trainRowCount)
        printFlushed(String(format: "bank: %d × %d real patch features of %d training modules, streamed from the cache in %.1f s; "
                            + "float32 rows %.0f MiB; RSS %.0f MiB", bank.count / source.dimension, source.dimension,
                            source.trainImages.count, Date().timeIntervalSince(clock),
                            Double(bank.count * 4) / 1_048_576, residentMemoryMiB()))
        clock = Date()
        let queries = try source.queries(settings.queryCount)
        printFlushed(String(format: "queries: %d patches drawn with seed 0 from the %d test modules' %d, in %.1f s",
                            queries.shape[0], source.testImages.count, source.testRowCount, Date().timeIntervalSince(clock)))
        try compareIndexes(bank: Tensor(shape: [bank.count / source.dimension, source.dimension], data: bank),
                           queries: queries, settings: settings)
    } catch {
        print("scale benchmark failed: \(error)")
    }
    fflush(stdout)
    benchmarkSwappedIndexAUROC()
    runBigBankChild()
}

/// The bench's knobs, from the environment (see ``runScaleBenchmarks()``).
private struct ScaleSettings {
    var queryCount = 100_000
    var exactQueryCount = 1_000
    var sweepQueryCount = 10_000
    var lists = 2048
    var hnswRows = 100_000
    var bigRows = 10_000_000

    init() {
        let environment = ProcessInfo.processInfo.environment
        func value(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap { Int($0) } ?? fallback }
        queryCount = value("TRAWL_SCALE_QUERIES", queryCount)
        sweepQueryCount = min(queryCount, value("TRAWL_SCALE_SWEEP_QUERIES", sweepQueryCount))
        exactQueryCount = min(sweepQueryCount, value("TRAWL_SCALE_EXACT_QUERIES", exactQueryCount))
        lists = value("TRAWL_SCALE_LISTS", lists)
        hnswRows = value("TRAWL_SCALE_HNSW_ROWS", hnswRows)
        bigRows = value("TRAWL_SCALE_BIG_ROWS", bigRows)
    }
}

/// The patch features of the modules at tiling scale 1.0, in the embedding cache.
private struct ScaleSource {
    let rows: CachedRows
    /// Spec tap order (finest first), as the runner pools them.
    let taps = ["stride8", "stride16"]
    let aggregator = PatchFeatureAggregator(patchSize: 3)
    let trainImages: [Int]
    let testImages: [Int]
    /// Patch rows per module and their length.
    let rowsPerImage: Int
    let dimension: Int

    var trainRowCount: Int { trainImages.count * rowsPerImage }
    var testRowCount: Int { testImages.count * rowsPerImage }

    /// Extracts (or finds in the cache) the modules' features at scale 1.0 and prints how
    /// long that took; nil after printing why when the modules are absent.
    static func extracted() throws -> ScaleSource? {
        let modules = repositoryRoot.appendingPathComponent(".assets/elpv-modules")
        guard FileManager.default.fileExists(atPath: modules.path) else {
            print("skipped: \(modules.path) is absent (make modules)")
            return nil
        }
        let specURL = try benchmarkSpec(from: repositoryRoot.appendingPathComponent("Experiments/elpv-modules-tiled.json"),
                                        datasetRoot: modules, coresetRatio: nil, tilingScale: 1,
                                        into: repositoryRoot.appendingPathComponent(".cache/scale-bench"))
        var options = RunOptions(root: repositoryRoot, toolVersion: "bench", showsProgress: false)
        options.resultsDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-scale-\(getpid())")
        var runner = ExperimentRunner(spec: try ExperimentSpec(contentsOf: specURL), specFile: specURL, options: options)
        runner.log = { _ in }
        let clock = Date()
        let summary = try runner.extract(shard: nil)
        guard let rows = summary.rows.first else { throw ScaleBenchError("\(specURL.path): the runner returned no rows") }
        printFlushed(String(format: "features: elpv-modules-tiled at tiling scale 1.0 (%@), %d modules: %d from the cache, "
                            + "%d extracted, %.1f s (%@)", specURL.path, rows.imageIDs.count, summary.hits, summary.misses,
                            Date().timeIntervalSince(clock), rows.url.lastPathComponent))
        return try ScaleSource(rows: rows)
    }

    init(rows: CachedRows) throws {
        self.rows = rows
        trainImages = rows.imageIDs.indices.filter { rows.imageIDs[$0].hasPrefix("train/") }
        testImages = rows.imageIDs.indices.filter { !rows.imageIDs[$0].hasPrefix("train/") }
        guard let finest = rows.rowShapes[taps[0]], finest.count == 3, !trainImages.isEmpty, !testImages.isEmpty else {
            throw ScaleBenchError("\(rows.url.path): expected tap maps \(taps) of training and test modules")
        }
        rowsPerImage = finest[1] * finest[2]
        dimension = try taps.reduce(0) { sum, tap in
            guard let shape = rows.rowShapes[tap] else { throw ScaleBenchError("\(rows.url.path) lacks tap \(tap)") }
            return sum + shape[0]
        }
    }

    /// Image `index`'s patch features, `[rowsPerImage, dimension]`, read from the cache.
    func patchRows(_ index: Int) throws -> Tensor {
        try aggregator(taps.map { try rows.row(index, tap: $0) }).features
    }

    /// Every training module's patch rows, `[trainRowCount · dimension]` row-major, in one
    /// array of room for `capacityRows` rows (the caller may append more without a copy).
    func bank(capacityRows: Int) throws -> [Float] {
        var bank = [Float]()
        bank.reserveCapacity(capacityRows * dimension)
        for image in trainImages { bank += try patchRows(image).data }
        return bank
    }

    /// `count` test patches drawn with seed 0 (without replacement, in draw order), `[count, D]`,
    /// read one module at a time.
    func queries(_ count: Int) throws -> Tensor {
        var random = SeededRandom(seed: 0)
        let drawn = random.distinctIndices(min(count, testRowCount), from: testRowCount)
        var queries = Tensor(shape: [drawn.count, dimension])
        let byImage = Dictionary(grouping: drawn.indices) { drawn[$0] / rowsPerImage }
        for (position, image) in testImages.enumerated() {
            guard let slots = byImage[position] else { continue }
            let patches = try patchRows(image)
            for slot in slots {
                let row = drawn[slot] % rowsPerImage
                for j in 0..<dimension { queries.data[slot * dimension + j] = patches.data[row * dimension + j] }
            }
        }
        return queries
    }
}

/// Exact search, then each index kind, over `bank`: one table row per index (and probe).
private func compareIndexes(bank: Tensor, queries: Tensor, settings: ScaleSettings) throws {
    let exact = try NearestNeighbourIndex(bank: bank, metric: .euclidean)
    let sample = leadingRows(queries, settings.exactQueryCount)
    var clock = Date()
    let truth = try exact.search(sample, k: 1)
    let exactRate = Double(sample.shape[0]) / Date().timeIntervalSince(clock)
    let sweep = leadingRows(queries, settings.sweepQueryCount)
    print("\nsearch over \(bank.shape[0]) rows: queries/s over the first \(sweep.shape[0]) queries (each kind's fastest "
          + "setting with recall@1 >= 0.95 again over all \(queries.shape[0])), exact over the first \(sample.shape[0]), "
          + "which give recall@1; peak RSS = VmHWM from the build to the end of its searches; load average \(loadAverage())\n")
    print("| search | build s | queries/s | speed-up | recall@1 | index MiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    printFlushed(String(format: "| exact (%d queries) | — | %.0f | 1.0× | 1.0000 | — | %.0f |", sample.shape[0], exactRate,
                        peakMemoryMiB()))
    var best: (description: String, rate: Double, recall: Double)?
    /// Searches `queries` with `probe`; prints the row and returns queries/s and recall@1.
    func measure(_ index: ApproximateNeighbourIndex, _ queries: Tensor, probe: Int?, label: String) throws -> (Double, Double) {
        clock = Date()
        let found = try index.search(queries, k: 1, probe: probe)
        let rate = Double(queries.shape[0]) / Date().timeIntervalSince(clock)
        let recall = found.recallAtOne(against: truth)
        printFlushed(String(format: "| %@ | %.1f | %.0f | %.1f× | %.4f | %.0f | %.0f |", label, index.buildSeconds, rate,
                            rate / exactRate, recall, Double(index.memoryBytes) / 1_048_576, peakMemoryMiB()))
        return (rate, recall)
    }
    let lists = settings.lists
    let sweeps: [(kind: ApproximateSearch.Kind, probes: [Int])] = [
        (.ivfFlat(lists: lists, probe: 8), [4, 8, 16, 32]),
        (.ivfPQ(lists: lists, codeBytes: 38, probe: 16, rerank: 100), [8, 16, 32]),
    ]
    for (kind, probes) in sweeps {
        resetPeakMemory()
        let index = try ApproximateNeighbourIndex(ApproximateSearch(kind, seed: 0), over: exact)
        var fastest: (probe: Int, rate: Double)?
        for probe in probes {
            let (rate, recall) = try measure(index, sweep, probe: probe, label: probing(kind, probe).description)
            if recall >= 0.95 && rate > fastest?.rate ?? 0 { fastest = (probe, rate) }
        }
        guard let fastest, queries.shape[0] > sweep.shape[0] else { continue }
        let label = probing(kind, fastest.probe).description
        let (rate, recall) = try measure(index, queries, probe: fastest.probe, label: "\(label) (all \(queries.shape[0]) queries)")
        if rate > best?.rate ?? 0 { best = (label, rate, recall) }
    }
    if let best {
        print(String(format: "\ntarget: recall@1 >= 0.95 at >= 10x exact's queries/s: best %@, %.1fx at recall %.4f: %@",
                     best.description, best.rate / exactRate, best.recall, verdict(best.rate / exactRate >= 10)))
    } else {
        print("\ntarget: recall@1 >= 0.95 at >= 10x exact's queries/s: no IVF setting reached recall 0.95: MISS")
    }
    fflush(stdout)
    try compareHNSW(bank: bank, queries: sweep, sample: sample.shape[0], rows: min(settings.hnswRows, bank.shape[0]))
}

/// `kind` (an IVF kind) scanning `probe` cells.
private func probing(_ kind: ApproximateSearch.Kind, _ probe: Int) -> ApproximateSearch.Kind {
    switch kind {
    case let .ivfFlat(lists, _): return .ivfFlat(lists: lists, probe: probe)
    case let .ivfPQ(lists, codeBytes, _, rerank): return .ivfPQ(lists: lists, codeBytes: codeBytes, probe: probe, rerank: rerank)
    case .hnsw: return kind
    }
}

/// HNSW on the first `rows` bank rows (it inserts on one thread), against exact search of the
/// same rows; `sample` leading queries give exact queries/s and recall@1.
private func compareHNSW(bank: Tensor, queries: Tensor, sample: Int, rows: Int) throws {
    guard rows > 0 else { return print("hnsw: skipped (TRAWL_SCALE_HNSW_ROWS=0)") }
    let subset = try NearestNeighbourIndex(bank: leadingRows(bank, rows))
    let first = leadingRows(queries, sample)
    var clock = Date()
    let truth = try subset.search(first, k: 1)
    let exactRate = Double(sample) / Date().timeIntervalSince(clock)
    resetPeakMemory()
    let index = try ApproximateNeighbourIndex(ApproximateSearch(.hnsw(m: 32, efSearch: 64), seed: 0), over: subset)
    clock = Date()
    let found = try index.search(queries, k: 1)
    let rate = Double(queries.shape[0]) / Date().timeIntervalSince(clock)
    let recall = found.recallAtOne(against: truth)
    printFlushed(String(format: "| hnsw m=32 ef_search=64, first %d rows only (exact on them: %.0f queries/s) | %.1f (one thread) "
                        + "| %.0f | %.1f× | %.4f | %.0f | %.0f |", rows, exactRate, index.buildSeconds, rate, rate / exactRate,
                        recall, Double(index.memoryBytes) / 1_048_576, peakMemoryMiB()))
}

/// `mvtec-grid-patchcore-index` (whole grid bank, exact and each index kind as grid points)
/// run in this process: image and pixel AUROC and recall@1 per index.
private func benchmarkSwappedIndexAUROC() {
    print("\nimage and pixel AUROC with the index swapped (Experiments/mvtec-grid-patchcore-index.json, run now):\n")
    let specURL = repositoryRoot.appendingPathComponent("Experiments/mvtec-grid-patchcore-index.json")
    let results = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-scale-auroc-\(getpid())")
    defer { try? FileManager.default.removeItem(at: results) }
    do {
        let grid = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets/mvtec/grid")
        guard FileManager.default.fileExists(atPath: grid.path) else {
            return print("skipped: \(grid.path) is absent (the MVTec grid subset comes with ../shared)")
        }
        let spec = try ExperimentSpec(contentsOf: specURL)
        var options = RunOptions(root: repositoryRoot, toolVersion: "bench", showsProgress: false)
        options.resultsDirectory = results
        var runner = ExperimentRunner(spec: spec, specFile: specURL, options: options)
        runner.log = { _ in }
        let summary = try runner.run()
        let lines = try String(contentsOf: summary.resultsDirectory.appendingPathComponent("metrics.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        let columns = ["index", "auroc", "pixel_auroc", "index_recall_at_1"].map { header.firstIndex(of: $0) }
        print("| index (bank: all 19,600 training patches) | image AUROC | pixel AUROC | recall@1 (1,000 test patches) |")
        print("|---|---|---|---|")
        for row in lines.dropFirst() {
            print("| " + columns.map { column in
                column.map { Double(row[$0]).map { String(format: "%.4f", $0) } ?? (row[$0].isEmpty ? "—" : row[$0]) } ?? "?"
            }.joined(separator: " | ") + " |")
        }
        printFlushed(String(format: "(%.1f s wall)", summary.wallSeconds))
    } catch {
        print("skipped: \(error)")
    }
}

/// Runs section `scale-10m` in a child process, so its peak memory is its own.
private func runBigBankChild() {
    fflush(stdout)
    let child = Process()
    child.executableURL = Bundle.main.executableURL
    child.arguments = [bigBankSection]
    do {
        try child.run()
        child.waitUntilExit()
        if child.terminationStatus != 0 { print("scale-10m: the child exited with status \(child.terminationStatus)") }
    } catch {
        print("scale-10m: cannot start the child: \(error)")
    }
}

/// The child section's name (not run by `make bench` on its own: section `scale` runs it).
let bigBankSection = "scale-10m"

/// `TRAWL_SCALE_BIG_ROWS` (10,000,000) × 152 rows: the 2,025,000 real training rows, then
/// copies of them with seeded uniform jitter (±2 % of the rows' RMS value per element) up
/// to the count, in one float32 array; the exact index over it (its row norms) and an
/// `ivf_pq` index re-ranking from those rows (the path `scorer.index` `ivf_pq` takes);
/// 10,000 queries searched, recall@1 against exact on the first 200. Prints RSS after each
/// step and this process's peak against the 8 GiB target.
func runBigBankBenchmark() {
    let settings = ScaleSettings()
    print("\n### \(settings.bigRows) rows × 152 (child process \(getpid()); load average \(loadAverage()))\n")
    do {
        guard let source = try ScaleSource.extracted() else { return }
        var clock = Date()
        var bank = try source.bank(capacityRows: settings.bigRows)
        let real = bank.count / source.dimension
        let rms = Float((bank.reduce(0.0) { $0 + Double($1 * $1) } / Double(bank.count)).squareRoot())
        var random = SeededRandom(seed: 0)
        let amplitude = 0.02 * rms
        for row in real..<settings.bigRows {
            let from = (row % real) * source.dimension
            for j in 0..<source.dimension {
                let unit = Float(random.next() >> 40) * 0x1p-24     // [0, 1)
                bank.append(bank[from + j] + amplitude * (2 * unit - 1))
            }
        }
        let rows = bank.count / source.dimension
        printFlushed(String(format: "bank: %d real rows + %d jittered copies (±%.4f, 2 %% of the RMS value %.4f) = %d rows in %.1f s; "
                            + "float32 rows %.2f GiB; RSS %.2f GiB", real, rows - real, amplitude, rms, rows,
                            Date().timeIntervalSince(clock), Double(bank.count * 4) / Double(1 << 30), residentMemoryMiB() / 1024))
        let queries = try source.queries(10_000)
        let exact = try NearestNeighbourIndex(bank: Tensor(shape: [rows, source.dimension], data: bank), metric: .euclidean)
        bank = []
        printFlushed(String(format: "exact index (rows shared, plus their norms): RSS %.2f GiB", residentMemoryMiB() / 1024))
        let kind = ApproximateSearch.Kind.ivfPQ(lists: settings.lists, codeBytes: 38, probe: 16, rerank: 100)
        let index = try ApproximateNeighbourIndex(ApproximateSearch(kind, seed: 0), over: exact)
        printFlushed(String(format: "%@: built in %.1f s, index %.0f MiB; RSS %.2f GiB", kind.description, index.buildSeconds,
                            Double(index.memoryBytes) / 1_048_576, residentMemoryMiB() / 1024))
        clock = Date()
        let found = try index.search(queries, k: 1)
        let rate = Double(queries.shape[0]) / Date().timeIntervalSince(clock)
        let sample = leadingRows(queries, 200)
        clock = Date()
        let truth = try exact.search(sample, k: 1)
        let exactRate = 200 / Date().timeIntervalSince(clock)
        let recall = found.recallAtOne(against: truth)
        let peak = peakMemoryMiB() / 1024
        printFlushed(String(format: "search: %.0f queries/s (exact %.1f queries/s on 200: %.1f×), recall@1 %.3f on 200; "
                            + "peak RSS of this process %.2f GiB (target <= 8 GiB: %@); load average %@",
                            rate, exactRate, rate / exactRate, recall, peak, verdict(peak <= 8), loadAverage()))
    } catch {
        print("scale-10m failed: \(error)")
    }
}

/// The first `count` rows of `x` (`[N, D]`): `[count, D]`.
private func leadingRows(_ x: Tensor, _ count: Int) -> Tensor {
    Tensor(shape: [count, x.shape[1]], data: Array(x.data.prefix(count * x.shape[1])))
}

/// The 1-, 5- and 15-minute load averages, as `uptime` prints them.
private func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

private func printFlushed(_ line: String) {
    print(line)
    fflush(stdout)
}

/// A scale-bench input that is not what the bench expects.
private struct ScaleBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
