import Foundation
import Scorers
import Tensors

/// Patch-feature aggregation; exact 1-NN throughput beside faiss `IndexFlatL2`.
func runScorerBenchmarks() {
    print("\n## Scorers (2 cores; other processes may share them while measured)")
    benchmarkPatchFeatures()
    benchmarkNearestNeighbour()
}

/// Coreset selection and exact 1-NN time and memory against the number of training images,
/// MVTec-bottle-sized (784 patches of 152 dims per 224² image, 10 % coreset, 83 test images).
func runScalingBenchmarks() {
    print("\n## Scaling with the training set (2 cores; other processes may share them while measured)")
    benchmarkScaling()
}

/// FNV-1a of 64-bit words: a fingerprint that tells whether two runs (or commits) selected
/// or found exactly the same thing.
func fingerprint<S: Sequence>(_ words: S) -> String where S.Element == UInt64 {
    String(words.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ $1) &* 0x100_0000_01b3 }, radix: 16)
}

private func benchmarkPatchFeatures() {
    // WideResNet-50 layer2 + layer3 at 224 × 224, the reference's 1024 / 1024 reduction.
    let n = 4
    let layer2 = Tensor(shape: [n, 512, 28, 28], data: benchmarkFloats(n * 512 * 28 * 28, seed: 5))
    let layer3 = Tensor(shape: [n, 1024, 14, 14], data: benchmarkFloats(n * 1024 * 14 * 14, seed: 6))
    for aggregator in [PatchFeatureAggregator(pretrainDimension: 1024, targetDimension: 1024), PatchFeatureAggregator()] {
        let seconds = bestTime(repeats: 2) { _ = try! aggregator([layer2, layer3]) }
        print(String(format: "patch features [512x28x28 + 1024x14x14], pretrain %@ target %@: %.1f ms per image",
                     aggregator.pretrainDimension.map(String.init) ?? "-", aggregator.targetDimension.map(String.init) ?? "-",
                     seconds / Double(n) * 1e3))
    }
}

/// Coreset and kNN time and peak memory for 26 … 209 training images (bank `N = 784 ·
/// images` rows of 152 dims, 10 % coreset, then the 83 test images' 65,072 patches against
/// it). The last row is MVTec bottle's size, held to issue #15's coreset target (≤ 8 s).
/// `TRAWL_SCALING_IMAGES` (comma-separated, e.g. `209`) runs only those training-set sizes.
private func benchmarkScaling() {
    let (patches, d, testImages) = (784, 152, 83)
    print("random features; peak = process VmHWM since the stage began:")
    print("| training images | bank N | coreset 10 % | coreset peak | kNN bank | 1-NN of \(testImages * patches) test patches | kNN peak |")
    print("|---|---|---|---|---|---|---|")
    let queries = Tensor(shape: [testImages * patches, d], data: benchmarkFloats(testImages * patches * d, seed: 13))
    var (coresetSeconds, coresetCPUSeconds, coresetFingerprint) = (Double.nan, Double.nan, "")
    let sizes = ProcessInfo.processInfo.environment["TRAWL_SCALING_IMAGES"]
        .map { $0.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } } ?? [26, 52, 104, 209]
    for images in sizes {
        let n = images * patches
        let bank = Tensor(shape: [n, d], data: benchmarkFloats(n * d, seed: 7))
        resetPeakMemory()
        let sampler = CoresetSampler(size: .fraction(0.1), seed: 0, showsProgress: false)
        let (start, startCPU) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
        let indices = try! sampler.select(from: bank)
        coresetSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        coresetCPUSeconds = cpuSeconds() - startCPU
        coresetFingerprint = fingerprint(indices.map { UInt64($0) })
        let coresetPeak = peakMemoryMiB()
        let coreset = Tensor(shape: [indices.count, d], data: indices.flatMap { bank.data[$0 * d ..< ($0 + 1) * d] })
        resetPeakMemory()
        let index = try! NearestNeighbourIndex(bank: coreset, metric: .squaredEuclidean)
        let knnSeconds = bestTime(repeats: 1) { _ = try! index.search(queries, k: 1) }
        print(String(format: "| %d | %d | %.2f s | %.0f MiB | %d | %.2f s | %.0f MiB |",
                     images, n, coresetSeconds, coresetPeak, indices.count, knnSeconds, peakMemoryMiB()))
    }
    guard let last = sizes.last else { return }
    print(String(format: "greedy coreset 10%% of %d x %d (projected to 128): %.1f s, %.1f CPU s (target <= 8 s: %@); selection fingerprint %@",
                 last * patches, d, coresetSeconds, coresetCPUSeconds, verdict(coresetSeconds <= 8), coresetFingerprint))
}

