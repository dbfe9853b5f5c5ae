import Foundation
import Images
import Tensors
import TestSupport
import XCTest

@testable import Datasets

/// The whole-module generator on a small synthetic ELPV folder whose cells are flat gray
/// squares, each of its own level, so every module cell says which ELPV cell it is.
final class ELPVModulesTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-modules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("cells/images"), withIntermediateDirectories: true)
        // 60 PASS and 2 FAIL (probability 1) cells of each type, two of probability 1/3;
        // level = cell number + 1 (0 is never a cell). Even numbers are poly.
        var labels = [String]()
        for number in 0..<126 {
            let type = number % 2 == 0 ? "poly" : "mono"
            let probability = number < 120 ? "0.0" : (number < 124 ? "1.0" : "0.3333333333333333")
            let path = String(format: "images/cell%04d.png", number)
            labels.append("\(path) \(probability) \(type)")
            let side = ELPVModuleGenerator.cellSide
            try Image(pixels: Tensor(shape: [1, side, side], data: [Float](repeating: Float(number + 1), count: side * side)))
                .writePNG(to: root.appendingPathComponent("cells/\(path)"))
        }
        try Data(labels.joined(separator: "\n").utf8).write(to: root.appendingPathComponent("cells/labels.csv"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func generator() -> ELPVModuleGenerator {
        ELPVModuleGenerator(source: root.appendingPathComponent("cells"), rows: 2, columns: 3, trainModules: 2,
                            testGoodModules: 2, testDefectModules: 3, seed: 5)
    }

    /// Levels of the 2×3 cells of a module image (one value per 300 px block, checked flat).
    private func cellLevels(_ url: URL) throws -> [Int] {
        let image = try Image(contentsOf: url, colorMode: .gray)
        let side = ELPVModuleGenerator.cellSide
        XCTAssertEqual([image.height, image.width], [2 * side, 3 * side])
        return (0..<6).map { position in
            let (top, left) = (position / 3 * side, position % 3 * side)
            let level = image.pixels.data[top * image.width + left]
            XCTAssertEqual(image.pixels.data[(top + side - 1) * image.width + left + side - 1], level)
            return Int(level)
        }
    }

    func testModulesAreLaidOutFromDisjointPoolsWithMaskedFailCells() throws {
        let destination = root.appendingPathComponent("modules")
        try generator().write(to: destination)
        let fileManager = FileManager.default
        XCTAssertTrue(fileManager.fileExists(atPath: destination.appendingPathComponent(".done").path))
        XCTAssertFalse(fileManager.fileExists(atPath: destination.path + ".partial"))

        var trainCells = Set<Int>(), testCells = Set<Int>()
        for (folder, count) in [("train/good", 2), ("test/good", 2), ("test/defect", 3)] {
            for index in 0..<count {
                let name = String(format: "%03d", index)
                let levels = try cellLevels(destination.appendingPathComponent("\(folder)/\(name).png"))
                XCTAssertEqual(Set(levels).count, 6, "cells repeat within \(folder)/\(name)")
                // Module types alternate poly (even cell numbers, odd levels), mono.
                XCTAssertTrue(levels.allSatisfy { ($0 - 1) % 2 == index % 2 }, "\(folder)/\(name) mixes cell types")
                let mask = destination.appendingPathComponent("ground_truth/defect/\(name)_mask.png")
                guard folder == "test/defect" else {
                    if folder == "train/good" { trainCells.formUnion(levels) } else { testCells.formUnion(levels) }
                    XCTAssertTrue(levels.allSatisfy { $0 <= 120 }, "a FAIL cell in a normal module")
                    continue
                }
                // FAIL cells (numbers 120...123, levels 121...124) exactly where the mask is 255.
                let maskLevels = try cellLevels(mask)
                XCTAssertTrue(maskLevels.allSatisfy { $0 == 0 || $0 == 255 })
                XCTAssertTrue((1...2).contains(maskLevels.filter { $0 == 255 }.count))
                for (level, masked) in zip(levels, maskLevels) {
                    XCTAssertEqual(level > 120, masked == 255, "\(folder)/\(name)")
                    if level <= 120 { testCells.insert(level) }
                }
            }
        }
        XCTAssertTrue(trainCells.isDisjoint(with: testCells), "a training cell reappears in a test module")
        XCTAssertFalse(fileManager.fileExists(atPath: destination.appendingPathComponent("ground_truth/defect/003_mask.png").path))
    }

    func testSameSeedGivesTheSameFilesAndAnotherSeedOthers() throws {
        let first = root.appendingPathComponent("a"), second = root.appendingPathComponent("b")
        try generator().write(to: first)
        try generator().write(to: second)
        for path in ["train/good/001.png", "test/defect/002.png", "ground_truth/defect/002_mask.png"] {
            XCTAssertEqual(try Data(contentsOf: first.appendingPathComponent(path)),
                           try Data(contentsOf: second.appendingPathComponent(path)), path)
        }
        var other = generator()
        other.seed = 6
        try other.write(to: second)   // replaces the folder
        XCTAssertNotEqual(try Data(contentsOf: first.appendingPathComponent("test/defect/002.png")),
                          try Data(contentsOf: second.appendingPathComponent("test/defect/002.png")))
    }
}
