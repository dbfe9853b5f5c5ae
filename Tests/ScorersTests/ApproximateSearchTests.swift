import Scorers
import Tensors
import XCTest

final class ApproximateSearchTests: XCTestCase {
    /// `[rows, 32]` points around 40 seeded centres (spread 0.3): a bank with the cluster
    /// structure of patch features, where inverted files and graphs work as they do on them.
    private func clustered(_ rows: Int, seed: UInt64) -> Tensor {
        let centres = gaussianMatrix(40, 32, seed: 99, scale: 3)
        let noise = gaussianMatrix(rows, 32, seed: seed, scale: 0.3)
        var data = noise.data
        for r in 0..<rows {
            let c = (r * 7919 + Int(seed)) % 40
            for j in 0..<32 { data[r * 32 + j] += centres.data[c * 32 + j] }
        }
        return Tensor(shape: [rows, 32], data: data)
    }

    private func requireFaiss() throws {
        guard ApproximateSearch.isAvailable else {
            print("skipping: this build has no faiss (install libfaiss-dev: make setup, then touch Package.swift)")
            throw XCTSkip("faiss is not installed")
        }
    }

    private func recall(_ found: Neighbours, _ truth: Neighbours) -> Double {
        Double(zip(found.indices, truth.indices).filter { $0 == $1 }.count) / Double(truth.count)
    }

    func testNotInstalledMessageSaysHowToInstall() {
        let message = ApproximateSearch.notInstalledMessage(kind: "hnsw")
        XCTAssertTrue(message.hasPrefix("index kind \"hnsw\" needs faiss, which this build of trawl does not include"), message)
        XCTAssertTrue(message.contains("apt-get install libfaiss-dev"), message)
        XCTAssertTrue(message.contains("make setup"), message)
        XCTAssertTrue(message.contains("touch Package.swift && make build"), message)
    }

    func testParametersAreCheckedAgainstTheBank() {
        assertThrows(.invalidParameter(name: "index.lists", value: "100",
                                       reason: "k-means needs 39 bank rows per list and the bank has 2000 rows: use lists ≤ 51"),
                     try ApproximateSearch(.ivfFlat(lists: 100, probe: 8), seed: 0).check(rows: 2000, dimension: 32))
        assertThrows(.invalidParameter(name: "index.probe", value: "9", reason: "must be in 1...lists (8)"),
                     try ApproximateSearch(.ivfFlat(lists: 8, probe: 9), seed: 0).check(rows: 2000, dimension: 32))
        assertThrows(.invalidParameter(name: "index.code_bytes", value: "5", reason: "must divide the feature dimension 32"),
                     try ApproximateSearch(.ivfPQ(lists: 4, codeBytes: 5, probe: 2, rerank: 10), seed: 0)
                        .check(rows: 2000, dimension: 32))
        XCTAssertNoThrow(try ApproximateSearch(.ivfPQ(lists: 4, codeBytes: 8, probe: 2, rerank: 10), seed: 0)
                            .check(rows: 2000, dimension: 32))
    }

    func testInvertedFileProbingEveryListIsExact() throws {
        try requireFaiss()
        let exact = try NearestNeighbourIndex(bank: clustered(2000, seed: 1), metric: .euclidean)
        let queries = clustered(300, seed: 2)
        let index = try ApproximateNeighbourIndex(ApproximateSearch(.ivfFlat(lists: 16, probe: 16), seed: 3), over: exact)
        let found = try index.search(queries, k: 3), truth = try exact.search(queries, k: 3)
        XCTAssertEqual(found.indices, truth.indices)
        assertClose(found.distances, truth.distances.map(Double.init), tolerance: 1e-4, relative: true, "distances")
    }

    func testAProbeGivenToASearchActsAsTheIndexBuiltWithIt() throws {
        try requireFaiss()
        let exact = try NearestNeighbourIndex(bank: clustered(3000, seed: 12), metric: .euclidean)
        let queries = Tensor(shape: [300, 32], data: clustered(300, seed: 13).data.enumerated().map { $0.element + (Float($0.offset % 7) - 3) * 0.5 })
        for (built, probed) in [(ApproximateSearch.Kind.ivfFlat(lists: 32, probe: 1), ApproximateSearch.Kind.ivfFlat(lists: 32, probe: 9)),
                                (.ivfPQ(lists: 32, codeBytes: 8, probe: 1, rerank: 20), .ivfPQ(lists: 32, codeBytes: 8, probe: 9, rerank: 20))] {
            let index = try ApproximateNeighbourIndex(ApproximateSearch(built, seed: 14), over: exact)
            let reference = try ApproximateNeighbourIndex(ApproximateSearch(probed, seed: 14), over: exact)
            let found = try index.search(queries, k: 2, probe: 9)
            XCTAssertTrue(try found == reference.search(queries, k: 2), "\(built.name): probe 9 given to a search")
            XCTAssertTrue(try found != index.search(queries, k: 2), "\(built.name): probe 9 finds other rows than 1")
            XCTAssertTrue(try index.search(queries, k: 2) == index.search(queries, k: 2, probe: 1), "\(built.name): index unchanged")
            assertThrows(.invalidParameter(name: "index.probe", value: "33", reason: "must be in 1...lists (32)"),
                         try index.search(queries, k: 1, probe: 33))
        }
        let hnsw = try ApproximateNeighbourIndex(ApproximateSearch(.hnsw(m: 8, efSearch: 16), seed: 14), over: exact)
        assertThrows(.invalidParameter(name: "index.probe", value: "4", reason: "hnsw has no probe"), try hnsw.search(queries, k: 1, probe: 4))
    }

