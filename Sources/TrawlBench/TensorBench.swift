import CBLAS
import Foundation
import Tensors

/// sgemm through the wrapper vs raw OpenBLAS, and im2col convolution throughput.
func runTensorBenchmarks() {
    let (m, n, k) = (1024, 1024, 1024)
    let a = benchmarkFloats(m * k, seed: 1), b = benchmarkFloats(k * n, seed: 2)
    var c = [Float](repeating: 0, count: m * n)
    let flops = 2.0 * Double(m * n * k)
    // The wrapper first: it sets OpenBLAS to one thread, as Trawl always runs it, so the raw
    // call runs on one thread too.
    let wrapped = bestTime {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    sgemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                          c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }
    let raw = bestTime {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
    }
    print("\n## Tensors (OpenBLAS threads: \(BLASThreads.count))")
    let rawGFLOPS = flops / raw / 1e9
    print(String(format: "sgemm %dx%dx%d: raw OpenBLAS %.1f GFLOP/s, wrapper %.1f GFLOP/s",
                 m, n, k, rawGFLOPS, flops / wrapped / 1e9))

    // ResNet layer2-sized: [8, 128, 28, 28], 3×3, 128 out, stride 1, padding 1.
    let input = Tensor(shape: [8, 128, 28, 28], data: benchmarkFloats(8 * 128 * 28 * 28, seed: 3))
    let conv = Conv2D(weight: Tensor(shape: [128, 128, 3, 3], data: benchmarkFloats(128 * 128 * 9, seed: 4)),
                      bias: [Float](repeating: 0.1, count: 128), padding: .uniform(1))
    let convFlops = 2.0 * Double(8 * 128 * 28 * 28 * 128 * 9)
    let convTime = bestTime { _ = conv(input) }
    let convGFLOPS = convFlops / convTime / 1e9
    print(String(format: "conv2d [8,128,28,28] 3x3 -> 128: %.1f GFLOP/s (%.0f%% of raw sgemm peak), %.2f ms",
                 convGFLOPS, 100 * convGFLOPS / rawGFLOPS, convTime * 1e3))
}
