import Datasets
import Foundation
import Images
import Reports
import SavedModels
import Tables
import Tensors

/// What `trawl score` reports.
public struct ScoringSummary: Sendable {
    /// The output folder.
    public var directory: URL
    /// Images scored, and excluded (by reason).
    public var scored: Int
    public var exclusions: [Exclusion]
    /// Ids, most anomalous first, with their scores.
    public var ranking: [(id: String, score: Double)]
}

/// Scores images that have no labels with a saved model (`trawl score`), never refitting:
/// the model's backbone and preprocessing, the embedding cache, and the scoring code of
/// `trawl run`, so images a run tested get exactly the scores in its `scores.csv`.
///
/// Writes to `directory` (replaced as a whole when scoring succeeds):
/// - `scores.csv`: `rank, id, score, normalised_score, predicted, sharpness, brightness,
///   contrast`, then every metadata column (sorted), most anomalous first.
/// - `heatmaps/NN_<id>.png`: anomaly maps of the `top` most anomalous images (PatchCore).
/// - `gallery.html` with `gallery/`: the `top` most and `top` least anomalous images, each
///   beside its overlay (PatchCore), with score and metadata.
public struct ModelScoring {
    public let modelFile: URL
    public let options: RunOptions
    /// Receives the lines scoring prints.
    public var log: (String) -> Void = { print($0) }

    public init(modelFile: URL, options: RunOptions) {
        self.modelFile = modelFile
        self.options = options
    }

