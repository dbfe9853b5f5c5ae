import Foundation
import Metrics

/// Pixel AUROC and AUPRO over ~10⁷ pixels (150 maps of 256×256), image AUROC over 10⁵ scores.
func runMetricsBenchmarks() {
    print("\n## Metrics")
    let (count, side) = (150, 256)
    let noise = benchmarkFloats(count * side * side, seed: 11)
    let corners = benchmarkFloats(2 * count, seed: 12)
    let images = (0..<count).map { i -> SegmentationSample in
        // One 40×60 anomalous rectangle per image at a pseudo-random place.
        let top = Int((corners[2 * i] + 1) / 2 * Float(side - 40))
        let left = Int((corners[2 * i + 1] + 1) / 2 * Float(side - 60))
        let mask = (0..<side * side).map { p in
            (top..<top + 40).contains(p / side) && (left..<left + 60).contains(p % side)
        }
        let map = (0..<side * side).map { p in noise[i * side * side + p] + (mask[p] ? 0.8 : 0) }
        return SegmentationSample(anomalyMap: map, mask: mask, height: side, width: side)
    }
    let pixels = Double(count * side * side)
    var value = 0.0
    let aurocTime = bestTime(repeats: 3) { value = try! pixelAUROC(images) }
    print(String(format: "pixel AUROC, %.1fM pixels: %.3f s (%.0f Mpixel/s), AUROC %.4f",
                 pixels / 1e6, aurocTime, pixels / aurocTime / 1e6, value))
    let auproTime = bestTime(repeats: 3) { value = try! aupro(images, fprLimit: 0.3) }
    print(String(format: "AUPRO (FPR ≤ 0.3), %.1fM pixels: %.3f s (%.0f Mpixel/s), AUPRO %.4f",
                 pixels / 1e6, auproTime, pixels / auproTime / 1e6, value))

    let scores = benchmarkFloats(100_000, seed: 13).map(Double.init)
    let labels = (0..<scores.count).map { $0 % 7 == 0 }
    let imageTime = bestTime { value = try! auroc(scores: scores, labels: labels) }
    print(String(format: "image AUROC, 100k scores: %.1f ms", imageTime * 1e3))
    print(String(format: "peak memory so far (VmHWM): %.0f MiB", peakMemoryMiB()))
}
