// `make bench`: prints throughput, timing and memory figures. Not part of `make test`.
// `TrawlBench SECTION…` runs only the named sections (`make bench SECTIONS="scorers"`).
import Foundation

// Line by line even into a file or pipe, so that the peers' warnings (their stderr) interleave
// with this output in the order things happened, not in the middle of a line.
setvbuf(stdout, nil, _IOLBF, 0)

let sections: [(name: String, run: () -> Void)] = [
    ("tensors", runTensorBenchmarks),
    ("metrics", runMetricsBenchmarks),
    ("images", runImagesBenchmarks),
    ("scorers", runScorerBenchmarks),
    ("scaling", runScalingBenchmarks),
    ("projections", runProjectionBenchmarks),
    ("data", runDataBenchmarks),
    ("backbones", runBackboneBenchmarks),
    ("convolutions", runConvolutionBenchmarks),
    ("tiling", runTilingBenchmarks),
    ("experiments", runExperimentsBenchmarks),
    ("end-to-end", runEndToEndBenchmarks),
    ("scale", runScaleBenchmarks),
]
let chosen = Set(CommandLine.arguments.dropFirst())
if chosen == [bigBankSection] {   // section scale's child process
    runBigBankBenchmark()
    exit(0)
}
if let unknown = chosen.subtracting(sections.map(\.name)).first {
    print("TrawlBench: unknown section \(unknown); sections: \(sections.map(\.name).joined(separator: ", "))")
    exit(2)
}
print("# Trawl benchmarks")
for section in sections where chosen.isEmpty || chosen.contains(section.name) {
    section.run()
}
