import Experiments
import FileLocks
import Foundation
import TestSupport
import XCTest

/// Real `trawl run` processes (the release binary this build made) on the tiny generated
/// `folders` dataset: concurrent runs, a cache disk that fills up.
final class ReliabilityTests: XCTestCase {
    private var root: URL!
    private let trawl = repositoryRoot.appendingPathComponent(".build/release/trawl")

    override func setUpWithError() throws {
        try skipUnlessLite0Weights()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: trawl.path),
                          "\(trawl.path) is absent; build it with `make test` (release build)")
        root = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-reliability-\(UUID().uuidString)")
        try writeTinyFoldersDataset(at: root.appendingPathComponent("data"))
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(at: root) }
    }

    /// Writes `Experiments/NAME.json` (kNN over the tiny dataset, images resized to
    /// `inputSize`) and returns its URL.
    private func writeSpec(_ name: String, inputSize: Int = 64) throws -> URL {
        let spec: [String: Any] = [
            "name": name,
            "dataset": ["kind": "folders", "root": "../data", "train_fraction": 0.5],
            "backbone": ["name": "efficientnet-lite0", "taps": ["stride8", "stride16"], "input_size": inputSize],
            "scorer": ["kind": "knn", "k": 1],
            "metrics": ["auroc", "ap"],
            "seed": 3,
        ]
        let folder = root.appendingPathComponent("Experiments")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent("\(name).json")
        try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys]).write(to: url)
        return url
    }

    /// A started `trawl run SPEC` (through `sh -c`, after `shellPrefix`), its stdout and
    /// stderr going to the returned file.
    private func launch(_ spec: URL, results: URL, cache: URL, shellPrefix: String = "") throws -> (Process, URL) {
        let log = root.appendingPathComponent("\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", shellPrefix + " exec \"$0\" run \"$1\" --results \"$2\" --cache \"$3\" --assets \"$4\" --quiet",
                             trawl.path, spec.path, results.path, cache.path, assetsDirectory.path]
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return (process, log)
    }

    private func finish(_ run: (Process, URL)) -> (status: Int32, output: String) {
        run.0.waitUntilExit()
        return (run.0.terminationStatus, (try? String(contentsOf: run.1, encoding: .utf8)) ?? "")
    }

    private func runRecord(_ results: URL, _ name: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("\(name)/run.json")))
                      as? [String: Any])
    }

    private func scores(_ results: URL, _ name: String) throws -> String {
        try String(contentsOf: results.appendingPathComponent("\(name)/scores.csv"), encoding: .utf8)
    }

    /// A run of a name another process is writing waits for it, says for whom, then runs.
    func testARunWaitsForTheRunWritingTheSameResults() throws {
        let results = root.appendingPathComponent("Results")
        try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
        let holder = try FileLock(results.appendingPathComponent(".tiny.lock")) { _ in }
        let run = try launch(try writeSpec("tiny"), results: results, cache: root.appendingPathComponent("cache"))
        // Bounded wait for the line (not a timing check: the run waits as long as the lock is held).
        var output = ""
        for _ in 0..<600 where !output.contains("waiting for PID") {
            Thread.sleep(forTimeInterval: 0.1)
            output = (try? String(contentsOf: run.1, encoding: .utf8)) ?? ""
        }
        XCTAssertTrue(output.contains("waiting for PID \(getpid()), which is writing \(results.path)/tiny"), output)
        XCTAssertTrue(run.0.isRunning, "it waits while the lock is held")
        XCTAssertFalse(FileManager.default.fileExists(atPath: results.appendingPathComponent("tiny").path))
        holder.release()
        let (status, log) = finish(run)
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results.appendingPathComponent("tiny/metrics.csv").path))
    }

    /// Two runs sharing one cache key, started together on a cold cache: both succeed with
    /// the same scores, the features are computed once in all, nothing is reported corrupt.
    func testTwoRunsSharingACacheKeyBothSucceed() throws {
        let results = root.appendingPathComponent("Results")
        let cache = root.appendingPathComponent("cache")
        let first = try launch(try writeSpec("tiny-a"), results: results, cache: cache)
        let second = try launch(try writeSpec("tiny-b"), results: results, cache: cache)
        let (a, b) = (finish(first), finish(second))
        XCTAssertEqual(a.status, 0, a.output)
        XCTAssertEqual(b.status, 0, b.output)
        XCTAssertFalse((a.output + b.output).contains("corrupt"), a.output + b.output)
        XCTAssertFalse((a.output + b.output).contains("warning"), a.output + b.output)
        var misses = 0
        for name in ["tiny-a", "tiny-b"] {
            let record = try XCTUnwrap(try runRecord(results, name)["cache"] as? [String: Any])
            let hits = try XCTUnwrap(record["hits"] as? Int), computed = try XCTUnwrap(record["misses"] as? Int)
            XCTAssertEqual(hits + computed, 12, name)
            XCTAssertGreaterThanOrEqual(hits, 0, name)
            misses += computed
        }
        XCTAssertEqual(misses, 12, "one of the runs computed every image, the other read them")
        XCTAssertEqual(try scores(results, "tiny-a"), try scores(results, "tiny-b"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache.path)
            .filter { $0.hasSuffix(".partial") || $0.contains(".corrupt-") }
        XCTAssertEqual(leftovers, [])
    }

    /// A cache disk that fills up (writes beyond 640 KiB fail, as `ulimit -f` makes them;
    /// the cache file needs about 2 MiB): the run fails with one error naming the cache file
    /// (no crash), leaves no finished file, and the next runs (disk free again) give exactly
    /// the scores of a run that never saw a full disk.
    func testCacheWritesThatFailEndTheRunAndNothingWrongIsReused() throws {
        try assertFullCacheDisk(cache: root.appendingPathComponent("cache"),
                                shellPrefix: "trap '' XFSZ; ulimit -f 1280;", makeRoom: {})
    }

    /// The same with a real 640 KiB tmpfs as the cache folder (needs root and mount), grown
    /// to 8 MiB for the next runs. Before the fix this run exited 0 with AUROC 0.5 instead
    /// of 1, and the next run reused the zeros.
    func testFullTmpfsCacheEndsTheRunAndNothingWrongIsReused() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a tmpfs needs root")
        let cache = root.appendingPathComponent("tmpfs")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        func mount(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/mount")
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        try XCTSkipUnless(try mount(["-t", "tmpfs", "-o", "size=640k", "tmpfs", cache.path]) == 0,
                          "mount -t tmpfs failed (no privilege here)")
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [cache.path]
            try? umount.run()
            umount.waitUntilExit()
        }
        try assertFullCacheDisk(cache: cache, shellPrefix: "") {
            XCTAssertEqual(try mount(["-o", "remount,size=8m", cache.path]), 0)
        }
    }

    private func assertFullCacheDisk(cache: URL, shellPrefix: String, makeRoom: () throws -> Void,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let spec = try writeSpec("tiny", inputSize: 224)
        let results = root.appendingPathComponent("Results")
        let run = try launch(spec, results: results, cache: cache, shellPrefix: shellPrefix)
        let full = finish(run)
        XCTAssertEqual(run.0.terminationReason, .exit, "no crash\n" + full.output, file: file, line: line)
        XCTAssertEqual(full.status, 1, "a run whose cache cannot be written must fail\n" + full.output, file: file, line: line)
        XCTAssertTrue(full.output.contains("Error: \(cache.path)/"), full.output, file: file, line: line)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: cache.path).contains { $0.hasSuffix(".h5") },
                       "no finished cache file", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: results.appendingPathComponent("tiny").path), file: file, line: line)

        // The reference: a run that never saw a full disk.
        let freshResults = root.appendingPathComponent("FreshResults")
        let fresh = finish(try launch(spec, results: freshResults, cache: root.appendingPathComponent("fresh-cache")))
        XCTAssertEqual(fresh.status, 0, fresh.output, file: file, line: line)

        // Room again: the next run resumes (or sets aside) what the failed one left, and the
        // one after it reads everything from the cache; both score exactly as the reference.
        try makeRoom()
        for _ in 0..<2 {
            let again = finish(try launch(spec, results: results, cache: cache))
            XCTAssertEqual(again.status, 0, again.output, file: file, line: line)
            let record = try XCTUnwrap(try runRecord(results, "tiny")["cache"] as? [String: Any], file: file, line: line)
            let hits = try XCTUnwrap(record["hits"] as? Int), computed = try XCTUnwrap(record["misses"] as? Int)
            XCTAssertEqual(hits + computed, 12, again.output, file: file, line: line)
            XCTAssertGreaterThanOrEqual(hits, 0, file: file, line: line)
            XCTAssertEqual(try scores(results, "tiny"), try scores(freshResults, "tiny"), file: file, line: line)
        }
    }
}
