import Datasets
import Foundation
import Images
import Scorers
import Tensors

/// Indices of `scores`, most anomalous first; equal scores keep their order.
func rankedByScore(_ scores: [Double]) -> [Int] {
    scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
}

/// PatchCore anomaly maps (`mapSize`) of `rows` (of `samples` and `features`, scored a batch at a time) over
/// the network's view of each image (`opacity` 0.4), or alone when `overlays` is false,
/// on one colour scale, the min–max of these maps, shown by a colour bar under each.
func heatmapOverlays(scorer: PatchCoreScorer, rows: [Int], samples: [Sample], features: RunFeatures, pipeline: InputPipeline,
                     mapSize: (height: Int, width: Int), overlays: Bool) throws -> [Image] {
    guard !rows.isEmpty else { return [] }
    let batchSize = scoringBatch(mapHeight: mapSize.height, mapWidth: mapSize.width)
    let maps = try stride(from: 0, to: rows.count, by: batchSize).flatMap { start -> [Tensor] in
        let scored = try scorer.score(taps: features.taps(rows[start..<min(start + batchSize, rows.count)]),
                                      imageHeight: mapSize.height, imageWidth: mapSize.width).anomalyMaps
        return (0..<scored.shape[0]).map { scored.slice($0) }
    }
    let range = (maps.map { $0.data.min()! }.min() ?? 0)...(maps.map { $0.data.max()! }.max() ?? 0)
    return try rows.enumerated().map { rank, row in
        let image = try pipeline.geometry(try pipeline.decode(samples[row]), source: pipeline.source(samples[row]))
        return Heatmap.withColourBar(Heatmap.overlay(maps[rank], range: range, on: image, opacity: overlays ? 0.4 : 1),
                                     range: range)
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
