import CHDF5
import Checksums
import HDF5
import Foundation
import Tensors
import TestSupport
import XCTest

@testable import EmbeddingCache

final class EmbeddingCacheTests: XCTestCase {
    private var directory: URL!
    private var cache: EmbeddingCache!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-cache-\(UUID().uuidString)")
        cache = EmbeddingCache(directory: directory)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private let ids = (0..<6).map { String(format: "test/good/%03d.png", $0) }

    private func key(ids: [String]? = nil, taps: [String] = ["blocks.4", "blocks.10"], pooling: String? = nil) -> FeatureKey {
        FeatureKey(images: ImageSetFingerprint((ids ?? self.ids).map { ($0, SHA256.hash(Array($0.utf8)).hex) }),
                   backbone: "efficientnet-lite0", weightsSHA256: String(repeating: "ab", count: 32), taps: taps,
                   pooling: pooling,
                   preprocessing: FeatureKey.Preprocessing(resize: [256, 256], resizeFilter: "bilinear", centerCrop: [224, 224],
                                                color: "rgb", mean: [127, 127, 127], std: [128, 128, 128]),
                   toolVersion: "0.1.0")
    }

    /// Deterministic features for `ids`, including values whose bits must survive:
    /// negative zero, subnormals, infinities and a NaN payload.
    private func features(_ ids: [String], shapes: [String: [Int]] = ["blocks.4": [4, 3, 2], "blocks.10": [5, 1, 1]]) -> [String: Tensor] {
        shapes.mapValues { shape in
            let size = shape.reduce(1, *)
            var data = [Float]()
            for id in ids {
                let row = self.ids.firstIndex(of: id)!
                data += (0..<size).map { j -> Float in
                    switch (row * size + j) % 7 {
                    case 0: return -0.0
                    case 1: return Float(bitPattern: 0x0000_0001)
                    case 2: return .infinity
                    case 3: return Float(bitPattern: 0x7FC0_1234)
                    default: return Float(row) * 1.000_001 - Float(j) / 3
                    }
                }
            }
            return Tensor(shape: [ids.count] + shape, data: data)
        }
    }

    private func assertBitEqual(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        XCTAssertEqual(a.data.map(\.bitPattern), b.data.map(\.bitPattern), file: file, line: line)
    }

    // MARK: Keys

