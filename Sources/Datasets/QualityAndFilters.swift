import Dispatch
import Foundation
import Images

extension Dataset {
    /// The dataset with the image-quality columns (``ImageQuality``: `sharpness`,
    /// `brightness`, `contrast`) added to every sample's metadata, each image decoded once
    /// (on every core). They replace metadata columns of the same name.
    public func addingImageQuality() throws -> Dataset {
        var results = [Result<ImageQuality, Error>?](repeating: nil, count: samples.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: samples.count) { i in
            let result = Result { () throws -> ImageQuality in
                switch samples[i].image {
                case .file(let url): return ImageQuality(try Image(contentsOf: url, colorMode: .gray))
                case .pixels(let image): return ImageQuality(image)
                }
            }
            lock.lock()
            results[i] = result
            lock.unlock()
        }
        var annotated = samples
        for i in annotated.indices {
            for (column, value) in try results[i]!.get().values { annotated[i].metadata[column] = .number(value) }
        }
        return Dataset(samples: annotated, exclusions: exclusions)
    }

    /// The samples satisfying `predicate` over their metadata; the others are excluded and
    /// counted as `<reason> (<predicate>)`, and samples lacking a column it reads as
    /// `missing <column>`.
    public func filtered(by predicate: Predicate, reason: String) throws -> Dataset {
        var tally = ExclusionTally()
        var kept = [Sample]()
        for sample in samples {
            if let column = predicate.columns.first(where: { sample.metadata[$0] == nil }) {
                tally.add("missing \(column)")
            } else if try predicate.evaluate(sample.metadata, file: sample.imageURL ?? URL(fileURLWithPath: sample.id),
                                             location: "image \(sample.id)") {
                kept.append(sample)
            } else {
                tally.add("\(reason) (\(predicate))")
            }
        }
        let merged = Dictionary(exclusions.map { ($0.reason, $0.count) }, uniquingKeysWith: +)
            .merging(tally.exclusions.map { ($0.reason, $0.count) }, uniquingKeysWith: +)
        return Dataset(samples: kept, exclusions: merged.map { Exclusion(reason: $0.key, count: $0.value) }
            .sorted { $0.reason < $1.reason })
    }
}
