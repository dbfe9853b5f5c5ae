import Dispatch
import Foundation
import Images
import Tensors

/// Whole-module electroluminescence images stitched from ELPV cells, in MVTec layout: a
/// full-resolution test set for tiled extraction (`make setup` writes it to
/// `.assets/elpv-modules`).
///
/// Each module is `rows × columns` cells of one cell type (mono or poly) at the cells'
/// native 300×300 px, gray. PASS cells (defect probability 0) are split once by
/// `ELPVConfiguration` (`trainFraction` of them, seeded) into the cells of training modules
/// and those of test modules, so no test module repeats a training cell; a module draws
/// its cells from its pool without repetition. Anomalous modules replace 1 or 2 random
/// positions with FAIL cells (defect probability 1, the certain defects) of the same type;
/// their masks mark those whole cells 255.
///
///     train/good/NNN.png   test/good/NNN.png   test/defect/NNN.png
///     ground_truth/defect/NNN_mask.png
///
/// Everything random comes from `SplitMix64(seed:)`, so the same source and settings give
/// the same files byte for byte.
public struct ELPVModuleGenerator: Sendable {
    /// The ELPV folder holding `labels.csv`.
    public var source: URL
    /// Cells per module column and row (module height and width in cells).
    public var rows: Int
    public var columns: Int
    public var trainModules: Int
    public var testGoodModules: Int
    public var testDefectModules: Int
    public var seed: UInt64

    /// Side of an ELPV cell image, pixels.
    public static let cellSide = 300

    public init(source: URL, rows: Int = 6, columns: Int = 10, trainModules: Int = 24, testGoodModules: Int = 16,
                testDefectModules: Int = 16, seed: UInt64 = 0) {
        self.source = source
        self.rows = rows
        self.columns = columns
        self.trainModules = trainModules
        self.testGoodModules = testGoodModules
        self.testDefectModules = testDefectModules
        self.seed = seed
    }

    /// One module's plan: its file, its cells in row-major order and which are FAIL cells.
    struct Module {
        var path: String
        var cells: [URL]
        var failPositions: [Int]
    }

    /// Writes the set to `destination` (replacing it): into `destination.partial`, renamed
    /// when complete, with an empty `.done` marker.
    public func write(to destination: URL) throws {
        let modules = try plan()
        let fileManager = FileManager.default
        let partial = URL(fileURLWithPath: destination.path + ".partial")
        try? fileManager.removeItem(at: partial)
        for folder in ["train/good", "test/good", "test/defect", "ground_truth/defect"] {
            try fileManager.createDirectory(at: partial.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        var failures = [Error?](repeating: nil, count: modules.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: modules.count) { index in
            do {
                try write(modules[index], to: partial)
            } catch {
                lock.lock()
                failures[index] = error
                lock.unlock()
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        try Data().write(to: partial.appendingPathComponent(".done"))
        try? fileManager.removeItem(at: destination)
        try fileManager.moveItem(at: partial, to: destination)
    }

    /// Which cells go where: deterministic in `seed`.
    func plan() throws -> [Module] {
        let cells = try ELPVConfiguration(root: source.path, failProbability: 1, trainFraction: 0.7, seed: seed).load()
        func pool(_ split: Split, _ kind: Label.Kind, _ type: String) -> [URL] {
            cells.samples.filter { $0.split == split && $0.label.kind == kind && $0.metadata["type"] == .string(type) }
                .map { sample -> URL in
                    guard case .file(let url) = sample.image else { preconditionFailure("ELPV cells are files") }
                    return url
                }
        }
        let perModule = rows * columns
        var random = SplitMix64(seed: seed)
        func draw<T>(_ count: Int, from pool: [T]) throws -> [T] {
            guard pool.count >= count else {
                throw DatasetError.invalidConfiguration("a module needs \(count) distinct cells; the pool holds \(pool.count)")
            }
            var remaining = pool
            return (0..<count).map { _ in remaining.remove(at: Int(random.next() % UInt64(remaining.count))) }
        }
        var modules = [Module]()
        let groups: [(folder: String, count: Int, split: Split, defective: Bool)] = [
            ("train/good", trainModules, .train, false), ("test/good", testGoodModules, .test, false),
            ("test/defect", testDefectModules, .test, true),
        ]
        for group in groups {
            for index in 0..<group.count {
                let type = index % 2 == 0 ? "poly" : "mono"
                var module = Module(path: String(format: "%@/%03d.png", group.folder, index),
                                    cells: try draw(perModule, from: pool(group.split, .normal, type)), failPositions: [])
                if group.defective {
                    let count = 1 + Int(random.next() % 2)
                    module.failPositions = try draw(count, from: Array(0..<perModule)).sorted()
                    for (position, cell) in zip(module.failPositions, try draw(count, from: pool(.test, .anomalous, type))) {
                        module.cells[position] = cell
                    }
                }
                modules.append(module)
            }
        }
        return modules
    }

    /// Decodes the module's cells, lays them out and writes the image (and its mask).
    private func write(_ module: Module, to folder: URL) throws {
        let side = Self.cellSide
        let (height, width) = (rows * side, columns * side)
        var pixels = [Float](repeating: 0, count: height * width)
        for (position, url) in module.cells.enumerated() {
            let cell = try Image(contentsOf: url, colorMode: .gray)
            guard cell.width == side, cell.height == side else {
                throw DatasetError.malformed(url, "ELPV cell is \(cell.width)×\(cell.height) px, expected \(side)×\(side)")
            }
            let (top, left) = (position / columns * side, position % columns * side)
            for y in 0..<side {
                let target = (top + y) * width + left
                pixels.replaceSubrange(target..<(target + side), with: cell.pixels.data[(y * side)..<((y + 1) * side)])
            }
        }
        try Image(pixels: Tensor(shape: [1, height, width], data: pixels)).writePNG(to: folder.appendingPathComponent(module.path))
        guard !module.failPositions.isEmpty else { return }
        var mask = [Float](repeating: 0, count: height * width)
        for position in module.failPositions {
            let (top, left) = (position / columns * side, position % columns * side)
            for y in top..<(top + side) {
                for x in left..<(left + side) { mask[y * width + x] = 255 }
            }
        }
        let name = URL(fileURLWithPath: module.path).deletingPathExtension().lastPathComponent
        try Image(pixels: Tensor(shape: [1, height, width], data: mask))
            .writePNG(to: folder.appendingPathComponent("ground_truth/defect/\(name)_mask.png"))
    }
}
