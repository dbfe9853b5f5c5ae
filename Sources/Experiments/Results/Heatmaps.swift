import Datasets
import Foundation
import Images
import Scorers
import Tensors

/// PNG anomaly maps of the most anomalous test images of `result`, drawn over the network's
/// view of each image (or alone when `outputs.overlays` is false), one colour scale for
/// all: `heatmaps/01_<id>.png`, most anomalous first.
func writeHeatmaps(scorer: PatchCoreScorer, result: PointResult, report: ResultReport, pipeline: InputPipeline,
                   splits: FeatureSplits, to staging: ResultsStaging) throws {
    let count = min(report.spec.outputs.heatmaps, report.testRows.count)
    let ranked = rankedByScore(result.testScores).prefix(count)
    let rows = ranked.map { report.testRows[$0] }
    let pictures = try heatmapOverlays(scorer: scorer, rows: rows, samples: report.samples, taps: splits.taps,
                                       pipeline: pipeline, overlays: report.spec.outputs.overlays)
    for (rank, (row, picture)) in zip(rows, pictures).enumerated() {
        try staging.write(try picture.pngData(), to: heatmapPath(rank: rank, of: count, id: report.samples[row].id))
    }
}

/// Indices of `scores`, most anomalous first; equal scores keep their order.
func rankedByScore(_ scores: [Double]) -> [Int] {
    scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
}

/// PatchCore anomaly maps of `rows` (of `samples` and the tap tensors `[N, C, H, W]`) over
/// the network's view of each image (`opacity` 0.4), or alone when `overlays` is false,
/// on one colour scale: the min–max of these maps.
func heatmapOverlays(scorer: PatchCoreScorer, rows: [Int], samples: [Sample], taps: [Tensor], pipeline: InputPipeline,
                     overlays: Bool) throws -> [Image] {
    guard !rows.isEmpty else { return [] }
    let maps = try scorer.score(taps: taps.map { gatherRows(of: $0, rows) },
                                imageHeight: pipeline.inputSize, imageWidth: pipeline.inputSize).anomalyMaps
    let range = (maps.data.min() ?? 0)...(maps.data.max() ?? 0)
    return try rows.enumerated().map { rank, row in
        let image = try pipeline.geometry(try pipeline.decode(samples[row]), source: pipeline.source(samples[row]))
        return Heatmap.overlay(maps.slice(rank), range: range, on: image, opacity: overlays ? 0.4 : 1)
    }
}

/// `heatmaps/<rank from 01>_<id>.png`, the rank zero-padded to the digits of `count`.
func heatmapPath(rank: Int, of count: Int, id: String) -> String {
    "heatmaps/\(paddedRank(rank, of: count))_\(fileSafe(id)).png"
}

/// `rank + 1`, zero-padded to the digits of `count`.
func paddedRank(_ rank: Int, of count: Int) -> String {
    let digits = String(count).count
    return String(repeating: "0", count: max(0, digits - String(rank + 1).count)) + String(rank + 1)
}

/// `id` as one file name: the image extension dropped, path separators and other unsafe
/// characters replaced by `_`.
func fileSafe(_ id: String) -> String {
    let stem = id.hasSuffix(".png") || id.hasSuffix(".jpg") || id.hasSuffix(".jpeg")
        ? String(id[..<id.lastIndex(of: ".")!]) : id
    return String(stem.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
}
