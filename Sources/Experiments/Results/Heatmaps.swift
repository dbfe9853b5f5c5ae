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
    // Most anomalous first; equal scores in test order.
    let ranked = report.testRows.indices.sorted {
        result.testScores[$0] > result.testScores[$1] || (result.testScores[$0] == result.testScores[$1] && $0 < $1)
    }.prefix(count)
    let rows = ranked.map { report.testRows[$0] }
    let scored = try scorer.score(taps: splits.taps.map { gatherRows(of: $0, rows) },
                                  imageHeight: splits.inputSize, imageWidth: splits.inputSize)
    let maps = scored.anomalyMaps
    let range = (maps.data.min() ?? 0)...(maps.data.max() ?? 0)
    let digits = String(count).count
    for (rank, row) in rows.enumerated() {
        let sample = report.samples[row]
        let image = try pipeline.geometry(try pipeline.decode(sample), source: pipeline.source(sample))
        let map = maps.slice(rank)
        let picture = Heatmap.overlay(map, range: range, on: image, opacity: report.spec.outputs.overlays ? 0.4 : 1)
        let number = String(repeating: "0", count: digits - String(rank + 1).count) + String(rank + 1)
        try staging.write(try picture.pngData(), to: "heatmaps/\(number)_\(fileSafe(sample.id)).png")
    }
}

/// `sample.id` as one file name: path separators and other unsafe characters become `_`.
private func fileSafe(_ id: String) -> String {
    let stem = id.hasSuffix(".png") || id.hasSuffix(".jpg") || id.hasSuffix(".jpeg")
        ? String(id[..<id.lastIndex(of: ".")!]) : id
    return String(stem.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
}