    func testRecallOfEachKindOnAClusteredBank() throws {
        try requireFaiss()
        let exact = try NearestNeighbourIndex(bank: clustered(4000, seed: 4), metric: .euclidean)
        let queries = clustered(500, seed: 5), truth = try exact.search(queries, k: 1)
        let hnsw = try ApproximateNeighbourIndex(ApproximateSearch(.hnsw(m: 32, efSearch: 64), seed: 6), over: exact)
        XCTAssertGreaterThanOrEqual(recall(try hnsw.search(queries, k: 1), truth), 0.99)
        let ivf = try ApproximateNeighbourIndex(ApproximateSearch(.ivfFlat(lists: 32, probe: 4), seed: 6), over: exact)
        XCTAssertGreaterThanOrEqual(recall(try ivf.search(queries, k: 1), truth), 0.9)
        // 4-byte codes alone find few exact nearest neighbours; re-ranking 50 candidates does.
        let coarse = try ApproximateNeighbourIndex(ApproximateSearch(.ivfPQ(lists: 32, codeBytes: 4, probe: 8, rerank: 1), seed: 6),
                                                   over: exact)
        let reranked = try ApproximateNeighbourIndex(ApproximateSearch(.ivfPQ(lists: 32, codeBytes: 4, probe: 8, rerank: 50), seed: 6),
                                                     over: exact)
        let coarseRecall = recall(try coarse.search(queries, k: 1), truth)
        let rerankedRecall = recall(try reranked.search(queries, k: 1), truth)
        XCTAssertGreaterThanOrEqual(rerankedRecall, 0.95)
        XCTAssertLessThan(coarseRecall, rerankedRecall)
        XCTAssertEqual(try reranked.recallAtOne(queries).recall, rerankedRecall)
    }

    func testResultsDoNotDependOnTheThreadCount() throws {
        try requireFaiss()
        let exact = try NearestNeighbourIndex(bank: clustered(3000, seed: 7), metric: .cosine)
        let queries = clustered(400, seed: 8)
        for kind: ApproximateSearch.Kind in [.ivfFlat(lists: 32, probe: 3), .hnsw(m: 8, efSearch: 16),
                                             .ivfPQ(lists: 32, codeBytes: 8, probe: 3, rerank: 5)] {
            var runs = [Neighbours]()
            for threads in [1, 2, 1] {
                ApproximateNeighbourIndex.setThreadCount(threads)
                runs.append(try ApproximateNeighbourIndex(ApproximateSearch(kind, seed: 11), over: exact).search(queries, k: 2))
            }
            ApproximateNeighbourIndex.setThreadCount(2)
            XCTAssertEqual(runs[0], runs[1], "\(kind.name): 1 vs 2 threads")
            XCTAssertEqual(runs[0], runs[2], "\(kind.name): rebuilt")
        }
    }

    func testPatchCoreRestoredWithAnIndexScoresTheSame() throws {
        try requireFaiss()
        let bank = clustered(2400, seed: 9)
        var scorer = PatchCoreScorer(coreset: nil, approximateSearch: ApproximateSearch(.hnsw(m: 16, efSearch: 32), seed: 1))
        try scorer.fit(bank: bank)
        let test = PatchFeatures(features: clustered(2 * 6 * 6, seed: 10), images: 2, height: 6, width: 6)
        let scores = try scorer.score(patches: test, imageHeight: 24, imageWidth: 24)
        var restored = PatchCoreScorer(coreset: nil, approximateSearch: scorer.approximateSearch)
        try restored.restore(bank: try XCTUnwrap(scorer.index).bank)
        XCTAssertEqual(try restored.score(patches: test, imageHeight: 24, imageWidth: 24), scores)
        XCTAssertNotNil(restored.approximateIndex)
    }
}