/// Exact 1-NN of 65,536 queries against a 16,384 × 152 bank of uniform random rows, against
/// issue #15's target (≥ 1.5× faiss).
private func benchmarkNearestNeighbour() {
    let (m, q, d) = (16_384, 65_536, 152)
    compareNearestNeighbour(bank: Tensor(shape: [m, d], data: benchmarkFloats(m * d, seed: 11)),
                            queries: Tensor(shape: [q, d], data: benchmarkFloats(q * d, seed: 12)),
                            label: "exact 1-NN, \(q) queries vs \(m) x \(d) bank", target: 1.5)
}

/// Trawl's exact 1-NN of `queries` (`[Q, D]`) in `bank` (`[M, D]`), its searches alternating with
/// faiss-cpu `IndexFlatL2`'s (when importable: `make bench` installs it in .assets/pybench):
/// queries/s, CPU seconds, a fingerprint of the results, the ratio, and how many nearest rows agree.
func compareNearestNeighbour(bank: Tensor, queries: Tensor, label: String, target: Double?) {
    let (m, q, d) = (bank.shape[0], queries.shape[0], bank.shape[1])
    let index = try! NearestNeighbourIndex(bank: bank, metric: .squaredEuclidean)

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-knn-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ t: Tensor, _ name: String) {
        t.data.withUnsafeBytes { try! Data($0).write(to: directory.appendingPathComponent(name)) }
    }
    write(bank, "bank.f32")
    write(queries, "queries.f32")
    // Answers each line with one search's seconds; its last search's nearest rows go to faiss.i64.
    let script = """
    import sys, time, numpy as np
    try:
        import faiss
    except ImportError:
        sys.exit("faiss-cpu not importable")
    d = \(d); root = sys.argv[1]
    bank = np.fromfile(root + "/bank.f32", dtype=np.float32).reshape(-1, d)
    queries = np.fromfile(root + "/queries.f32", dtype=np.float32).reshape(-1, d)
    index = faiss.IndexFlatL2(d); index.add(bank)
    print(f"faiss {faiss.__version__} IndexFlatL2 ({faiss.omp_get_max_threads()} threads)", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        _, nearest = index.search(queries, 1)
        seconds = time.perf_counter() - start
        nearest.astype(np.int64).tofile(root + "/faiss.i64")
        print(f"{seconds:.6f}", flush=True)
    """
    let faiss = PeerProcess(script, arguments: [directory.path], skipping: "faiss comparison")

    var found: Neighbours?
    let (seconds, cpuPerSearch, faissSeconds) = measureAlternating({ found = try! index.search(queries, k: 1) },
                                                                   peer: faiss, request: "search")
    let resultFingerprint = fingerprint(found!.indices.map { UInt64($0) } + found!.distances.map { UInt64($0.bitPattern) })
    print(String(format: "%@: Trawl %.0f queries/s, %.2f CPU s per search (%.1f GFLOP/s per CPU second); "
                 + "result fingerprint %@",
                 label, Double(q) / seconds, cpuPerSearch, 2 * Double(q * m * d) / cpuPerSearch / 1e9, resultFingerprint))
    guard let faiss, let faissSeconds else { return }
    let faissNearest = (try? Data(contentsOf: directory.appendingPathComponent("faiss.i64")))
        .map { data in data.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } } ?? []
    let agree = zip(faissNearest, found!.indices).filter { Int($0) == $1 }.count
    printComparison(label, trawl: String(format: "%.0f queries/s", Double(q) / seconds),
                    peer: String(format: "%@ %.0f queries/s, searches alternating with Trawl's", faiss.greeting,
                                 Double(q) / faissSeconds),
                    ratio: faissSeconds / seconds, target: target)
    print("  same nearest index as faiss for \(agree) of \(q) queries")
}
