import Foundation
import Projections
import Tensors

/// UMAP and PCA time on Fashion-MNIST pixel vectors, beside umap-learn on the same points.
func runProjectionBenchmarks() {
    print("\n## Projections (2 cores; other processes may share them while measured)")
    let n = 5_000
    let images = URL(fileURLWithPath: ".assets/fashion-mnist/train-images-idx3-ubyte")
    guard let file = try? Data(contentsOf: images) else {
        print("projections skipped: \(images.path) is absent (make setup)")
        return
    }
    // The first n training images, 784 pixels each, scaled to [0, 1].
    let points = Tensor(shape: [n, 784], data: file.dropFirst(16).prefix(n * 784).map { Float($0) / 255 })
    let pcaSeconds = bestTime(repeats: 3) { _ = try! PCA(fitting: points, components: 2).transform(points) }
    print(String(format: "PCA, %d x 784 to 2-D: %.2f s", n, pcaSeconds))
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try! UMAP(seed: 0).embed(points)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "UMAP, %d x 784 to 2-D (15 neighbours, 500 epochs): Trawl %.1f s", n, seconds))

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-umap-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    points.data.withUnsafeBytes { try! Data($0).write(to: directory.appendingPathComponent("points.f32")) }
    // A short fit on 4,096 points first (umap-learn's nearest-neighbour descent path, as for
    // all n points), so that numba's compilation is not timed.
    let script = """
    import sys, time, numpy as np
    try:
        import umap
    except ImportError:
        print("umap-learn not importable"); sys.exit(3)
    points = np.fromfile(sys.argv[1] + "/points.f32", dtype=np.float32).reshape(-1, 784)
    umap.UMAP(random_state=0, n_epochs=2).fit_transform(points[:4096])
    start = time.perf_counter()
    umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0).fit_transform(points)
    print(f"{time.perf_counter() - start} {umap.__version__}")
    """
    guard let output = runBenchPython(script, arguments: [directory.path], skipping: "umap-learn comparison") else { return }
    let fields = output.split(separator: " ")
    guard let reference = Double(fields.first ?? "") else { print("umap-learn comparison skipped: \(output)"); return }
    print(String(format: "  umap-learn %@ (random_state 0, single-threaded, approximate neighbours, compilation excluded): %.1f s; Trawl/umap-learn time = %.2fx",
                 String(fields.last!), reference, seconds / reference))
}
