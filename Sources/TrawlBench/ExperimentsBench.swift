import Experiments
import Foundation

/// The default experiment end to end: wall time per stage, cache hits and peak memory.
/// Features go through `.cache/embeddings` (a first `make bench` measures a cold run, later
/// ones a warm run); results go to a temporary folder.
func runExperimentsBenchmarks() {
    print("\n## Experiments")
    let specURL = URL(fileURLWithPath: "Experiments/elpv-patchcore-default.json")
    let results = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-bench-\(ProcessInfo.processInfo.processIdentifier)")
    defer { try? FileManager.default.removeItem(at: results) }
    do {
        let spec = try ExperimentSpec(contentsOf: specURL)
        var options = RunOptions(toolVersion: "bench", showsProgress: false)
        options.resultsDirectory = results
        var runner = ExperimentRunner(spec: spec, specFile: specURL, options: options)
        runner.log = { _ in }
        let summary = try runner.run()
        let record = try JSONSerialization.jsonObject(
            with: Data(contentsOf: summary.resultsDirectory.appendingPathComponent("run.json"))) as? [String: Any]
        let stages = (record?["stages"] as? [[String: Any]] ?? []).map {
            String(format: "%@ %.1f s", $0["name"] as? String ?? "?", $0["seconds"] as? Double ?? .nan)
        }
        print(String(format: "%@ (%@): %.1f s wall, %@ = %.4f, cache %d hits / %d misses, peak %.0f MiB",
                     spec.name, summary.cacheMisses == 0 ? "warm" : "cold", summary.wallSeconds,
                     summary.headline.metric.rawValue, summary.headline.value, summary.cacheHits,
                     summary.cacheMisses, peakMemoryMiB()))
        print("  stages: " + stages.joined(separator: ", "))
    } catch {
        print("\(specURL.path): skipped (\(error))")
    }
}
