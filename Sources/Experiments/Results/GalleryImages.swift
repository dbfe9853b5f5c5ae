import Foundation
import Images
import Reports
import Scorers
import Tables
import Tensors

/// Test images per gallery section (most and least anomalous, false positives, false negatives).
let galleryImagesPerSection = 8
/// Longest side of a gallery thumbnail, pixels (larger network views are downscaled).
let galleryThumbnailSide = 192

/// The images the report shows for the grid point `result` and the files that show them:
///
/// - `heatmaps/NN_<id>.png`: PatchCore anomaly maps of the `outputs.heatmaps` most anomalous
///   test images, most anomalous first;
/// - `gallery/<id>.png`: every other gallery image: the anomaly map too for PatchCore when
///   heatmaps are asked for, else the network's view of the image, at most
///   `galleryThumbnailSide` pixels;
/// - `gallery.csv`: `section, rank, id, file, scale_min, scale_max` for the sections
///   `most_anomalous` (at least as many as the heatmaps), `least_anomalous`,
///   `false_positives` (normal, score ≥ threshold, highest first) and `false_negatives`
///   (anomalous, below it, lowest first). Every anomaly map is drawn on one colour scale,
///   min to max over all maps drawn, shown by a colour bar under the map.
func writeGallery(result: PointResult, report: ResultReport, dataset: LoadedDatasetPoint, pipeline: InputPipeline,
                  splits: FeatureSplits, to staging: ResultsStaging) throws {
    let scores = result.testScores
    // Positions in test order, most anomalous first; equal scores in test order.
    let ranked = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    let labels = splits.testLabels
    let heatmapCount = report.spec.outputs.heatmaps > 0 ? min(report.spec.outputs.heatmaps, ranked.count) : 0
    let sections: [(name: String, positions: [Int])] = [
        ("most_anomalous", Array(ranked.prefix(max(galleryImagesPerSection, heatmapCount)))),
        ("least_anomalous", Array(ranked.reversed().prefix(galleryImagesPerSection))),
        ("false_positives", Array(ranked.filter { !labels[$0] && scores[$0] >= result.threshold }.prefix(galleryImagesPerSection))),
        ("false_negatives", Array(ranked.reversed().filter { labels[$0] && scores[$0] < result.threshold }
            .prefix(galleryImagesPerSection))),
    ]
    var shown = [Int]()
    for section in sections { for position in section.positions where !shown.contains(position) { shown.append(position) } }

    // Anomaly maps of every image shown (PatchCore with heatmaps asked for), on one scale.
    var maps = [Int: Tensor]()
    if heatmapCount > 0, case .patchcore(let scorer) = result.scorer {
        let batchSize = scoringBatch(mapHeight: splits.mapHeight, mapWidth: splits.mapWidth)
        for start in stride(from: 0, to: shown.count, by: batchSize) {
            let batch = Array(shown[start..<min(start + batchSize, shown.count)])
            let rows = batch.map { splits.testRows[$0] }
            let scored = try scorer.score(taps: splits.features.taps(rows),
                                          imageHeight: splits.mapHeight, imageWidth: splits.mapWidth)
            for (index, position) in batch.enumerated() { maps[position] = scored.anomalyMaps.slice(index) }
        }
    }
    let values = maps.values.flatMap(\.data)
    let range = (values.min() ?? 0)...(values.max() ?? 0)

    var files = [Int: String]()
    let digits = String(heatmapCount).count
    for (order, position) in shown.enumerated() {
        let sample = dataset.test[position]
        let view = try pipeline.geometry(try pipeline.decode(sample), source: pipeline.source(sample))
        let file: String
        let picture: Image
        if let map = maps[position] {
            let overlay = Heatmap.overlay(map, range: range, on: view, opacity: report.spec.outputs.overlays ? 0.4 : 1)
            picture = Heatmap.withColourBar(overlay, range: range)
            if let rank = ranked.prefix(heatmapCount).firstIndex(of: position) {
                let number = String(repeating: "0", count: digits - String(rank + 1).count) + String(rank + 1)
                file = "heatmaps/\(number)_\(fileSafe(sample.id)).png"
            } else {
                file = "gallery/\(order)_\(fileSafe(sample.id)).png"
            }
        } else {
            let scale = min(1, Double(galleryThumbnailSide) / Double(max(view.width, view.height)))
            picture = scale < 1 ? view.resized(width: max(1, Int((Double(view.width) * scale).rounded())),
                                               height: max(1, Int((Double(view.height) * scale).rounded()))) : view
            file = "gallery/\(order)_\(fileSafe(sample.id)).png"
        }
        try staging.write(try picture.pngData(), to: file)
        files[position] = file
    }

    var table = Table(header: ["section", "rank", "id", "file", "scale_min", "scale_max"])
    for section in sections {
        for (rank, position) in section.positions.enumerated() {
            table.append([section.name, String(rank + 1), dataset.test[position].id, files[position]!,
                          maps[position] != nil ? cell(range.lowerBound) : "", maps[position] != nil ? cell(range.upperBound) : ""])
        }
    }
    try staging.write(table.csv, to: "gallery.csv")
}

/// `sample.id` without its image extension, as one file name.
func fileSafe(_ id: String) -> String {
    fileSafeName(id.hasSuffix(".png") || id.hasSuffix(".jpg") || id.hasSuffix(".jpeg")
        ? String(id[..<id.lastIndex(of: ".")!]) : id)
}
