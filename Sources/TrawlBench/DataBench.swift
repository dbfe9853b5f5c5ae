import Datasets
import EmbeddingCache
import Foundation
import Tensors

/// Dataset loading time, SHA-256 throughput and embedding-cache write / read throughput.
func runDataBenchmarks() {
    print("\n## Datasets and embedding cache")
    let assets = URL(fileURLWithPath: ".assets")
    for (name, configuration) in [
        ("elpv (2,624 labels)", DatasetConfiguration.elpv(ELPVConfiguration())),
        ("fashion-mnist (70,000 images)", .fashionMNIST(FashionMNISTConfiguration(normalClasses: [0]))),
    ] {
        let resolved = configuration.resolvingPaths(relativeTo: assets.deletingLastPathComponent())
        do {
            _ = try resolved.load()
            print(String(format: "load %@: %.0f ms", name, bestTime(repeats: 3) { _ = try? resolved.load() } * 1e3))
        } catch {
            print("load \(name): skipped (\(error))")
        }
    }

    let pixels = Tensor(shape: [64, 1024, 1024], data: benchmarkFloats(64 << 20, seed: 5))
    let hashTime = bestTime(repeats: 3) { _ = ImageSetFingerprint.contentSHA256(ofPixels: pixels) }
    print(String(format: "SHA-256: %.0f MB/s", 256 / hashTime))

    // ELPV-sized PatchCore taps for 512 images: [40, 28, 28] + [112, 14, 14] floats each.
    let count = 512
    let shapes = ["stride8": [40, 28, 28], "stride16": [112, 14, 14]]
    let ids = (0..<count).map { String(format: "images/cell%04d.png", $0) }
    let rows = shapes.mapValues { Tensor(shape: [count] + $0, data: benchmarkFloats(count * $0.reduce(1, *), seed: 6)) }
    let megabytes = Double(rows.values.reduce(0) { $0 + $1.count } * 4) / 1e6
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-bench-cache-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = EmbeddingCache(directory: directory)
    let key = FeatureKey(images: ImageSetFingerprint(ids.map { ($0, $0) }), backbone: "bench", weightsSHA256: "0",
                         taps: shapes.keys.sorted(), preprocessing: FeatureKey.Preprocessing(
                             resize: [224, 224], resizeFilter: "bilinear", centerCrop: [224, 224], color: "rgb",
                             mean: [127], std: [128]), toolVersion: "bench")
    do {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try cache.features(for: key, imageIDs: ids, specHash: "bench", batchSize: 32) { batch in
            let first = ids.firstIndex(of: batch[0])!
            return rows.mapValues { tensor in
                let size = tensor.count / count
                return Tensor(shape: [batch.count] + tensor.shape.dropFirst(),
                              data: Array(tensor.data[first * size ..< (first + batch.count) * size]))
            }
        }
        let write = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let read = bestTime(repeats: 3) {
            _ = try? cache.features(for: key, imageIDs: ids, specHash: "bench", batchSize: 32) { _ in [:] }
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: cache.url(for: key).path)[.size] as? Int) ?? 0
        print(String(format: "cache %d images (%.0f MB float32): write %.0f MB/s, read %.0f MB/s, file %.0f%% of raw",
                     count, megabytes, megabytes / write, megabytes / read, 100 * Double(size) / 1e6 / megabytes))
    } catch {
        print("cache benchmark failed: \(error)")
    }
    print(String(format: "peak memory: %.0f MiB", peakMemoryMiB()))
}
