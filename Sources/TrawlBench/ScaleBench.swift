import Foundation
import HDF5
import Scorers
import Tensors

/// `make bench SECTIONS=scale`: exact search against each faiss index kind on a bank of real
/// patch features. The bank is the patch features (3×3 pooling, taps concatenated, as
/// PatchCore's) of the training images of one embedding-cache file, `TRAWL_SCALE_CACHE` (an
/// `.h5` under `.cache/embeddings`; default: the largest there, e.g. after
/// `trawl run Experiments/elpv-modules-tiled.json`); the queries are up to 100,000 patches
/// of its other images, drawn with a fixed seed. Each tap dataset is read whole and pooled
/// image by image; every pooled row is held until the queries are sampled (a row iterator
/// over the cache would bound this). Exact
/// search of every query would take hours on 2 cores: it runs on the first
/// `TRAWL_SCALE_EXACT_QUERIES` (2,000) queries, which give recall@1 and exact queries/s.
/// `TRAWL_SCALE_ROWS` keeps only the first that many bank rows (default: all). Each table
/// row is flushed as it is measured, so a run stopped early keeps what it measured.
func runScaleBenchmarks() {
    print("\n## Scale: exact search vs faiss indexes on real patch features\n")
    guard ApproximateSearch.isAvailable else {
        return print("skipped: " + ApproximateSearch.notInstalledMessage(kind: "ivf_flat"))
    }
    let environment = ProcessInfo.processInfo.environment
    let folder = URL(fileURLWithPath: ".cache/embeddings")
    let files = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.fileSizeKey])) ?? [])
        .filter { $0.pathExtension == "h5" }
    let size = { (url: URL) in (try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0 }
    guard let file = environment["TRAWL_SCALE_CACHE"].map({ URL(fileURLWithPath: $0) }) ?? files.max(by: { size($0) < size($1) }) else {
        return print("skipped: no embedding-cache file; run an experiment first "
                     + "(trawl run Experiments/elpv-modules-tiled.json) or set TRAWL_SCALE_CACHE")
    }
    let exactCount = Int(environment["TRAWL_SCALE_EXACT_QUERIES"] ?? "") ?? 2000
    let rowLimit = Int(environment["TRAWL_SCALE_ROWS"] ?? "") ?? Int.max
    do {
        let clock = Date()
        let (bank, queries) = try scaleRows(file, queryCount: 100_000, rowLimit: rowLimit)
        print(String(format: "bank: %d × %d real patch features (training images of %@), %d queries from its other images; "
                     + "read and pooled in %.1f s, peak RSS %.0f MiB", bank.shape[0], bank.shape[1], file.lastPathComponent,
                     queries.shape[0], Date().timeIntervalSince(clock), peakMemoryMiB()))
        fflush(stdout)
        let exact = try NearestNeighbourIndex(bank: bank, metric: .euclidean)
        let exactQueries = Tensor(shape: [min(exactCount, queries.shape[0]), queries.shape[1]],
                                  data: Array(queries.data.prefix(min(exactCount, queries.shape[0]) * queries.shape[1])))
        let exactClock = Date()
        let truth = try exact.search(exactQueries, k: 1)
        let exactSeconds = Date().timeIntervalSince(exactClock)
        let exactRate = Double(exactQueries.shape[0]) / exactSeconds
        print("\n| search | build s | queries/s | speed-up | recall@1 | index MiB | RSS MiB |")
        print("|---|---|---|---|---|---|---|")
        print(String(format: "| exact (%d queries) | 0 | %.0f | 1.0 | 1.0000 | 0 | %.0f |", exactQueries.shape[0], exactRate,
                     residentMemoryMiB()))
        fflush(stdout)
        let lists = max(1, min(1024, bank.shape[0] / ApproximateSearch.rowsPerList))
        let kinds: [ApproximateSearch.Kind] = [
            .ivfFlat(lists: lists, probe: min(8, lists)), .hnsw(m: 32, efSearch: 64),
            .ivfPQ(lists: lists, codeBytes: 38, probe: min(16, lists), rerank: 100),
        ]
        for kind in kinds {
            let index = try ApproximateNeighbourIndex(ApproximateSearch(kind, seed: 0), over: exact)
            let searchClock = Date()
            let found = try index.search(queries, k: 1)
            let rate = Double(queries.shape[0]) / Date().timeIntervalSince(searchClock)
            let hits = (0..<truth.count).filter { found.indices[$0] == truth.indices[$0] }.count
            print(String(format: "| %@ | %.1f | %.0f | %.1f | %.4f | %.0f | %.0f |", kind.description, index.buildSeconds, rate,
                         rate / exactRate, Double(hits) / Double(truth.count), Double(index.memoryBytes) / 1_048_576,
                         residentMemoryMiB()))
            fflush(stdout)
        }
        print(String(format: "\nbank rows (float32) %.0f MiB; peak RSS %.0f MiB", Double(bank.data.count * 4) / 1_048_576,
                     peakMemoryMiB()))
    } catch {
        print("scale benchmark failed: \(error)")
    }
}

/// The patch features of `file`'s training images (ids starting `train/`; the first
/// `rowLimit` rows) and up to `queryCount` seeded patches of its other images: `[M, D]` and `[Q, D]`.
private func scaleRows(_ file: URL, queryCount: Int, rowLimit: Int) throws -> (bank: Tensor, queries: Tensor) {
    try withHDF5 {
        let handle = try openFile(file.path, writable: false)
        defer { try? closeFile(handle) }
        let ids = try readStrings(handle, "image_ids")
        let tensors = try memberNames(handle, "features").map { tap -> Tensor in
            let shape = try datasetInfo(handle, "features/\(tap)").shape
            guard shape.count == 4 else { throw HDF5Failure(description: "features/\(tap) is not [N, C, H, W]") }
            return Tensor(shape: shape, data: try readFloats(handle, "features/\(tap)", count: shape.reduce(1, *)))
        }.sorted { $0.shape[2] > $1.shape[2] }   // finest tap first, as the runner orders them
        let aggregator = PatchFeatureAggregator()
        var bank = [Float](), pool = [Float](), dimension = 0
        for (row, id) in ids.enumerated() {
            let patches = try aggregator(tensors.map { $0.slice(row).reshaped([1] + Array($0.shape.dropFirst())) }).features
            dimension = patches.shape[1]
            if id.hasPrefix("train/") { bank += patches.data } else { pool += patches.data }
        }
        let available = pool.count / max(1, dimension)
        var random = SeededRandom(seed: 0)
        var order = Array(0..<available)
        let count = min(queryCount, available)
        for i in 0..<count { order.swapAt(i, i + Int(random.next() % UInt64(available - i))) }
        var queries = [Float]()
        queries.reserveCapacity(count * dimension)
        for i in order.prefix(count) { queries += pool[i * dimension ..< (i + 1) * dimension] }
        let rows = min(rowLimit, bank.count / dimension)
        return (Tensor(shape: [rows, dimension], data: Array(bank.prefix(rows * dimension))),
                Tensor(shape: [count, dimension], data: queries))
    }
}