    func testImageFingerprints() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("image.png")
        try Data("abc".utf8).write(to: file)
        XCTAssertEqual(try ImageSetFingerprint.contentSHA256(ofFile: file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertThrowsError(try ImageSetFingerprint.contentSHA256(ofFile: directory.appendingPathComponent("none.png")))
        let pixels = Tensor(shape: [1, 2, 2], data: [0, 1, 2, 255])
        XCTAssertNotEqual(ImageSetFingerprint.contentSHA256(ofPixels: pixels),
                          ImageSetFingerprint.contentSHA256(ofPixels: pixels.reshaped([1, 4, 1])))
        let base = ImageSetFingerprint([("a", "1"), ("b", "2")])
        XCTAssertEqual(base.count, 2)
        XCTAssertEqual(base.sha256, SHA256.hash(Array("a\t1\nb\t2\n".utf8)).hex)
        XCTAssertNotEqual(base, ImageSetFingerprint([("a", "1"), ("b", "3")]))
        XCTAssertNotEqual(base, ImageSetFingerprint([("b", "2"), ("a", "1")]))
    }

    func testKeyChangesWithEveryPart() {
        let base = key()
        var variants = [FeatureKey]()
        var k = base; k.images = ImageSetFingerprint(ids.map { ($0, "0") }); variants.append(k)
        k = base; k.backbone = "efficientnet-lite1"; variants.append(k)
        k = base; k.weightsSHA256 = String(repeating: "cd", count: 32); variants.append(k)
        k = base; k.taps = ["blocks.4"]; variants.append(k)
        k = base; k.taps = ["blocks.10", "blocks.4"]; variants.append(k)
        k = base; k.pooling = "global-average"; variants.append(k)
        k = base; k.preprocessing.resize = [320, 320]; variants.append(k)
        k = base; k.preprocessing.resizeFilter = "bilinear-antialias"; variants.append(k)
        k = base; k.preprocessing.centerCrop = [256, 256]; variants.append(k)
        k = base; k.preprocessing.color = "gray-replicated-to-rgb"; variants.append(k)
        k = base; k.preprocessing.mean = [123.675, 116.28, 103.53]; variants.append(k)
        k = base; k.preprocessing.std = [128, 128, 127]; variants.append(k)
        k = base; k.toolVersion = "0.1.1"; variants.append(k)
        k = base; k.preprocessing.tiling = FeatureKey.Tiling(tile: 224, stride: 192, scale: 1, stitching: "most-central-tile")
        variants.append(k)
        var tiled = k
        tiled.preprocessing.tiling?.scale = 0.5; variants.append(tiled)
        tiled = k; tiled.preprocessing.tiling?.stride = 224; variants.append(tiled)
        let hashes = ([base] + variants).map(\.sha256)
        XCTAssertEqual(Set(hashes).count, hashes.count)
        XCTAssertEqual(base.sha256, key().sha256)
        XCTAssertEqual(base.sha256, SHA256.hash(Array(base.canonicalJSON.utf8)).hex)
        // Keys without tiling are exactly what they were before tiling existed (the same cache files).
        XCTAssertFalse(base.canonicalJSON.contains("tiling"), base.canonicalJSON)
        XCTAssertTrue(base.canonicalJSON.hasPrefix(#"{"backbone":"efficientnet-lite0","images":{"count":6,"sha256":""#),
                      base.canonicalJSON)
    }

    // MARK: Round trip, resume, atomicity

    func testRoundTripIsBitExactAndFinalFileAppearsOnlyWhenComplete() throws {
        let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "spec-1")
        XCTAssertEqual(entry.warnings, [])
        XCTAssertEqual(entry.missingIDs, ids)
        XCTAssertFalse(entry.isComplete)
        try entry.append(ids: [ids[4], ids[1], ids[0]], features: features([ids[4], ids[1], ids[0]]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: entry.url.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: entry.partialURL.path))
        XCTAssertThrowsError(try entry.finish()) { XCTAssertEqual($0 as? EmbeddingCacheError, .incomplete(entry.partialURL, missing: 3)) }
        let rest = [ids[2], ids[3], ids[5]]
        try entry.append(ids: rest, features: features(rest))
        XCTAssertFalse(FileManager.default.fileExists(atPath: entry.url.path))
        try entry.finish()
        XCTAssertTrue(entry.isComplete)
        XCTAssertTrue(FileManager.default.fileExists(atPath: entry.url.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: entry.partialURL.path))
        XCTAssertEqual(entry.url, directory.appendingPathComponent(key().sha256 + ".h5"))
        entry.close()

        let expected = features(ids)
        let reopened = try cache.entry(for: key(), imageIDs: ids, specHash: "another spec")
        XCTAssertTrue(reopened.isComplete)
        XCTAssertEqual(reopened.missingIDs, [])
        XCTAssertEqual(reopened.warnings, [])
        for tap in ["blocks.4", "blocks.10"] { assertBitEqual(try reopened.read(tap: tap), expected[tap]!) }
    }

    func testPooledEmbeddingsRoundTrip() throws {
        let pooledKey = key(taps: ["pooled"], pooling: "global-average")
        let result = try cache.features(for: pooledKey, imageIDs: ids, specHash: "s", batchSize: 4) { batch in
            self.features(batch, shapes: ["pooled": [7]])
        }
        XCTAssertEqual(result.computedCount, 6)
        assertBitEqual(try result.rows.rows(ids.indices, tap: "pooled"), features(ids, shapes: ["pooled": [7]])["pooled"]!)
        let again = try cache.features(for: pooledKey, imageIDs: ids, specHash: "s", batchSize: 4) { _ in
            XCTFail("a complete cache must not extract"); return [:]
        }
        XCTAssertEqual(again.computedCount, 0)
        assertBitEqual(try again.rows.rows(ids.indices, tap: "pooled"), try result.rows.rows(ids.indices, tap: "pooled"))
    }

    func testInterruptedExtractionResumesWithOnlyTheMissingImages() throws {
        do {
            let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
            try entry.append(ids: Array(ids[..<3]), features: features(Array(ids[..<3])))
            // What a crash now would leave on disk: the file as flushed, never closed.
            let snapshot = try Data(contentsOf: entry.partialURL)
            entry.close()
            try snapshot.write(to: entry.partialURL)
        }
        var requested = [[String]]()
        let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 2) { batch in
            requested.append(batch)
            return self.features(batch)
        }
        XCTAssertEqual(requested, [[ids[3], ids[4]], [ids[5]]])
        XCTAssertEqual(result.computedCount, 3)
        XCTAssertEqual(result.warnings, [])
        for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(ids.indices, tap: tap), tensor) }
    }

    func testResumedPartialWithOtherShapesIsRebuilt() throws {
        do {
            let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
            try entry.append(ids: [ids[0]], features: features([ids[0]], shapes: ["blocks.4": [4, 3, 3], "blocks.10": [5, 1, 1]]))
            entry.close()
        }
        let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 6) { self.features($0) }
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings[0].hasPrefix(
            "\(cache.url(for: key()).path).partial: tap blocks.4 rows have shape [4, 3, 2], the file holds [4, 3, 3]; "
            + "moved aside to \(key().sha256).h5.partial.corrupt-"), result.warnings[0])
        XCTAssertEqual(result.computedCount, 6)
        for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(ids.indices, tap: tap), tensor) }
        XCTAssertThrowsError(try cache.features(for: key(taps: ["x"]), imageIDs: ids, specHash: "s", batchSize: 6) { self.features($0) })
    }

    func testAppendRejectsMismatchedFeatures() throws {
        let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
        XCTAssertThrowsError(try entry.append(ids: [ids[0]], features: ["blocks.4": features([ids[0]])["blocks.4"]!]))
        XCTAssertThrowsError(try entry.append(ids: ["unknown.png"], features: features([ids[0]])))
        try entry.append(ids: [ids[0]], features: features([ids[0]]))
        XCTAssertThrowsError(try entry.append(ids: [ids[1]], features: features([ids[1]], shapes: ["blocks.4": [4, 3, 3], "blocks.10": [5, 1, 1]]))) {
            XCTAssertTrue("\($0)".contains("blocks.4 rows have shape [4, 3, 3], the file holds [4, 3, 2]"), "\($0)")
        }
        XCTAssertEqual(entry.missingIDs, Array(ids.dropFirst()))
        XCTAssertThrowsError(try cache.entry(for: key(), imageIDs: ids + [ids[0]], specHash: "s"))
        // A second entry of the key in this process would wait for itself: it says so instead.
        XCTAssertThrowsError(try cache.entry(for: key(), imageIDs: ids, specHash: "s")) {
            XCTAssertTrue("\($0)".contains("already locked by this process"), "\($0)")
        }
    }

    // MARK: Corrupt files

    /// Builds the finished file for `key()` and returns its URL.
    private func finishedFile() throws -> URL {
        _ = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 6) { self.features($0) }
        return cache.url(for: key())
    }

    private func assertRebuilt(reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 6) { self.features($0) }
        XCTAssertEqual(result.computedCount, 6, file: file, line: line)
        XCTAssertEqual(result.warnings.count, 1, "\(result.warnings)", file: file, line: line)
        XCTAssertTrue(result.warnings.first?.hasPrefix(cache.url(for: key()).path) == true, file: file, line: line)
        XCTAssertTrue(result.warnings.first?.contains(reason) == true, "\(result.warnings)", file: file, line: line)
        for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(ids.indices, tap: tap), tensor, file: file, line: line) }
    }

    func testTruncatedFileIsDetectedMovedAsideAndRebuilt() throws {
        let url = try finishedFile()
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        try assertRebuilt(reason: "moved aside to \(url.lastPathComponent).corrupt-")
        try assertSetAside(url, holding: bytes.prefix(bytes.count / 2))
    }

    /// The one `<url>.corrupt-<time>` beside `url`, holding `bytes` (nil: a folder).
    private func assertSetAside(_ url: URL, holding bytes: Data?, file: StaticString = #filePath, line: UInt = #line) throws {
        let aside = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(url.lastPathComponent + ".corrupt-") }
        XCTAssertEqual(aside.count, 1, "\(aside)", file: file, line: line)
        guard let name = aside.first else { return }
        let path = directory.appendingPathComponent(name).path
        if let bytes {
            XCTAssertEqual(FileManager.default.contents(atPath: path), bytes, file: file, line: line)
        } else {
            var isDirectory: ObjCBool = false
            XCTAssertTrue(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue,
                          file: file, line: line)
        }
    }

    /// Empty, damaged header, another key's file, a folder with files in it: each is
    /// reported by name with its reason, kept aside (never deleted), and rebuilt.
    func testEveryKindOfInvalidFileIsMovedAsideWithAWarning() throws {
        let good = try Data(contentsOf: try finishedFile())
        var damagedHeader = good
        damagedHeader.replaceSubrange(0..<8, with: [UInt8](repeating: 0x2A, count: 8))
        var other = key()
        other.toolVersion = "0.2.0"
        let url = cache.url(for: key())
        let cases: [(String, (URL) throws -> Void, String)] = [
            ("empty", { try Data().write(to: $0) }, "not an HDF5 file"),
            ("damaged header", { try damagedHeader.write(to: $0) }, "not an HDF5 file"),
            ("another key's file", { _ in
                // The file of another key under this key's name (e.g. copied by hand).
                _ = try self.cache.features(for: other, imageIDs: self.ids, specHash: "s", batchSize: 6) { self.features($0) }
                try FileManager.default.removeItem(at: url)
                try FileManager.default.moveItem(at: self.cache.url(for: other), to: url)
            }, "written for another key (\(other.sha256))"),
            ("folder", {
                try FileManager.default.removeItem(at: $0)
                try FileManager.default.createDirectory(at: $0.appendingPathComponent("inside"), withIntermediateDirectories: true)
                try Data("keep me".utf8).write(to: $0.appendingPathComponent("inside/file.txt"))
            }, "a folder where a cache file belongs"),
        ]
        for (name, damage, reason) in cases {
            try? FileManager.default.removeItem(at: directory)
            _ = try finishedFile()
            try damage(url)
            let before = try? Data(contentsOf: url)
            let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 6) { self.features($0) }
            XCTAssertEqual(result.computedCount, 6, name)
            XCTAssertEqual(result.warnings.count, 1, "\(name): \(result.warnings)")
            XCTAssertTrue(result.warnings.first?.hasPrefix("\(url.path): \(reason)") == true, "\(name): \(result.warnings)")
            XCTAssertTrue(result.warnings.first?.contains("moved aside to \(url.lastPathComponent).corrupt-") == true,
                          "\(name): \(result.warnings)")
            for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(ids.indices, tap: tap), tensor) }
            try assertSetAside(url, holding: name == "folder" ? nil : before)
            if name == "folder" {
                let aside = try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.contains(".corrupt-") }!
                XCTAssertEqual(FileManager.default.contents(atPath: directory.appendingPathComponent(aside + "/inside/file.txt").path),
                               Data("keep me".utf8))
            }
        }
    }

    /// A row rewritten with other values (a valid HDF5 chunk, Fletcher-32 and all) fails its
    /// CRC-32 on read and is never used.
    func testRowThatFailsItsChecksumIsDetected() throws {
        let url = try finishedFile()
        try withHDF5 {
            let file = try openFile(url.path, writable: true)
            let other = [Float](repeating: 0.5, count: 4 * 3 * 2)
            try other.withUnsafeBufferPointer { try writeFloatRow(file, "features/blocks.4", index: 3, row: $0) }
            try closeFile(file)
        }
        XCTAssertThrowsError(try cache.entry(for: key(), imageIDs: ids, specHash: "s").read(tap: "blocks.4")) { error in
            XCTAssertTrue("\(error)".contains("row 3 (\(ids[3])) of features/blocks.4 fails its CRC-32"), "\(error)")
        }
        try assertRebuilt(reason: "fails its CRC-32")
    }

    /// What a full disk used to leave: rows marked completed whose data never reached the
    /// file (read back as zeros). Verification before the file is finished catches them,
    /// and the counts stay within the number of images (never negative hits).
    func testRowsMarkedCompletedButNeverWrittenAreCaughtAndCountedOnce() throws {
        do {
            let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
            try entry.append(ids: Array(ids[..<4]), features: features(Array(ids[..<4])))
            entry.close()
            // Row 4 marked completed without its data or checksum.
            try withHDF5 {
                let file = try openFile(entry.partialURL.path, writable: true)
                try writeBytes(file, "completed", [1, 1, 1, 1, 1, 0])
                try closeFile(file)
            }
        }
        var requested = [[String]]()
        let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 6) { batch in
            requested.append(batch)
            return self.features(batch)
        }
        XCTAssertEqual(requested, [[ids[5]], ids])
        XCTAssertEqual(result.computedCount, 6)
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings[0].contains("row 4 (\(ids[4])) of features/blocks"), "\(result.warnings)")
        XCTAssertTrue(result.warnings[0].hasPrefix(cache.url(for: key()).path + ".partial: "), "\(result.warnings)")
        for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(ids.indices, tap: tap), tensor) }
    }

    func testGarbageFileIsDetectedAndRebuilt() throws {
        let url = try finishedFile()
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: url)
        try assertRebuilt(reason: "not an HDF5 file")
    }

    func testCorruptFeatureBytesFailTheChecksumAndAreRebuilt() throws {
        let url = try finishedFile()
        // Find where the third image's chunk of blocks.4 lies and flip one byte inside it.
        var address: haddr_t = 0
        var size: hsize_t = 0
        try withHDF5 {
            let file = try openFile(url.path, writable: false)
            defer { H5Fclose(file) }
            let dataset = H5Dopen2(file, "features/blocks.4", trawl_h5p_default())
            defer { H5Dclose(dataset) }
            var offset: [hsize_t] = [2, 0, 0, 0]
            var filterMask: UInt32 = 0
            XCTAssertGreaterThanOrEqual(H5Dget_chunk_info_by_coord(dataset, &offset, &filterMask, &address, &size), 0)
        }
        var bytes = try Data(contentsOf: url)
        XCTAssertLessThan(Int(address) + Int(size), bytes.count)
        bytes[Int(address) + Int(size) / 2] ^= 0x01
        try bytes.write(to: url)
        XCTAssertThrowsError(try cache.entry(for: key(), imageIDs: ids, specHash: "s").read(tap: "blocks.4")) { error in
            guard case EmbeddingCacheError.corrupt(url, _) = error else { return XCTFail("\(error)") }
        }
        try assertRebuilt(reason: "cannot read row 2 of features/blocks.4")
        try assertSetAside(url, holding: bytes)
    }

    func testFileOfAnotherKeyIsRejected() throws {
        let url = try finishedFile()
        var other = key()
        other.toolVersion = "0.2.0"
        try FileManager.default.copyItem(at: url, to: cache.url(for: other))
        let entry = try cache.entry(for: other, imageIDs: ids, specHash: "s")
        XCTAssertEqual(entry.warnings.count, 1)
        XCTAssertTrue(entry.warnings[0].hasPrefix("\(cache.url(for: other).path): written for another key (\(key().sha256)); "
                                                  + "moved aside to \(other.sha256).h5.corrupt-"), "\(entry.warnings)")
        XCTAssertEqual(entry.missingIDs, ids)
    }

    func testWrongShapesAreRejected() throws {
        // A file that is right in every respect but the first extent of one tap.
        let url = cache.url(for: key())
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try withHDF5 {
            let file = try createFile(url.path)
            defer { H5Fclose(file) }
            try writeStringAttribute(file, "format", EmbeddingCache.format)
            try writeStringAttribute(file, "key", key().canonicalJSON)
            try writeStringAttribute(file, "key_sha256", key().sha256)
            try writeStrings(file, "image_ids", ids)
            try writeBytes(file, "completed", [UInt8](repeating: 1, count: ids.count))
            try createGroup(file, "features")
            try createFloatDataset(file, "features/blocks.4", shape: [ids.count, 4, 3, 2])
            try createFloatDataset(file, "features/blocks.10", shape: [ids.count - 1, 5, 1, 1])
        }
        let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
        XCTAssertEqual(entry.warnings.count, 1)
        XCTAssertTrue(entry.warnings[0].contains("features/blocks.10 has shape [5, 5, 1, 1], expected [6, …]"), "\(entry.warnings)")
        XCTAssertFalse(entry.isComplete)
        XCTAssertEqual(entry.missingIDs, ids)
    }

    func testCorruptPartialFileIsRestarted() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let partial = URL(fileURLWithPath: cache.url(for: key()).path + ".partial")
        try Data("not hdf5".utf8).write(to: partial)
        let entry = try cache.entry(for: key(), imageIDs: ids, specHash: "s")
        XCTAssertEqual(entry.warnings.count, 1)
        XCTAssertTrue(entry.warnings[0].hasPrefix("\(partial.path): not an HDF5 file (empty, truncated or overwritten); moved aside to "),
                      "\(entry.warnings)")
        XCTAssertEqual(entry.missingIDs, ids)
    }

    // MARK: h5py

    func testFileIsReadableByH5py() throws {
        if let reason = missingPythonModules(["h5py", "numpy"]) { throw XCTSkip(reason) }

        let url = try finishedFile()
        let script = """
            import h5py, json, sys, zlib
            f = h5py.File(sys.argv[1], "r")
            out = {"ids": [s.decode() for s in f["image_ids"][()]], "completed": f["completed"][()].tolist(),
                   "attrs": {k: (v.decode() if isinstance(v, bytes) else (v.tolist() if hasattr(v, "tolist") else v)) for k, v in f.attrs.items()}}
            for tap in f["features"]:
                d = f["features"][tap]
                out[tap] = {"shape": list(d.shape), "dtype": str(d.dtype), "chunks": list(d.chunks), "shapeAttr": d.attrs["shape"].tolist(),
                            "compression": d.compression, "shuffle": d.shuffle, "fletcher32": d.fletcher32, "hex": d[()].astype("<f4").tobytes().hex(),
                            "crcOK": [zlib.crc32(row.astype("<f4").tobytes()) == int(c) for row, c in zip(d[()], f["checksums"][tap][()])]}
            print(json.dumps(out))
            """
        let process = pythonProcess(["-c", script, url.path])
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["ids"] as? [String], ids)
        XCTAssertEqual(json["completed"] as? [Int], [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(json["attrs"] as? [String: String], ["format": "trawl-embeddings/2", "key": key().canonicalJSON,
                                                          "key_sha256": key().sha256, "spec_hash": "s", "tool_version": "0.1.0"])
        for (tap, tensor) in features(ids) {
            let info = try XCTUnwrap(json[tap] as? [String: Any])
            XCTAssertEqual(info["shape"] as? [Int], tensor.shape)
            XCTAssertEqual(info["shapeAttr"] as? [Int], tensor.shape)
            XCTAssertEqual(info["chunks"] as? [Int], [1] + tensor.shape.dropFirst())
            XCTAssertEqual(info["dtype"] as? String, "float32")
            XCTAssertNil(info["compression"] as? String, "rows are stored uncompressed")
            XCTAssertEqual(info["shuffle"] as? Bool, false)
            XCTAssertEqual(info["fletcher32"] as? Bool, true)
            let hex = tensor.data.map { value in
                (0..<4).map { String(format: "%02x", UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0))) }.joined()
            }.joined()
            XCTAssertEqual(info["hex"] as? String, hex)
            XCTAssertEqual(info["crcOK"] as? [Bool], [Bool](repeating: true, count: ids.count), "zlib.crc32 of each row")
        }
    }

    // MARK: Shards

    func testShardAssignmentIsTheDocumentedHash() {
        // Python: int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big") % N
        XCTAssertEqual(ImageShard.index(of: "train/good/000.png", count: 4), 1)
        XCTAssertEqual(ImageShard.index(of: "test/bent/000.png", count: 4), 0)
        XCTAssertEqual(["a", "b", "c"].map { ImageShard.index(of: $0, count: 4) }, [2, 2, 2])
        XCTAssertEqual(["a", "b", "c"].map { ImageShard.index(of: $0, count: 3) }, [1, 1, 2])
        XCTAssertEqual(ImageShard("3/8"), ImageShard(index: 3, count: 8))
        for bad in ["8/8", "-1/4", "1/0", "1", "a/b", "1/2/3", ""] { XCTAssertNil(ImageShard(bad), bad) }
        XCTAssertEqual(cache.url(for: key().sharded(ImageShard(index: 1, count: 3))).lastPathComponent,
                       key().sha256 + ".shard-1-of-3.h5")
    }

    /// Writes shards `indices` of `count` as `trawl extract --shard` does; returns their ids.
    @discardableResult
    private func writeShards(_ indices: [Int], of count: Int) throws -> [String] {
        var written = [String]()
        for index in indices {
            let shard = ImageShard(index: index, count: count)
            let shardIDs = EmbeddingCache.ids(ids, in: shard)
            let result = try cache.features(for: key().sharded(shard), imageIDs: shardIDs, specHash: "s", batchSize: 2) {
                self.features($0)
            }
            XCTAssertEqual(result.computedCount, shardIDs.count)
            written += shardIDs
        }
        return written
    }

    func testFinishedShardFilesAreMergedAsCacheHitsAndRemoved() throws {
        // Python: [h(id) % 3 for id in ids] == [2, 1, 2, 0, 0, 1].
        XCTAssertEqual((0..<3).map { EmbeddingCache.ids(ids, in: ImageShard(index: $0, count: 3)) },
                       [[ids[3], ids[4]], [ids[1], ids[5]], [ids[0], ids[2]]])
        try writeShards([0, 1, 2], of: 3)
        var extracted = [String]()
        let merged = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 4) { batch in
            extracted += batch
            return self.features(batch)
        }
        XCTAssertEqual(extracted, [], "every image came from a shard file")
        XCTAssertEqual(merged.computedCount, 0)
        XCTAssertEqual(merged.warnings, [])
        for (tap, tensor) in features(ids) { assertBitEqual(try merged.rows.rows(0..<ids.count, tap: tap), tensor) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        XCTAssertEqual(names.filter { $0.hasSuffix(".h5") }, [key().sha256 + ".h5"], "merged shard files are removed")
    }

    func testMissingShardIsExtractedByARunAndNamedByAStrictMerge() throws {
        let present = try writeShards([0, 2], of: 3)
        let absent = EmbeddingCache.ids(ids, in: ImageShard(index: 1, count: 3))
        XCTAssertThrowsError(try cache.mergeShards(for: key(), imageIDs: ids, count: 3, specHash: "s")) { error in
            let shard = ImageShard(index: 1, count: 3)
            XCTAssertEqual(error as? EmbeddingCacheError,
                           .missingShards([shard], files: [cache.url(for: key().sharded(shard))], warnings: []))
            XCTAssertTrue("\(error)".contains("shard 1/3 (\(directory.path)/\(key().sha256).shard-1-of-3.h5)"), "\(error)")
        }
        // The rows of the present shards are in the partial file now; a run extracts only the absent shard's.
        var extracted = [String]()
        let result = try cache.features(for: key(), imageIDs: ids, specHash: "s", batchSize: 4) { batch in
            extracted += batch
            return self.features(batch)
        }
        XCTAssertEqual(Set(extracted), Set(absent))
        XCTAssertEqual(result.computedCount, ids.count - present.count)
        for (tap, tensor) in features(ids) { assertBitEqual(try result.rows.rows(0..<ids.count, tap: tap), tensor) }
    }

    func testCorruptShardIsMovedAsideAndNamed() throws {
        try writeShards([0, 1, 2], of: 3)
        let shard = ImageShard(index: 2, count: 3)
        let url = cache.url(for: key().sharded(shard))
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count / 2).write(to: url)
        XCTAssertThrowsError(try cache.mergeShards(for: key(), imageIDs: ids, count: 3, specHash: "s")) { error in
            guard case .missingShards(let shards, let files, let warnings)? = error as? EmbeddingCacheError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(shards, [shard])
            XCTAssertEqual(files, [url])
            XCTAssertEqual(warnings.count, 1)
            XCTAssertTrue(warnings[0].hasPrefix(url.path + ": cannot open as HDF5"), warnings[0])
        }
        try assertSetAside(url, holding: bytes.prefix(bytes.count / 2))
    }
}
