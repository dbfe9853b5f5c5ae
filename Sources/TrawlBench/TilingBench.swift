import Backbones
import Foundation
import Tensors

/// Full-resolution (tiled) extraction with EfficientNet-Lite0, taps `stride8` and `stride16`,
/// 224 px tiles every 192 px: megapixels/s, tiles/s and peak memory against the image's
/// megapixels (random pixels; the tiles of one image form one batch).
func runTilingBenchmarks() {
    print("\n## Tiled extraction (efficientnet-lite0, stride8 + stride16, 224 px tiles every 192 px; 2 cores shared with other work)")
    guard let lite0 = try? BackboneRegistry.load("efficientnet-lite0", assets: URL(fileURLWithPath: ".assets")) else {
        print("efficientnet-lite0: weights absent under .assets (run make setup); skipped")
        return
    }
    let tiling = Tiling(tile: 224, stride: 192)
    print("| image | megapixels | tiles | seconds | megapixels/s | tiles/s | peak memory |")
    print("|---|---|---|---|---|---|---|")
    for (width, height) in [(640, 480), (1280, 960), (2048, 1536), (3000, 1800)] {
        let input = Tensor(shape: [3, height, width], data: benchmarkFloats(3 * height * width, seed: 21))
        let tiles = tiling.tileCount(width: width, height: height)
        resetPeakMemory()
        let seconds = bestTime(repeats: 1) { _ = try! lite0.features(tiled: input, tiling: tiling, taps: ["stride8", "stride16"]) }
        let megapixels = Double(width * height) / 1e6
        print(String(format: "| %d×%d | %.2f | %d | %.2f | %.2f | %.1f | %.0f MiB |", width, height, megapixels, tiles,
                     seconds, megapixels / seconds, Double(tiles) / seconds, peakMemoryMiB()))
    }
}
