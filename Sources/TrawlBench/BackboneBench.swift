import Backbones
import CConvolutionKernels
import Foundation
import Tensors
import Weights

/// Backbone throughput at batch 16, share of sgemm peak, and peak memory, beside torch CPU on
/// the same networks (`Sources/TrawlBench/Peers/torch_backbones.py`, 2 threads, eager,
/// `inference_mode`), whose timed runs alternate with Trawl's; then the ratios against issue
/// #15's targets.
///
/// The machine's cores are shared with other work, so besides wall-clock
/// images/s each figure is also given in CPU time per image (all threads),
/// which load does not inflate, and as the rate that CPU time allows on two
/// idle cores. The comparisons use wall time on both sides.
func runBackboneBenchmarks() {
    print("\n## Backbones (batch 16, 224x224; cores shared with other work: wall figures are lower bounds)")
    let (openBLAS, trawlGEMM) = (sgemmSingleThreadGFLOPS(), trawlGEMMSingleThreadGFLOPS())
    let peak = max(openBLAS, trawlGEMM)
    print(String(format: "raw sgemm, one thread, per CPU second: OpenBLAS (%@ kernels) 1024^3 %.1f GFLOP/s, "
                 + "Trawl's GEMM as the 1x1 convolutions run it 512x1024x1024 %.1f GFLOP/s; sgemm peak below = the larger",
                 BLASLibrary.coreName, openBLAS, trawlGEMM))
    let batch = 16
    let torch = startTorch(batch: batch)
    var trawlRates = [String: Double](), torchRates = [String: Double]()   // wall images/s by network
    defer { compare(trawlRates, with: torchRates, torch: torch?.greeting, batch: batch) }
    /// Times `body` against torch's pass of `network` and records both sides' images/s.
    func measure(_ network: String, _ body: () -> Void) -> (wall: Double, cpu: Double) {
        let (wall, cpu, torchSeconds) = measureAlternating(body, peer: torch, request: network)
        trawlRates[network] = Double(batch) / wall
        torchRates[network] = torchSeconds.map { Double(batch) / $0 }
        return (wall, cpu)
    }
    resetPeakMemory()
    print(String(format: "resident memory at the start of this section (earlier benchmarks' leftovers): %.0f MiB",
                 residentMemoryMiB()))
    let assets = URL(fileURLWithPath: ".assets")
    if let lite0 = try? BackboneRegistry.load("efficientnet-lite0", assets: assets) {
        let input = Tensor(shape: [batch, 3, 224, 224], data: benchmarkFloats(batch * 3 * 224 * 224, seed: 7))
        let (wall, cpu) = measure("efficientnet-lite0") { _ = try! lite0.features(input, taps: ["_blocks.10"]) }
        report("efficientnet-lite0 to _blocks.10", batch: batch, wall: wall, cpu: cpu, target: 40)
        _ = try! lite0.logits(input)
        print(String(format: "peak memory (VmHWM, process incl. weights) after lite0 batch-%d forwards (incl. logits): %.0f MiB (limit 1024)",
                     batch, peakMemoryMiB()))
    } else {
        print("efficientnet-lite0: weights absent under .assets (run make setup); skipped")
    }

    let resnetFile = URL(fileURLWithPath: "../shared/reference/resnet/resnet18-random.pth")
    guard let dict = try? StateDict(contentsOf: resnetFile), let resnet = try? ResNet.backbone(dict, name: "resnet18") else {
        print("resnet18: \(resnetFile.path) absent; skipped")
        return
    }
    let input = Tensor(shape: [batch, 3, 224, 224], data: benchmarkFloats(batch * 3 * 224 * 224, seed: 8))
    let (wall, cpu) = measure("resnet18") { _ = try! resnet.features(input, taps: ["layer3"]) }
    report("resnet18 to layer3", batch: batch, wall: wall, cpu: cpu, target: 45)
    let gflop = resNetGFLOP(dict, upToLayer: 3, inputSize: 224)
    let perCore = gflop * Double(batch) / cpu
    print(String(format: "resnet18 to layer3: %.2f GFLOP per image -> %.1f GFLOP/s per CPU second = %.0f%% of sgemm peak",
                 gflop, perCore, 100 * perCore / peak))
    print(String(format: "peak memory (VmHWM, process incl. both networks) after resnet18 batch-%d forwards: %.0f MiB (limit 1024)",
                 batch, peakMemoryMiB()))

    // PatchCore's usual backbone, with placeholder weights of the right shapes.
    resetPeakMemory()
    let wideWeights = ResNet.placeholderWeights(.wideResNet50_2)
    let wideGFLOP = resNetGFLOP(wideWeights, upToLayer: 3, inputSize: 224)
    let wide = try! ResNet.backbone(.wideResNet50_2, weights: wideWeights)
    let (wideWall, wideCPU) = measure("wide_resnet50_2") { _ = try! wide.features(input, taps: ["layer2", "layer3"]) }
    let widePerCore = wideGFLOP * Double(batch) / wideCPU
    print(String(format: "wide_resnet50_2 to layer3 (placeholder weights): %.1f images/s wall; %.0f ms CPU per image; "
                 + "%.2f GFLOP per image -> %.1f GFLOP/s per CPU second = %.0f%% of sgemm peak; "
                 + "peak memory (VmHWM, process) %.0f MiB (limit 1024)",
                 Double(batch) / wideWall, wideCPU / Double(batch) * 1e3, wideGFLOP, widePerCore,
                 100 * widePerCore / peak, peakMemoryMiB()))
}

