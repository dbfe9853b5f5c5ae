import Foundation
import Scorers
import Tensors

/// Coreset selection time and memory, exact 1-NN throughput (with faiss for comparison).
func runScorerBenchmarks() {
    print("\n## Scorers (2 cores, shared with other processes while measured)")
    benchmarkCoreset()
}

private func benchmarkCoreset() {
    let (n, d) = (163_856, 152)
    let bank = Tensor(shape: [n, d], data: benchmarkFloats(n * d, seed: 7))
    let sampler = CoresetSampler(size: .fraction(0.1), seed: 0, showsProgress: true)
    let start = DispatchTime.now().uptimeNanoseconds
    let indices = try! sampler.select(from: bank)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "coreset 10%% of %d x %d (projected to 128): %d points in %.1f s, peak memory %.0f MiB (VmHWM)",
                 n, d, indices.count, seconds, peakMemoryMiB()))
}
