import Foundation
import Images
import Tensors
import TestSupport
import XCTest

@testable import Datasets

final class DatasetsTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    /// Writes files (contents irrelevant: listing never decodes images) under `root`.
    private func write(_ paths: [String], under base: URL? = nil, contents: String = "x") throws {
        for path in paths {
            let url = (base ?? root).appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
    }

    private func decode(_ json: String) throws -> DatasetConfiguration {
        try JSONDecoder().decode(DatasetConfiguration.self, from: Data(json.utf8))
    }

    // MARK: Split machinery

    func testSplitMix64MatchesReferenceOutputs() {
        // Reference: Vigna's splitmix64.c with x = 0 gives these first outputs.
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(generator.next(), 0x06C4_5D18_8009_454F)
    }

    func testSelectTrainingIsDeterministicAndPartitions() {
        let items = (0..<10).map { "img\($0)" }
        let a = selectTraining(items, fraction: 0.55, maxTrainImages: 3, seed: 42)
        let b = selectTraining(items, fraction: 0.55, maxTrainImages: 3, seed: 42)
        XCTAssertEqual(a.train, b.train)
        XCTAssertEqual(a.train.count, 3)      // floor(5.5) = 5, capped to 3
        XCTAssertEqual(a.overCap, 2)
        XCTAssertEqual(a.test.count, 5)       // 10 − 5
        XCTAssertTrue(Set(a.train).isDisjoint(with: a.test))
        XCTAssertNotEqual(selectTraining(items, fraction: 0.5, maxTrainImages: nil, seed: 43).train,
                          selectTraining(items, fraction: 0.5, maxTrainImages: nil, seed: 42).train)
    }

    // MARK: MVTec

    func testMVTecLayoutLabelsMasksAndReport() throws {
        try write(["cat/train/good/000.png", "cat/train/good/001.png", "cat/test/good/000.png",
                   "cat/test/crack/000.png", "cat/test/crack/001.png", "cat/test/crack/notes.txt",
                   "cat/ground_truth/crack/000_mask.png"])
        let dataset = try MVTecConfiguration(root: root.appendingPathComponent("cat").path).load()
        XCTAssertEqual(dataset.train.map(\.id), ["train/good/000.png", "train/good/001.png"])
        XCTAssertEqual(dataset.test.map(\.id), ["test/crack/000.png", "test/crack/001.png", "test/good/000.png"])
        XCTAssertEqual(dataset.test.map(\.label), [Label(kind: .anomalous, name: "crack"), Label(kind: .anomalous, name: "crack"),
                                                   Label(kind: .normal, name: "good")])
        XCTAssertEqual(dataset.test[0].maskURL?.lastPathComponent, "000_mask.png")
        XCTAssertNil(dataset.test[1].maskURL)
        XCTAssertEqual(dataset.test[0].imageURL, root.appendingPathComponent("cat/test/crack/000.png"))
        XCTAssertEqual(dataset.report.description, """
            train: 2 = normal 2 (good 2)
            test: 3 = normal 1 (good 1) + anomalous 2 (crack 2)
            excluded: not a PNG/JPEG file: 1 excluded
            """)
    }

    func testMVTecMissingTestFolderNamesThePath() throws {
        try write(["cat/train/good/000.png"])
        let missing = root.appendingPathComponent("cat/test")
        XCTAssertThrowsError(try MVTecConfiguration(root: root.appendingPathComponent("cat").path).load()) { error in
            XCTAssertEqual(error as? DatasetError, .missing(missing, "MVTec test folder (test)"))
            XCTAssertTrue("\(error)".contains(missing.path))
        }
    }

    func testSharedMVTecCategories() throws {
        guard let shared = sharedDirectory else { throw XCTSkip("../shared is absent: MVTec counts are not checked") }
        let bottle = try decode(#"{"kind": "mvtec", "root": "datasets/mvtec/bottle"}"#)
            .resolvingPaths(relativeTo: shared).load()
        XCTAssertEqual(bottle.report.count(.train), 209)
        XCTAssertEqual(bottle.report.counts[.test], [Label(kind: .normal, name: "good"): 20,
                                                     Label(kind: .anomalous, name: "broken_large"): 20,
                                                     Label(kind: .anomalous, name: "broken_small"): 22,
                                                     Label(kind: .anomalous, name: "contamination"): 21])
        XCTAssertTrue(bottle.samples.allSatisfy { $0.maskURL == nil })
        let grid = try MVTecConfiguration(root: shared.appendingPathComponent("datasets/mvtec/grid").path).load()
        XCTAssertEqual(grid.report.count(.train), 25)
        XCTAssertEqual(grid.test.filter { $0.maskURL != nil }.count, 11)
        XCTAssertTrue(grid.test.allSatisfy { ($0.maskURL != nil) == $0.label.isAnomalous })
        let hazelnut = try MVTecConfiguration(root: shared.appendingPathComponent("datasets/mvtec/hazelnut").path).load()
        XCTAssertEqual(hazelnut.report.count(.test, .anomalous), 17)
        XCTAssertEqual(hazelnut.test.filter { $0.maskURL != nil }.count, 17)
    }

    // MARK: Folders

    func testFoldersSeededSplitIgnoresListingOrder() throws {
        let names = (0..<10).map { String(format: "p%02d.png", $0) }
        let first = root.appendingPathComponent("a"), second = root.appendingPathComponent("b")
        try write(names.map { "PASS/" + $0 } + ["FAIL/f1.jpg", "FAIL/f2.JPG", "FAIL/readme.md"], under: first)
        try write((names.reversed().map { "PASS/" + $0 }) + ["FAIL/f2.JPG", "FAIL/f1.jpg"], under: second)
        let json = #"{"kind": "folders", "root": "a", "trainFraction": 0.5, "seed": 7}"#
        let a = try decode(json).resolvingPaths(relativeTo: root).load()
        let b = try FoldersConfiguration(root: second.path, trainFraction: 0.5, seed: 7).load()
        XCTAssertEqual(a.train.map(\.id), b.train.map(\.id))
        XCTAssertEqual(a.train.count, 5)
        XCTAssertTrue(a.train.allSatisfy { $0.label == Label(kind: .normal, name: "PASS") })
        XCTAssertEqual(a.report.count(.test, .normal), 5)
        XCTAssertEqual(a.report.count(.test, .anomalous), 2)
        XCTAssertEqual(a.exclusions, [Exclusion(reason: "not a PNG/JPEG file", count: 1)])
        let other = try FoldersConfiguration(root: first.path, trainFraction: 0.5, seed: 8).load()
        XCTAssertNotEqual(other.train.map(\.id), a.train.map(\.id))
    }

    func testFoldersCustomNamesCapAndMissingFolder() throws {
        try write((0..<6).map { "ok/\($0).png" } + ["ng/a.png", "scratch/b.png"])
        let dataset = try FoldersConfiguration(root: root.path, normalFolders: ["ok"], anomalousFolders: ["ng", "scratch"],
                                               trainFraction: 1, maxTrainImages: 4).load()
        XCTAssertEqual(dataset.train.count, 4)
        XCTAssertEqual(dataset.report.count(.test), 2)
        XCTAssertEqual(Set(dataset.test.map(\.label.name)), ["ng", "scratch"])
        XCTAssertEqual(dataset.exclusions, [Exclusion(reason: "normal image beyond maxTrainImages", count: 2)])
        XCTAssertThrowsError(try FoldersConfiguration(root: root.path).load()) { error in
            XCTAssertTrue("\(error)".contains(root.appendingPathComponent("PASS").path), "\(error)")
        }
    }

    /// A root that is a file is reported as a file, not as missing (issue #10).
    func testRootThatIsAFileSaysSo() throws {
        try write(["not-a-folder"])
        let file = root.appendingPathComponent("not-a-folder")
        XCTAssertThrowsError(try FoldersConfiguration(root: file.path).load()) { error in
            XCTAssertEqual("\(error)", "dataset folder is a file, not a folder: \(file.path)")
        }
        XCTAssertThrowsError(try MVTecConfiguration(root: file.path).load()) { error in
            XCTAssertEqual(error as? DatasetError, .wrongKind(file, "MVTec category folder", expectedFolder: true))
        }
    }

    /// Dangling and looping symbolic links are excluded and named, not dropped silently (issue #10).
    func testBrokenAndLoopingLinksAreExcludedByName() throws {
        try write(["PASS/a.png", "PASS/b.png", "FAIL/c.png"])
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("PASS/loop.png").path,
                                       withDestinationPath: "loop.png")
        try manager.createSymbolicLink(atPath: root.appendingPathComponent("FAIL/gone.png").path,
                                       withDestinationPath: "/nonexistent/trawl/gone.png")
        let dataset = try FoldersConfiguration(root: root.path, trainFraction: 0.5).load()
        XCTAssertEqual(dataset.samples.count, 3)
        XCTAssertEqual(dataset.exclusions, [
            Exclusion(reason: "broken or looping symbolic link: FAIL/gone.png", count: 1),
            Exclusion(reason: "broken or looping symbolic link: PASS/loop.png", count: 1),
        ])
    }

    func testConfigurationRejectsUnknownKeysAndKinds() {
        XCTAssertThrowsError(try decode(#"{"kind": "folders", "root": "x", "trainFracton": 0.5}"#)) { error in
            XCTAssertTrue("\(error)".contains("trainFracton"), "\(error)")
        }
        XCTAssertThrowsError(try decode(#"{"kind": "imagenet", "root": "x"}"#)) { error in
            XCTAssertTrue("\(error)".contains("imagenet"), "\(error)")
        }
        XCTAssertThrowsError(try FoldersConfiguration(root: "/x", trainFraction: 1.5).load())
        XCTAssertThrowsError(try JSONDecoder().decode(Predicate.self, from: Data(#"{"all": [], "column": "x"}"#.utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(Predicate.self, from: Data(#"{"column": "x", "op": "<", "value": true}"#.utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(Predicate.self, from: Data(#"{"column": "x", "op": "~", "value": 1}"#.utf8)))
        let nested = #"{"any": [{"column": "a", "op": "in", "value": [1, "x"]}, {"all": [{"column": "b", "op": "!=", "value": false}]}]}"#
        let predicate = try? JSONDecoder().decode(Predicate.self, from: Data(nested.utf8))
        XCTAssertEqual(predicate, .any([.compare(column: "a", op: .isIn, operands: [.number(1), .string("x")]),
                                        .all([.compare("b", .notEqual, .bool(false))])]))
        XCTAssertEqual(predicate?.columns, ["a", "b"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        XCTAssertEqual(predicate.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) },
                       #"{"any":[{"column":"a","op":"in","value":[1,"x"]},{"all":[{"column":"b","op":"!=","value":false}]}]}"#)
    }

    func testSnakeCaseSpecKeysDecodeWithConvertFromSnakeCase() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let json = """
            {"kind": "manifest", "path": "m.csv", "image_column": "file", "train_fraction": 0.5, "max_train_images": 9,
             "label": {"anomalous_when": {"column": "depth_m", "op": ">=", "value": 800}}}
            """
        XCTAssertEqual(try decoder.decode(DatasetConfiguration.self, from: Data(json.utf8)), .manifest(ManifestConfiguration(
            path: "m.csv", imageColumn: "file", label: .anomalousWhen(.compare("depth_m", .greaterOrEqual, .number(800))),
            trainFraction: 0.5, maxTrainImages: 9)))
        let elpv = #"{"kind": "elpv", "fail_probability": 1, "cell_type": "poly", "max_train_images": 10, "seed": 4}"#
        XCTAssertEqual(try decoder.decode(DatasetConfiguration.self, from: Data(elpv.utf8)),
                       .elpv(ELPVConfiguration(failProbability: 1, cellType: .poly, maxTrainImages: 10, seed: 4)))
    }

    // MARK: Manifests

    func testCSVParsesRFC4180Quoting() throws {
        let url = root.appendingPathComponent("t.csv")
        try Data("\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\n2,\"two\nlines\",\r\n3,,\"\"".utf8).write(to: url)
        let table = try CSVTable(contentsOf: url)
        XCTAssertEqual(table.header, ["a", "b", "c"])
        XCTAssertEqual(table.records.map(\.fields), [["1", "x, y", "say \"hi\""], ["2", "two\nlines", ""], ["3", "", ""]])
        XCTAssertEqual(table.records.map(\.line), [2, 4, 6])
        try Data("a,b\n1,2,3\n".utf8).write(to: url)
        XCTAssertThrowsError(try CSVTable(contentsOf: url)) { XCTAssertTrue("\($0)".contains("line 2"), "\($0)") }
        try Data("a,b\n1,x\"y\n".utf8).write(to: url)
        XCTAssertThrowsError(try CSVTable(contentsOf: url)) { XCTAssertTrue("\($0)".contains("stray quote"), "\($0)") }
    }

    private func writeManifest(_ text: String, name: String = "manifest.csv") throws -> URL {
        let url = root.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func testManifestDepthProtocolWithExclusions() throws {
        try write((1...8).map { "img/\($0).jpg" })
        _ = try writeManifest("""
            path,depth_m,site
            img/1.jpg,100,A
            img/2.jpg,250.5,B
            img/3.jpg,799,A
            img/4.jpg,800,B
            img/5.jpg,1300,A
            img/6.jpg,,A
            img/7.jpg,400,
            img/8.jpg,30,C
            img/9.jpg,10,A
            """)
        let json = """
            {"kind": "manifest", "path": "manifest.csv",
             "label": {"anomalousWhen": {"column": "depth_m", "op": ">=", "value": 800}},
             "train": {"column": "depth_m", "op": "<", "value": 800},
             "test": {"any": [{"column": "site", "op": "in", "value": ["A", "B"]}, {"column": "depth_m", "op": ">", "value": 1000}]},
             "trainFraction": 0.5, "seed": 3}
            """
        let dataset = try decode(json).resolvingPaths(relativeTo: root).load()
        // Usable rows: 1, 2, 3, 8 normal (depth < 800), 4, 5 anomalous. Row 6 lacks depth_m,
        // row 7 lacks site, row 9's image is absent. Half of the 4 normals train; the
        // other two are tested only when site is A or B (row 8 is site C).
        XCTAssertEqual(dataset.train.count, 2)
        XCTAssertTrue(dataset.train.allSatisfy { !$0.label.isAnomalous && $0.metadata["depth_m"]! != .number(800) })
        let held = Set(["img/1.jpg", "img/2.jpg", "img/3.jpg", "img/8.jpg"]).subtracting(dataset.train.map(\.id))
        XCTAssertEqual(Set(dataset.test.filter { !$0.label.isAnomalous }.map(\.id)), held.subtracting(["img/8.jpg"]))
        XCTAssertEqual(dataset.test.filter(\.label.isAnomalous).map(\.id), ["img/4.jpg", "img/5.jpg"])
        XCTAssertEqual(dataset.test.first { $0.id == "img/4.jpg" }?.label, Label(kind: .anomalous, name: "anomalous"))
        var expected = [Exclusion(reason: "image file not found", count: 1), Exclusion(reason: "missing depth_m", count: 1),
                        Exclusion(reason: "missing site", count: 1)]
        if held.contains("img/8.jpg") { expected.append(Exclusion(reason: "not selected by the test rule", count: 1)) }
        XCTAssertEqual(dataset.exclusions, expected)
        XCTAssertEqual(dataset.train.first?.metadata["site"].map { "\($0)" }.map { ["A", "B", "C"].contains($0) }, true)
        XCTAssertEqual(try decode(json).resolvingPaths(relativeTo: root).load().train.map(\.id), dataset.train.map(\.id))
    }

    func testManifestTypeMismatchNamesColumnAndLine() throws {
        try write(["a.png", "b.png"])
        let url = try writeManifest("path,depth_m\na.png,12\nb.png,deep\n")
        let configuration = ManifestConfiguration(path: url.path, label: .anomalousWhen(.compare("depth_m", .greater, .number(800))))
        XCTAssertThrowsError(try configuration.load()) { error in
            XCTAssertEqual("\(error)", "\(url.path): manifest.csv line 3, column depth_m: \"deep\" is not a number (compared with 800)")
        }
        let strings = ManifestConfiguration(path: url.path, label: .anomalousWhen(.compare("depth_m", .less, .string("m"))))
        XCTAssertThrowsError(try strings.load()) { XCTAssertTrue("\($0)".contains("line 2, column depth_m"), "\($0)") }
    }

    func testManifestLabelColumnAndMasks() throws {
        try write(["i/1.png", "i/2.png", "i/3.png", "i/4.png", "m/2.png"])
        let url = try writeManifest("""
            file,verdict,mask,batch
            i/1.png,PASS,,1
            i/2.png,FAIL,m/2.png,1
            i/3.png,UNSURE,,2
            i/4.png,PASS,,2
            """)
        let json = """
            {"kind": "manifest", "path": "\(url.path)", "imageColumn": "file", "maskColumn": "mask",
             "label": {"column": "verdict", "normal": ["PASS"], "anomalous": ["FAIL"]},
             "train": {"column": "batch", "op": "==", "value": 1},
             "test": {"column": "batch", "op": "in", "value": ["1", 2]}}
            """
        let dataset = try decode(json).load()
        XCTAssertEqual(dataset.train.map(\.id), ["i/1.png"])
        XCTAssertEqual(dataset.test.map(\.id), ["i/2.png", "i/4.png"])
        XCTAssertEqual(dataset.test.map(\.label), [Label(kind: .anomalous, name: "FAIL"), Label(kind: .normal, name: "PASS")])
        XCTAssertEqual(dataset.test[0].maskURL, root.appendingPathComponent("m/2.png"))
        XCTAssertEqual(dataset.test[0].metadata["batch"], .number(1))
        XCTAssertEqual(dataset.exclusions, [Exclusion(reason: "verdict \"UNSURE\" is neither normal nor anomalous", count: 1)])
        try write(["i/1.png"])
        _ = try writeManifest("file,verdict,batch\ni/1.png,PASS,1\ni/1.png,FAIL,2\n")
        XCTAssertThrowsError(try decode(json).load()) { XCTAssertTrue("\($0)".contains("listed twice (manifest.csv line 2 and manifest.csv line 3)"), "\($0)") }
    }

    func testFathomNetJSONManifest() throws {
        try write(["img/a.png", "img/b.png", "img/c.png", "img/d.png"])
        _ = try writeManifest("""
            [{"uuid": "u1", "path": "img/a.png", "depthMeters": 120.5, "validated": true, "boundingBoxes": [{"concept": "Sebastes"}]},
             {"uuid": "u2", "path": "img/b.png", "depthMeters": 950, "boundingBoxes": []},
             {"uuid": "u3", "path": "img/c.png", "depthMeters": null},
             {"uuid": "u4", "path": "img/d.png", "depthMeters": 10, "validated": false}]
            """, name: "images.json")
        let json = """
            {"kind": "manifest", "path": "images.json",
             "label": {"anomalousWhen": {"column": "depthMeters", "op": ">=", "value": 800}},
             "train": {"all": [{"column": "depthMeters", "op": "<", "value": 800}, {"column": "uuid", "op": "!=", "value": "u4"}]}}
            """
        let dataset = try decode(json).resolvingPaths(relativeTo: root).load()
        XCTAssertEqual(dataset.train.map(\.id), ["img/a.png"])
        XCTAssertEqual(dataset.train[0].metadata, ["uuid": .string("u1"), "path": .string("img/a.png"),
                                                   "depthMeters": .number(120.5), "validated": .bool(true)])
        XCTAssertEqual(dataset.test.map(\.id), ["img/b.png", "img/d.png"])
        XCTAssertEqual(dataset.test.map(\.label.kind), [.anomalous, .normal])
        XCTAssertEqual(dataset.exclusions, [Exclusion(reason: "missing depthMeters", count: 1)])
    }

    // MARK: ELPV

    func testELPVFixtureLabelsCutsAndFilters() throws {
        let lines = [("images/cell0001.png", "1.0", "mono"), ("images/cell0002.png", "0.0", "mono"),
                     ("images/cell0003.png", "0.3333333333333333", "poly"), ("images/cell0004.png", "0.6666666666666666", "poly"),
                     ("images/cell0005.png", "0.0", "poly"), ("images/cell0006.png", "0.0", "mono")]
        try write(lines.map(\.0))
        try Data(lines.map { "\($0.0)  \($0.1)   \($0.2)\n" }.joined().utf8).write(to: root.appendingPathComponent("labels.csv"))
        let all = try ELPVConfiguration(root: root.path, trainFraction: 0.5, seed: 1).load()
        XCTAssertEqual(all.report.count(.train), 1)        // floor(3 · 0.5)
        XCTAssertEqual(all.report.count(.test, .normal), 2)
        XCTAssertEqual(Set(all.test.filter(\.label.isAnomalous).map(\.id)), ["images/cell0001.png", "images/cell0004.png"])
        XCTAssertEqual(all.exclusions, [Exclusion(reason: "defect probability 0.333 (between PASS 0 and failProbability 0.667)", count: 1)])
        XCTAssertEqual(all.test.first { $0.id == "images/cell0004.png" }?.metadata, ["probability": .number(2.0 / 3.0), "type": .string("poly")])
        let strict = try decode(#"{"kind": "elpv", "root": "\#(root.path)", "failProbability": 1, "cellType": "mono", "trainFraction": 1}"#).load()
        XCTAssertEqual(strict.train.map(\.id), ["images/cell0002.png", "images/cell0006.png"])
        XCTAssertEqual(strict.test.map(\.id), ["images/cell0001.png"])
        XCTAssertEqual(strict.exclusions.map(\.description), ["cell type poly (cellType mono): 3 excluded"])
    }

    func testELPVMissingAssetsSaysRunMakeSetup() {
        XCTAssertThrowsError(try ELPVConfiguration(root: root.appendingPathComponent("nope").path).load()) { error in
            XCTAssertTrue("\(error)".contains("make setup"), "\(error)")
        }
    }

    private func expectedAssets() throws -> [String: Any] {
        let url = fixturesDirectory.appendingPathComponent("datasets/expected_assets.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testRealELPVCounts() throws {
        let rootURL = assetsDirectory.appendingPathComponent("elpv/elpv_dataset/data")
        guard FileManager.default.fileExists(atPath: rootURL.appendingPathComponent("labels.csv").path) else {
            throw XCTSkip("\(rootURL.path) is absent (run `make setup`)")
        }
        let expected = try XCTUnwrap((try expectedAssets()["elpv"] as? [String: Any])?["byProbabilityAndType"] as? [String: Int])
        func count(_ probability: String, _ type: String) -> Int { expected["\(probability) \(type)"]! }
        XCTAssertEqual(expected.values.reduce(0, +), 2624)

        let all = try ELPVConfiguration(root: rootURL.path, trainFraction: 0.8, seed: 0).load()
        let pass = count("0.0000", "mono") + count("0.0000", "poly")
        let fail = count("0.6667", "mono") + count("0.6667", "poly") + count("1.0000", "mono") + count("1.0000", "poly")
        XCTAssertEqual(all.report.count(.train), pass * 8 / 10)
        XCTAssertEqual(all.report.count(.test, .normal), pass - pass * 8 / 10)
        XCTAssertEqual(all.report.count(.test, .anomalous), fail)
        XCTAssertEqual(all.report.excludedCount, count("0.3333", "mono") + count("0.3333", "poly"))
        XCTAssertEqual(all.samples.count + all.report.excludedCount, 2624)

        let mono = try ELPVConfiguration(root: rootURL.path, failProbability: 1, cellType: .mono, maxTrainImages: 100).load()
        XCTAssertEqual(mono.report.count(.train), 100)
        XCTAssertEqual(mono.report.count(.test, .normal), count("0.0000", "mono") - count("0.0000", "mono") * 8 / 10)
        XCTAssertEqual(mono.report.count(.test, .anomalous), count("1.0000", "mono"))
        let poly = count("0.0000", "poly") + count("0.3333", "poly") + count("0.6667", "poly") + count("1.0000", "poly")
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: mono.exclusions.map { ($0.reason, $0.count) }), [
            "PASS image beyond maxTrainImages": count("0.0000", "mono") * 8 / 10 - 100,
            "cell type poly (cellType mono)": poly,
            "defect probability 0.333 (between PASS 0 and failProbability 1.000)": count("0.3333", "mono"),
            "defect probability 0.667 (between PASS 0 and failProbability 1.000)": count("0.6667", "mono"),
        ])
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(mono.train.first?.imageURL).path))
    }

    // MARK: Fashion-MNIST

    private func writeIDX(_ prefix: String, labels: [UInt8], rows: Int = 2, columns: Int = 3) throws {
        func header(_ words: [UInt32]) -> [UInt8] { words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (24 - 8 * $0)) } } }
        let pixels = labels.indices.flatMap { i in (0..<rows * columns).map { UInt8((i * 10 + $0) % 256) } }
        try Data(header([0x0803, UInt32(labels.count), UInt32(rows), UInt32(columns)]) + pixels)
            .write(to: root.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
        try Data(header([0x0801, UInt32(labels.count)]) + labels).write(to: root.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
    }

    func testFashionMNISTFixtureSplitsAndPixels() throws {
        try writeIDX("train", labels: [0, 1, 2, 0, 1, 3, 0, 9])
        try writeIDX("t10k", labels: [5, 0, 0, 0, 1, 2])
        let dataset = try FashionMNISTConfiguration(root: root.path, normalClasses: [0, 1]).load()
        XCTAssertEqual(dataset.train.map(\.id), ["train/00000", "train/00001", "train/00003", "train/00004", "train/00006"])
        XCTAssertEqual(dataset.train[1].image, .pixels(Image(pixels: Tensor(shape: [1, 2, 3], data: [10, 11, 12, 13, 14, 15]))))
        XCTAssertEqual(dataset.test.map(\.label.kind), [.anomalous, .normal, .normal, .normal, .normal, .anomalous])
        XCTAssertEqual(dataset.test[0].label.name, "Sandal")
        XCTAssertEqual(dataset.test[0].metadata["class"], .number(5))
        XCTAssertEqual(dataset.exclusions, [Exclusion(reason: "training-set image of an anomalous class", count: 3)])

        let capped = try decode(#"{"kind": "fashion-mnist", "root": "\#(root.path)", "normalClasses": [0], "maxTrainImages": 2, "maxTestImagesPerClass": 2, "seed": 5}"#).load()
        XCTAssertEqual(capped.report.count(.train), 2)
        XCTAssertEqual(capped.report.count(.test, .normal), 2)
        XCTAssertEqual(capped.report.count(.test, .anomalous), 3)
        XCTAssertEqual(capped.exclusions.map(\.description), ["test image beyond maxTestImagesPerClass: 1 excluded",
                                                              "training image beyond maxTrainImages: 1 excluded",
                                                              "training-set image of an anomalous class: 5 excluded"])

        try Data([0, 0, 8, 1, 0, 0, 0, 9]).write(to: root.appendingPathComponent("t10k-labels-idx1-ubyte"))
        XCTAssertThrowsError(try FashionMNISTConfiguration(root: root.path, normalClasses: [0]).load()) { error in
            XCTAssertTrue("\(error)".contains("t10k-labels-idx1-ubyte"), "\(error)")
        }
    }

    func testRealFashionMNIST() throws {
        let rootURL = assetsDirectory.appendingPathComponent("fashion-mnist")
        guard FileManager.default.fileExists(atPath: rootURL.appendingPathComponent("t10k-labels-idx1-ubyte").path) else {
            throw XCTSkip("\(rootURL.path) is absent (run `make setup`)")
        }
        let expected = try XCTUnwrap(try expectedAssets()["fashionMNIST"] as? [String: [String: Any]])
        let trainCounts = try XCTUnwrap(expected["train"]?["labelCounts"] as? [Int])
        let testSums = try XCTUnwrap(expected["t10k"]?["pixelSums"] as? [String: Int])
        let testLabels = try XCTUnwrap(expected["t10k"]?["labels"] as? [String: Int])

        let dataset = try FashionMNISTConfiguration(root: rootURL.path, normalClasses: [7, 9]).load()
        XCTAssertEqual(dataset.report.count(.train), trainCounts[7] + trainCounts[9])
        XCTAssertEqual(dataset.report.count(.test), 10000)
        XCTAssertEqual(dataset.report.count(.test, .normal), 2000)
        for index in [0, 1, 9999] {
            let sample = try XCTUnwrap(dataset.test.first { $0.id == String(format: "t10k/%05d", index) })
            guard case .pixels(let image) = sample.image else { return XCTFail("expected in-memory pixels") }
            let pixels = image.pixels
            XCTAssertEqual(pixels.shape, [1, 28, 28])
            XCTAssertEqual(Int(pixels.data.reduce(0, +)), testSums["\(index)"])
            XCTAssertEqual(sample.metadata["class"], .number(Double(testLabels["\(index)"]!)))
        }
        let small = try FashionMNISTConfiguration(root: rootURL.path, normalClasses: [0], maxTrainImages: 500,
                                                  maxTestImagesPerClass: 100, seed: 1).load()
        XCTAssertEqual(small.report.count(.train), 500)
        XCTAssertEqual(small.report.count(.test, .normal), 100)
        XCTAssertEqual(small.report.count(.test, .anomalous), 900)
    }
}
