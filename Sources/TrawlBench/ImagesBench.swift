import Checksums
import Foundation
import Images
import Tensors

/// Decoding, PIL-exact resizing and SHA-256 throughput.
func runImagesBenchmarks() {
    print("\n## Images")
    // A smooth synthetic 900×900 RGB image (MVTec's bottle resolution), PNG-encoded by us.
    let side = 900
    let synthetic = Image(pixels: Tensor(shape: [3, side, side], data: (0..<(3 * side * side)).map { i in
        let x = i % side, y = (i / side) % side, c = i / (side * side)
        return Float((x * (c + 1) + y * 2 + (x * y) % 7) % 256)
    }))
    guard let png = try? synthetic.pngData() else { return print("cannot encode the synthetic PNG") }
    let decode = bestTime { _ = try? Image(encoded: png, source: "synthetic.png") }
    print(String(format: "decode PNG %d×%d RGB (%d KiB): %.2f ms", side, side, png.count / 1024, decode * 1e3))
    let resize = bestTime { _ = synthetic.resized(width: 256, height: 256) }
    print(String(format: "PIL-bilinear resize %d×%d RGB → 256×256: %.2f ms", side, side, resize * 1e3))
    let small = synthetic.resized(width: 256, height: 256)
    let preprocess = bestTime {
        _ = small.resized(width: 224, height: 224).centerCropped(width: 224, height: 224)
            .normalized(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }
    print(String(format: "resize 256→224 + crop + ImageNet normalisation: %.2f ms", preprocess * 1e3))

    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    let jpeg = shared.appendingPathComponent("datasets/mvtec/hazelnut/test/good/04.jpg")
    if let data = try? Data(contentsOf: jpeg) {
        let time = bestTime { _ = try? Image(encoded: data, source: jpeg.path) }
        print(String(format: "decode JPEG 512×512 (MVTec hazelnut): %.2f ms", time * 1e3))
    } else {
        print("decode JPEG: skipped (\(jpeg.path) is absent)")
    }

    let bytes = [UInt8]((0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
    let hash = bestTime(repeats: 2) { _ = SHA256.hash(bytes) }
    print(String(format: "SHA-256 of 64 MiB: %.0f MB/s; peak memory so far %.0f MiB",
                 Double(bytes.count) / hash / 1e6, peakMemoryMiB()))
}
