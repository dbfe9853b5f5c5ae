import Datasets
@testable import Experiments
import Foundation
import Scorers
import Tensors
import TestSupport
import XCTest

/// The saved coreset selections under `<embedding cache>/coresets/`.
final class CoresetCacheTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-coresets-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    /// 300 seeded points in 160 dimensions (more than the 128 of the projection).
    private let bank: Tensor = {
        var random = SplitMix64(seed: 11)
        return Tensor(shape: [300, 160], data: (0..<300 * 160).map { _ in Float(random.next() >> 40) / Float(1 << 24) })
    }()

    private let queries: Tensor = {
        var random = SplitMix64(seed: 12)
        return Tensor(shape: [20, 160], data: (0..<20 * 160).map { _ in Float(random.next() >> 40) / Float(1 << 24) })
    }()

    private func scorer(ratio: Double = 0.1, seed: UInt64 = 0) -> PatchCoreScorer {
        PatchCoreScorer(coreset: CoresetSampler(size: .fraction(ratio), seed: seed, showsProgress: false))
    }

    private func key(ratio: Double = 0.1, seed: UInt64 = 0, features: String = "features",
                     trainIDs: [String] = ["a", "b", "c"]) -> CoresetCache.Key {
        CoresetCache.Key(featureKeySHA256: features, trainImageIDs: trainIDs, taps: ["stride8", "stride16"],
                         aggregator: PatchFeatureAggregator(), sampler: scorer(ratio: ratio, seed: seed).coreset!)
    }

    private var cache: CoresetCache { CoresetCache(directory: folder.appendingPathComponent("coresets")) }

    /// The bank and the nearest-neighbour distances of the queries: equal means equal scores.
    private func fingerprint(_ scorer: PatchCoreScorer) throws -> (Tensor, Neighbours) {
        let index = try XCTUnwrap(scorer.index)
        return (index.bank, try index.search(queries, k: 1))
    }

    func testHitRebuildsTheBankOfAFreshSelectionExactly() throws {
        var uncached = scorer()
        let selected = try XCTUnwrap(try uncached.fit(bank: bank))
        XCTAssertEqual(selected.count, 30)

        var first = scorer()
        let miss = try cache.fit(&first, bank: bank, key: key())
        XCTAssertFalse(miss.hit)
        XCTAssertEqual(miss.warnings, [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: miss.file.path))
        XCTAssertEqual(miss.file.lastPathComponent, key().sha256 + ".json")

        var second = scorer()
        let hit = try cache.fit(&second, bank: bank, key: key())
        XCTAssertTrue(hit.hit)
        XCTAssertEqual(hit.warnings, [])
        for fitted in [first, second] {
            let (fittedBank, fittedNeighbours) = try fingerprint(fitted)
            let (expectedBank, expectedNeighbours) = try fingerprint(uncached)
            XCTAssertEqual(fittedBank, expectedBank)
            XCTAssertEqual(fittedNeighbours, expectedNeighbours)
        }
        // The file holds the selection order, the bank size and the key; no temporary file is left.
        let entry = try JSONDecoder().decode(CoresetCache.Entry.self, from: Data(contentsOf: hit.file))
        XCTAssertEqual(entry.selectedRows, selected)
        XCTAssertEqual(entry.bankRows, 300)
        XCTAssertEqual(entry.key, key())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.directory.path), [hit.file.lastPathComponent])
    }

    func testKeyChangesWithEveryInputOfTheSelection() {
        let base = key().sha256
        let variants = [
            key(ratio: 0.2), key(ratio: 0.1000001), key(seed: 1), key(features: "other features"),
            key(trainIDs: ["a", "c", "b"]), key(trainIDs: ["a", "b"]),
        ]
        for variant in variants { XCTAssertNotEqual(variant.sha256, base, "\(variant)") }
        XCTAssertEqual(Set(variants.map(\.sha256)).count, variants.count)
        var projection = key()
        projection.projectionDimension = 64
        var pooling = key()
        pooling.pooling = 5
        var version = key()
        version.formatVersion += 1
        for variant in [projection, pooling, version] { XCTAssertNotEqual(variant.sha256, base) }
        XCTAssertEqual(key().sha256, base, "the key is a function of its inputs")
    }

    /// Each kind of bad file is reported, replaced by a fresh selection, and gives the same bank.
    func testCorruptOrMismatchedFileIsRebuilt() throws {
        var reference = scorer()
        try reference.fit(bank: bank)
        var primer = scorer()
        let file = try cache.fit(&primer, bank: bank, key: key()).file
        let good = try JSONDecoder().decode(CoresetCache.Entry.self, from: Data(contentsOf: file))

        func encoded(_ change: (inout CoresetCache.Entry) -> Void) throws -> Data {
            var entry = good
            change(&entry)
            return try JSONEncoder().encode(entry)
        }
        let bad: [(String, Data)] = [
            ("not JSON", Data("{\"key\": tru".utf8)),
            ("empty", Data()),
            ("another key", try encoded { $0.key = key(seed: 5) }),
            ("another bank size", try encoded { $0.bankRows = 299 }),
            ("row out of range", try encoded { $0.selectedRows[3] = 300 }),
            ("negative row", try encoded { $0.selectedRows[0] = -1 }),
            ("repeated row", try encoded { $0.selectedRows[2] = $0.selectedRows[1] }),
            ("too few rows", try encoded { $0.selectedRows.removeLast() }),
            // Other valid rows (in range, distinct, as many): only the checksum tells.
            ("other valid rows", try encoded { entry in
                entry.selectedRows[0] = (0..<300).first { !entry.selectedRows.contains($0) }!
            }),
            ("damaged selection checksum", try encoded { $0.selectionSHA256 = String(repeating: "0", count: 64) }),
        ]
        for (name, data) in bad {
            try data.write(to: file)
            var rebuilt = scorer()
            let outcome = try cache.fit(&rebuilt, bank: bank, key: key())
            XCTAssertFalse(outcome.hit, name)
            XCTAssertEqual(outcome.warnings.count, 1, name)
            XCTAssertTrue(outcome.warnings.first?.contains(file.path) ?? false, "\(name): \(outcome.warnings)")
            XCTAssertEqual(try fingerprint(rebuilt).0, try fingerprint(reference).0, name)
            let rewritten = try JSONDecoder().decode(CoresetCache.Entry.self, from: Data(contentsOf: file))
            XCTAssertEqual(rewritten.selectedRows, good.selectedRows, name)
        }
    }

    /// A selection saved for other features (same key, another bank) is not reused.
    func testSelectionOfAnotherBankIsNotReused() throws {
        var primer = scorer()
        _ = try cache.fit(&primer, bank: bank, key: key())
        var other = bank.data
        other[7] += 1
        let otherBank = Tensor(shape: bank.shape, data: other)
        var rebuilt = scorer()
        let outcome = try cache.fit(&rebuilt, bank: otherBank, key: key())
        XCTAssertFalse(outcome.hit)
        XCTAssertEqual(outcome.warnings.count, 1)
        XCTAssertTrue(outcome.warnings.first?.contains("bank SHA-256 differs") ?? false, "\(outcome.warnings)")
        var reference = scorer()
        try reference.fit(bank: otherBank)
        XCTAssertEqual(try fingerprint(rebuilt).0, try fingerprint(reference).0)
    }

    func testSelectedRowsMustMatchTheCoreset() throws {
        var patchcore = scorer()
        XCTAssertThrowsError(try patchcore.fit(bank: bank, selectedRows: Array(0..<29)), "the coreset keeps 30")
        XCTAssertThrowsError(try patchcore.fit(bank: bank, selectedRows: Array(271...300)), "row 300 of 300")
        XCTAssertNil(patchcore.index)
        try patchcore.fit(bank: bank, selectedRows: Array((1...30).reversed()))
        XCTAssertEqual(try XCTUnwrap(patchcore.index).bank, gatherRows(of: bank, Array((1...30).reversed())))
    }
}

