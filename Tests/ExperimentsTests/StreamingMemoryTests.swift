import Foundation
import Images
import Tensors
import TestSupport
import XCTest

/// A run's peak memory is bounded by a few images' features, not the dataset's: real
/// `trawl run` processes (the release binary this build made) over two synthetic tiled
/// datasets, the larger one by 32 images, peak within a few megabytes of each other although
/// the larger one's tap maps hold 218 MB more.
final class StreamingMemoryTests: XCTestCase {
    private var root: URL!
    private let trawl = repositoryRoot.appendingPathComponent(".build/release/trawl")
    /// Image side, pixels: 4 × 4 tiles of 224 px. Taps stride4 (24 channels) and stride8
    /// (40) hold 224² · 24 + 112² · 40 floats = 6.8 MB per image.
    private let side = 896
    private let bytesPerImage = (224 * 224 * 24 + 112 * 112 * 40) * 4

    override func setUpWithError() throws {
        try skipUnlessLite0Weights()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: trawl.path),
                          "\(trawl.path) is absent; build it with `make test` (release build)")
        root = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-streaming-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    /// `folders` data in `name/`: `count` gray `side × side` images, a quarter of them FAIL
    /// (smooth stripes; a FAIL image has a bright square).
    private func writeDataset(_ name: String, count total: Int) throws -> URL {
        let folder = root.appendingPathComponent(name)
        for (verdict, count) in [("PASS", total - total / 4), ("FAIL", total / 4)] {
            let directory = folder.appendingPathComponent(verdict)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for index in 0..<count {
                var pixels = [Float](repeating: 0, count: side * side)
                for y in 0..<side {
                    for x in 0..<side {
                        pixels[y * side + x] = (100 + 60 * sin(Float(y + 7 * index) / 9)).rounded()
                        if verdict == "FAIL", abs(x - 300 - 40 * index) < 30, abs(y - 400) < 30 { pixels[y * side + x] = 255 }
                    }
                }
                try Image(pixels: Tensor(shape: [1, side, side], data: pixels))
                    .writePNG(to: directory.appendingPathComponent(String(format: "%03d.png", index)))
            }
        }
        return folder
    }

    /// Runs kNN over tiled `data` and returns the run's peak resident memory (run.json), bytes.
    private func peakMemory(of name: String, data: URL) throws -> Int {
        let spec: [String: Any] = [
            "name": name,
            "dataset": ["kind": "folders", "root": data.path, "train_fraction": 0.5],
            "backbone": ["name": "efficientnet-lite0", "taps": ["stride4", "stride8"],
                         "tiling": ["tile": 224, "stride": 224, "scale": 1]],
            "scorer": ["kind": "knn", "k": 1],
            "metrics": ["auroc"],
            "seed": 1,
        ]
        let specFile = root.appendingPathComponent("\(name).json")
        try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]).write(to: specFile)
        let results = root.appendingPathComponent("Results")
        let process = Process()
        process.executableURL = trawl
        process.arguments = ["run", specFile.path, "--results", results.path,
                             "--cache", root.appendingPathComponent("cache").path,
                             "--assets", assetsDirectory.path, "--quiet"]
        let log = Pipe()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        let record = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: results.appendingPathComponent("\(name)/run.json"))) as? [String: Any])
        return try XCTUnwrap(record["peak_memory_bytes"] as? Int, "run.json lacks peak_memory_bytes (no /proc?)")
    }

    func testPeakMemoryDoesNotGrowWithTheDataset() throws {
        // Extraction decodes one image per core at a time: both runs get full batches.
        let smallCount = max(8, ProcessInfo.processInfo.activeProcessorCount), largeCount = smallCount + 32
        let small = try peakMemory(of: "small", data: try writeDataset("small", count: smallCount))
        let large = try peakMemory(of: "large", data: try writeDataset("large", count: largeCount))
        let extraFeatures = (largeCount - smallCount) * bytesPerImage
        print("peak memory: \(smallCount) images \(small >> 20) MiB, \(largeCount) images \(large >> 20) MiB "
              + "(their tap maps: \((smallCount * bytesPerImage) >> 20) and \((largeCount * bytesPerImage) >> 20) MiB)")
        // Holding every image's maps would add all of `extraFeatures` (218 MB); streaming adds
        // the 32 more images' embeddings, scores and gallery entries.
        XCTAssertLessThan(large - small, extraFeatures / 8,
                          "peak grew by \((large - small) >> 20) MiB for \(extraFeatures >> 20) MiB more features")
    }
}
