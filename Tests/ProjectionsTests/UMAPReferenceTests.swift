import Foundation
import Projections
import Tensors
import TestSupport
import XCTest

/// Trawl's UMAP beside umap-learn's on the raw 784-pixel vectors (scaled to [0, 1]) of the
/// first 3,000 Fashion-MNIST training images: trustworthiness within 0.02 and 2-D 5-NN
/// accuracy within 0.03 of umap-learn's. umap-learn and scikit-learn are installed into
/// `.assets/pybench` when missing; the test skips with the reason when that fails.
final class UMAPReferenceTests: XCTestCase {
    static let imageCount = 3_000
    /// What the test installs (the versions it was checked with).
    static let requirements = ["umap-learn==0.5.12", "scikit-learn==1.9.1"]

    func testLayoutQualityMatchesUMAPLearn() throws {
        let images = assetsDirectory.appendingPathComponent("fashion-mnist/train-images-idx3-ubyte")
        let labelFile = assetsDirectory.appendingPathComponent("fashion-mnist/train-labels-idx1-ubyte")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: images.path),
                          "\(images.path) is absent; run `make setup`")
        let packages = assetsDirectory.appendingPathComponent("pybench")
        try installReferencePackages(into: packages)

        let n = Self.imageCount
        let pixels = try Data(contentsOf: images).dropFirst(16).prefix(n * 784)
        let labels = try Data(contentsOf: labelFile).dropFirst(8).prefix(n).map { Int32($0) }
        let points = Tensor(shape: [n, 784], data: pixels.map { Float($0) / 255 })
        let clock = Date()
        let layout = try UMAP(seed: 0).embed(points)
        let trawlSeconds = Date().timeIntervalSince(clock)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-umap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try points.data.withUnsafeBytes { try Data($0).write(to: folder.appendingPathComponent("points.f32")) }
        try labels.withUnsafeBytes { try Data($0).write(to: folder.appendingPathComponent("labels.i32")) }
        try layout.data.withUnsafeBytes { try Data($0).write(to: folder.appendingPathComponent("trawl.f32")) }
        let script = fixturesDirectory.appendingPathComponent("projections/umap_reference.py")
        let (status, output) = try python([script.path, folder.path], path: packages)
        XCTAssertEqual(status, 0, output)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        let trawl = try XCTUnwrap(report["trawl"] as? [String: Double])
        let reference = try XCTUnwrap(report["umap_learn"] as? [String: Double])
        print(String(format: "UMAP of %d Fashion-MNIST images: trustworthiness %.4f (umap-learn %.4f), "
                     + "5-NN accuracy %.4f (umap-learn %.4f); %.1f s (umap-learn %@: %.1f s)",
                     n, trawl["trustworthiness"]!, reference["trustworthiness"]!, trawl["knn_accuracy"]!,
                     reference["knn_accuracy"]!, trawlSeconds, "\(report["umap_learn_version"] ?? "?")",
                     report["umap_learn_seconds"] as? Double ?? .nan))
        XCTAssertGreaterThanOrEqual(trawl["trustworthiness"]!, reference["trustworthiness"]! - 0.02)
        XCTAssertGreaterThanOrEqual(trawl["knn_accuracy"]!, reference["knn_accuracy"]! - 0.03)
    }

    /// Makes `import umap, sklearn` work with `packages` on the path, or skips.
    private func installReferencePackages(into packages: URL) throws {
        if try python(["-c", "import umap, sklearn"], path: packages).status == 0 { return }
        let (status, output) = try python(["-m", "pip", "install", "-q", "--target", packages.path]
                                          + Self.requirements, path: packages)
        guard status == 0 else {
            throw XCTSkip("umap-learn could not be installed (pip install --target \(packages.path)): \(output.suffix(500))")
        }
    }

    /// Runs `python3 arguments` with `path` first on PYTHONPATH; its status and stdout (stderr
    /// appended when it fails).
    private func python(_ arguments: [String], path: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = path.path
        process.environment = environment
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw XCTSkip("python3 is not runnable: \(error)") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: stdout, as: UTF8.self)
        return (process.terminationStatus,
                process.terminationStatus == 0 ? text : text + String(decoding: stderr, as: UTF8.self))
    }
}