/// The runner with the committed MVTec grid spec (../shared): a cold run saves the
/// selection, a warm run reuses it with bit-identical results, a corrupt file is rebuilt.
final class CoresetCacheRunTests: XCTestCase {
    func testWarmRunReusesTheSelectionBitForBit() throws {
        let (spec, specURL, options, root) = try mvtecGridRun("trawl-coreset-run")
        defer { try? FileManager.default.removeItem(at: root) }
        var lines = [String]()
        var runner = ExperimentRunner(spec: spec, specFile: specURL, options: options)
        runner.log = { lines.append($0) }
        let results = root.appendingPathComponent("Results/mvtec-grid-patchcore")
        func scores() throws -> Data { try Data(contentsOf: results.appendingPathComponent("scores.csv")) }
        func recorded() throws -> [String: Any] {
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent("run.json")))
            return try XCTUnwrap((record as? [String: Any])?["coreset_cache"] as? [String: Any])
        }

        let cold = try runner.run()
        XCTAssertEqual([cold.coresetCacheHits, cold.coresetCacheMisses], [0, 1])
        XCTAssertEqual(try recorded()["misses"] as? Int, 1)
        let coldScores = try scores()
        let files = try FileManager.default.contentsOfDirectory(
            at: options.cacheDirectory.appendingPathComponent("coresets"), includingPropertiesForKeys: nil)
        XCTAssertEqual(files.count, 1)

        let warm = try runner.run()
        XCTAssertEqual([warm.coresetCacheHits, warm.coresetCacheMisses], [1, 0])
        XCTAssertEqual(try recorded()["hits"] as? Int, 1)
        XCTAssertEqual(try scores(), coldScores)

        try Data("garbage".utf8).write(to: files[0])
        lines = []
        let rebuilt = try runner.run()
        XCTAssertEqual([rebuilt.coresetCacheHits, rebuilt.coresetCacheMisses], [0, 1])
        XCTAssertEqual((try recorded()["warnings"] as? [String])?.count, 1)
        XCTAssertTrue(lines.contains { $0.hasPrefix("warning: coreset cache \(files[0].path)") }, "\(lines)")
        XCTAssertEqual(try scores(), coldScores)
        XCTAssertEqual(try runner.run().coresetCacheHits, 1, "the rebuilt file is valid")
    }
}
