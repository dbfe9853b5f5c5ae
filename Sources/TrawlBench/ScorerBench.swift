import Foundation
import Scorers
import Tensors

/// Coreset selection time and memory; exact 1-NN throughput beside faiss `IndexFlatL2`.
func runScorerBenchmarks() {
    print("\n## Scorers (2 cores; other processes may share them while measured)")
    benchmarkPatchFeatures()
    benchmarkCoreset()
    benchmarkNearestNeighbour()
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

private func benchmarkCoreset() {
    let (n, d) = (163_856, 152)
    let bank = Tensor(shape: [n, d], data: benchmarkFloats(n * d, seed: 7))
    let sampler = CoresetSampler(size: .fraction(0.1), seed: 0, showsProgress: true)
    let start = DispatchTime.now().uptimeNanoseconds
    let indices = try! sampler.select(from: bank)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "coreset 10%% of %d x %d (projected to 128): %d points in %.1f s, peak memory %.0f MiB (VmHWM, whole process so far)",
                 n, d, indices.count, seconds, peakMemoryMiB()))
}

private func benchmarkNearestNeighbour() {
    let (m, q, d) = (16_384, 16_384, 152)
    let bank = Tensor(shape: [m, d], data: benchmarkFloats(m * d, seed: 11))
    let queries = Tensor(shape: [q, d], data: benchmarkFloats(q * d, seed: 12))
    let index = try! NearestNeighbourIndex(bank: bank, metric: .squaredEuclidean)
    var found: Neighbours?
    let seconds = bestTime(repeats: 3) { found = try! index.search(queries, k: 1) }
    print(String(format: "exact 1-NN, %d queries vs %d x %d bank: Trawl %.0f queries/s", q, m, d, Double(q) / seconds))

    // The same search through faiss-cpu, if importable (make bench installs it in .assets/pybench).
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-knn-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ t: Tensor, _ name: String) {
        t.data.withUnsafeBytes { try! Data($0).write(to: directory.appendingPathComponent(name)) }
    }
    write(bank, "bank.f32")
    write(queries, "queries.f32")
    let script = """
    import sys, time, numpy as np
    try:
        import faiss
    except ImportError:
        print("faiss-cpu not importable"); sys.exit(3)
    d = \(d); root = sys.argv[1]
    bank = np.fromfile(root + "/bank.f32", dtype=np.float32).reshape(-1, d)
    queries = np.fromfile(root + "/queries.f32", dtype=np.float32).reshape(-1, d)
    index = faiss.IndexFlatL2(d); index.add(bank)
    index.search(queries, 1)
    best = min((lambda t: (index.search(queries, 1), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
    _, nearest = index.search(queries, 1)
    nearest.astype(np.int64).tofile(root + "/faiss.i64")
    print(f"{len(queries) / best:.0f} {faiss.__version__} {faiss.omp_get_max_threads()}")
    """
    guard let output = runBenchPython(script, arguments: [directory.path], skipping: "faiss comparison") else { return }
    let fields = output.split(separator: " ")
    guard let faissRate = Double(fields.first ?? "") else { print("faiss comparison skipped: \(output)"); return }
    let faissNearest = (try? Data(contentsOf: directory.appendingPathComponent("faiss.i64")))
        .map { data in data.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) } } ?? []
    let agree = zip(faissNearest, found!.indices).filter { Int($0) == $1 }.count
    print(String(format: "  faiss %@ IndexFlatL2 (%@ threads): %.0f queries/s; Trawl/faiss = %.2fx; same nearest index for %d of %d queries",
                 String(fields[1]), String(fields[2]), faissRate, Double(q) / seconds / faissRate, agree, q))
}