    /// Scores the samples of `images` that satisfy every predicate of `filters` (over their
    /// metadata and image-quality columns; the others are excluded and counted).
    public func score(_ images: Dataset, filters: [Datasets.Predicate], to directory: URL, top: Int) throws -> ScoringSummary {
        let loaded = try LoadedModel(modelFile, options: options)
        let model = loaded.model
        log("model: \(modelFile.path) (\(model.scorer.kind) from \(model.experiment) grid point \(model.gridPoint), "
            + "\(loaded.backboneSpec.name), Trawl \(model.trawlVersion))")
        var dataset = try images.addingImageQuality()
        for filter in filters { dataset = try dataset.filtered(by: filter, reason: "not selected by --where") }
        let samples = dataset.samples
        log("images: \(samples.count) to score" + dataset.exclusions.map { "\n  excluded: \($0)" }.joined())
        guard !samples.isEmpty else { throw RunError("no images to score (\(dataset.report.excludedCount) excluded)") }

        let (features, mapSize, line, warnings) = try loaded.features(of: samples, options: options, log: log)
        warnings.forEach { log("warning: \($0)") }
        log(line)
        let progress = options.showsProgress && model.scorer.kind == "patchcore"
            ? ProgressReporter("scoring", total: samples.count) : nil
        let scores = try scoreImages(Array(samples.indices), with: model.scorer, features: features,
                                     mapHeight: mapSize.height, mapWidth: mapSize.width, keepMaps: false,
                                     progress: progress) { _ in }
        progress?.finish()
        let ranked = rankedByScore(scores)

        try ResultsPublisher(destination: directory).publish { staging in
            try staging.write(scoresTable(samples, scores: scores, ranked: ranked, model: model).csv, to: "scores.csv")
            let shown = min(top, samples.count)
            let highest = Array(ranked.prefix(shown))
            let lowest = Array(ranked.suffix(min(top, samples.count - shown)).reversed())
            var overlays = [Int: String]()
            if case .patchcore(let scorer) = model.scorer {
                let rows = highest + lowest
                let pictures = try heatmapOverlays(scorer: scorer, rows: rows, samples: samples, features: features,
                                                   pipeline: loaded.pipeline, mapSize: mapSize, overlays: true)
                for (index, (row, picture)) in zip(rows, pictures).enumerated() {
                    let path = index < highest.count ? heatmapPath(rank: index, of: shown, id: samples[row].id)
                        : "gallery/lowest_\(paddedRank(index - highest.count, of: lowest.count))_\(fileSafe(samples[row].id))_overlay.png"
                    try staging.write(try picture.pngData(), to: path)
                    overlays[row] = path
                }
            }
            func cards(_ rows: [Int], prefix: String) throws -> [Gallery.Card] {
                try rows.enumerated().map { index, row in
                    let sample = samples[row]
                    let path = "gallery/\(prefix)_\(paddedRank(index, of: rows.count))_\(fileSafe(sample.id)).png"
                    let view = try loaded.pipeline.geometry(try loaded.pipeline.decode(sample),
                                                            source: loaded.pipeline.source(sample))
                    try staging.write(try view.pngData(), to: path)
                    let anomalous = scores[row] >= model.threshold.value
                    return Gallery.Card(
                        image: path, overlay: overlays[row], title: "#\(ranked.firstIndex(of: row)! + 1) \(sample.id)",
                        label: "predicted " + (anomalous ? "anomalous" : "normal"), isAnomalous: anomalous,
                        score: scores[row],
                        metadata: [(name: "normalised score", value: String(format: "%.3f", model.normalisedScore(scores[row])))]
                            + sample.metadata.keys.sorted(by: metadataColumnOrder).map {
                                (name: $0, value: formatted(sample.metadata[$0]!))
                            })
                }
            }
            let intro = "Model \(modelFile.lastPathComponent): \(model.scorer.kind) from \(model.experiment) "
                + "(grid point \(model.gridPoint)), backbone \(loaded.backboneSpec.name), threshold "
                + String(format: "%.4f", model.threshold.value) + " (\(model.threshold.rule)). Each card: the network's view"
                + (overlays.isEmpty ? "" : " and its anomaly map (one colour scale for all, blue low, red high)")
                + ". Normalised score: (score − threshold) / (the run's score range) + 0.5, clipped to 0–1; 0.5 is the threshold."
                + dataset.exclusions.map { " Excluded: \($0)." }.joined()
            let gallery = try Gallery.page(title: "trawl score: \(samples.count) images", intro: intro, sections: [
                Gallery.Section(title: "Most anomalous (\(highest.count))", note: "Highest scores first.",
                                cards: try cards(highest, prefix: "highest")),
                Gallery.Section(title: "Least anomalous (\(lowest.count))", note: "Lowest scores first, for contrast.",
                                cards: try cards(lowest, prefix: "lowest")),
            ], cardWidth: Gallery.cardWidth(forImageWidth: mapSize.width))
            try staging.write(gallery, to: "gallery.html")
        }
        log("scored \(samples.count) images; results: \(directory.path)/ (scores.csv, gallery.html)")
        return ScoringSummary(directory: directory, scored: samples.count, exclusions: dataset.exclusions,
                              ranking: ranked.map { (samples[$0].id, scores[$0]) })
    }

    /// `rank, id, score, normalised_score, predicted`, the quality columns, then the other
    /// metadata columns sorted; most anomalous first.
    private func scoresTable(_ samples: [Sample], scores: [Double], ranked: [Int], model: SavedModel) -> Table {
        let metadata = Set(samples.flatMap(\.metadata.keys)).sorted(by: metadataColumnOrder)
        let fixed: Set<String> = ["rank", "id", "score", "normalised_score", "predicted"]
        var table = Table(header: ["rank", "id", "score", "normalised_score", "predicted"]
                          + metadata.map { fixed.contains($0) ? "metadata_\($0)" : $0 })
        for (rank, row) in ranked.enumerated() {
            let sample = samples[row]
            table.append([String(rank + 1), sample.id, cell(scores[row]), cell(model.normalisedScore(scores[row])),
                          scores[row] >= model.threshold.value ? "anomalous" : "normal"]
                         + metadata.map { sample.metadata[$0]?.description ?? "" })
        }
        return table
    }
}

/// A metadata value for reading: numbers with at most 4 decimals.
private func formatted(_ value: MetadataValue) -> String {
    if case .number(let number) = value, number != number.rounded() { return String(format: "%.4g", number) }
    return value.description
}