/// The torch peer with its networks built, or nil after printing why the comparison is skipped.
private func startTorch(batch: Int) -> PeerProcess? {
    guard let script = peerScript("torch_backbones.py") else {
        print("torch comparison skipped: Sources/TrawlBench/Peers/torch_backbones.py is absent")
        return nil
    }
    return PeerProcess(script, arguments: ["\(batch)", "2"], packages: ["pybench-torch"],
                       skipping: "torch comparison (make bench installs torch into .assets/pybench-torch)")
}

/// Prints each network's ratio against its target (issue #15: Lite0 ≥ 3×, ResNet-18 ≥ 2×,
/// WRN-50-2 ≥ 2× torch's images/s).
private func compare(_ trawlRates: [String: Double], with torchRates: [String: Double], torch version: String?,
                     batch: Int) {
    guard let version, !torchRates.isEmpty else { return }
    print("\(version), same shapes, random weights (2 threads, eager, inference_mode, batch \(batch)), "
          + "timed runs alternating with Trawl's:")
    for (network, label, target) in [("efficientnet-lite0", "efficientnet-lite0 to _blocks.10", 3.0),
                                     ("resnet18", "resnet18 to layer3", 2.0),
                                     ("wide_resnet50_2", "wide_resnet50_2 to layer3", 2.0)] {
        guard let ours = trawlRates[network], let theirs = torchRates[network] else { continue }
        printComparison(label, trawl: String(format: "%.1f images/s", ours),
                        peer: String(format: "%@ %.1f images/s", version, theirs), ratio: ours / theirs, target: target)
    }
}

private func report(_ label: String, batch: Int, wall: Double, cpu: Double, target: Double) {
    let cpuPerImage = cpu / Double(batch)
    print(String(format: "%@: %.1f images/s wall; %.1f ms CPU per image -> %.1f images/s on 2 idle cores (target >= %.0f)",
                 label, Double(batch) / wall, cpuPerImage * 1e3, 2 / cpuPerImage, target))
}

/// sgemm 1024³ GFLOP per CPU second with OpenBLAS on one thread.
private func sgemmSingleThreadGFLOPS() -> Double {
    let n = 1024
    let a = benchmarkFloats(n * n, seed: 1), b = benchmarkFloats(n * n, seed: 2)
    var c = [Float](repeating: 0, count: n * n)
    let (_, cpu, _) = measureAlternating {
        sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
    }
    return 2 * Double(n * n * n) / cpu / 1e9
}

/// Trawl's GEMM on one thread, per CPU second, as a 1×1 convolution runs it
/// (``trawl_gemm_packing``): `[512, 1024]` weights packed once, times a `[1024, 1024]` image read
/// as it lies, each block of it copied into panels as the product goes.
private func trawlGEMMSingleThreadGFLOPS() -> Double {
    let (m, k, n) = (512, 1024, 1024)
    let a = benchmarkFloats(m * k, seed: 1), b = benchmarkFloats(k * n, seed: 2)
    var packedA = [Float](repeating: 0, count: trawl_gemm_packed_a_count(m, k))
    trawl_gemm_pack_a(m, k, a, k, &packedA)
    var scratch = [Float](repeating: 0, count: trawl_gemm_packing_scratch_count())
    var c = [Float](repeating: 0, count: m * n)
    let (_, cpu, _) = measureAlternating {
        trawl_gemm_packing(m, n, k, packedA, b, n, &c, n, nil, &scratch)
    }
    return 2 * Double(m * n * k) / cpu / 1e9
}

/// Multiply-add FLOPs (2 per MAC) of a torchvision ResNet's convolutions
/// through `layer<upToLayer>`, as standard convolution counts them (Winograd
/// layers do fewer, so the rate derived from it may exceed the sgemm peak):
/// conv1 at input/2, `layerL` at input/2^(L+1).
private func resNetGFLOP(_ dict: StateDict, upToLayer: Int, inputSize: Int) -> Double {
    var flops = 0.0
    for key in dict.keys where key.hasSuffix(".weight") {
        guard let shape = try? dict.shape(of: key), shape.count == 4 else { continue }
        let side: Int
        if key == "conv1.weight" {
            side = inputSize / 2
        } else if key.hasPrefix("layer"), let layer = Int(String(key.dropFirst(5).prefix(1))), layer <= upToLayer {
            side = inputSize / (2 << layer)
        } else {
            continue
        }
        flops += 2 * Double(shape.reduce(1, *)) * Double(side * side)
    }
    return flops / 1e9
}
