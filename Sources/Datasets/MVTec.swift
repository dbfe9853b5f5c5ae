import Foundation

/// One MVTec AD category in MVTec's own layout:
/// `root/train/good/*.png`, `root/test/<defect>/*.png`,
/// `root/ground_truth/<defect>/<name>_mask.png` (optional; 255 = anomalous pixel).
///
/// `train/good` is the training set; every `test/<defect>` folder is tested, `good`
/// being normal and every other folder anomalous with the folder name as label.
public struct MVTecConfiguration: Codable, Equatable, Sendable {
    /// The category folder, e.g. `../shared/datasets/mvtec/bottle`.
    public var root: String

    public init(root: String) { self.root = root }

    private enum CodingKeys: String, CodingKey { case root }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(in: decoder, allowed: ["root"])
        root = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .root)
    }

    public func load() throws -> Dataset {
        let root = URL(fileURLWithPath: self.root)
        try requireFolder(root, "MVTec category folder")
        let trainFolder = root.appendingPathComponent("train/good")
        let testFolder = root.appendingPathComponent("test")
        try requireFolder(trainFolder, "MVTec training folder (train/good)")
        try requireFolder(testFolder, "MVTec test folder (test)")
        var tally = ExclusionTally()
        var train = [Sample](), test = [Sample]()

        func images(in folder: URL) throws -> [URL] {
            let (files, broken) = try listFiles(in: folder)
            excludeBrokenLinks(broken, in: root, to: &tally)
            let images = files.filter { imageExtensions.contains($0.pathExtension.lowercased()) }
            tally.add("not a PNG/JPEG file", files.count - images.count)
            return images
        }

        for url in try images(in: trainFolder) {
            train.append(Sample(id: "train/good/" + url.lastPathComponent, image: .file(url),
                                label: Label(kind: .normal, name: "good"), split: .train))
        }
        let defects = try listFolders(in: testFolder)
        guard !defects.isEmpty else { throw DatasetError.missing(testFolder, "MVTec test folders (test/<defect>/)") }
        for defect in defects {
            let kind: Label.Kind = defect == "good" ? .normal : .anomalous
            for url in try images(in: testFolder.appendingPathComponent(defect)) {
                let stem = url.deletingPathExtension().lastPathComponent
                let mask = root.appendingPathComponent("ground_truth/\(defect)/\(stem)_mask.png")
                test.append(Sample(
                    id: "test/\(defect)/" + url.lastPathComponent, image: .file(url),
                    label: Label(kind: kind, name: defect),
                    maskURL: FileManager.default.fileExists(atPath: mask.path) ? mask : nil, split: .test))
            }
        }
        return Dataset(samples: assemble(train: train, test: test), exclusions: tally.exclusions)
    }
}
