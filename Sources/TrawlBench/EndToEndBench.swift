import Foundation

/// `trawl run` of `mvtec-bottle-patchcore` at the 10 % coreset, end to end in a child
/// process: cold (empty embedding cache: decode, backbone, cache write, coreset, scoring,
/// metrics, result files) and warm (features from the cache). Prints wall time, the run's
/// stages and its peak resident memory against the targets: cold ≤ 60 s, warm ≤ 15 s,
/// peak ≤ 1.5 GiB. The peak is the `VmHWM` the run records in run.json: a spawned child's
/// `ru_maxrss` would include this benchmark process's own peak, which Linux carries across
/// the child's exec.
func runEndToEndBenchmarks() {
    print("\n## End to end: trawl run mvtec-bottle-patchcore, 10 % coreset (2 cores shared with other work: wall times are upper bounds)")
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let bottle = root.deletingLastPathComponent().appendingPathComponent("shared/datasets/mvtec/bottle")
    guard FileManager.default.fileExists(atPath: bottle.path) else {
        print("skipped: \(bottle.path) is absent (MVTec AD bottle comes with ../shared)")
        return
    }
    let trawl = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("trawl")
    guard FileManager.default.isExecutableFile(atPath: trawl.path) else {
        print("skipped: \(trawl.path) is absent (build the trawl product first: `make build`)")
        return
    }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-e2e-\(getpid())")
    defer { try? FileManager.default.removeItem(at: scratch) }
    do {
        let spec = try singleCoresetSpec(from: root.appendingPathComponent("Experiments/mvtec-bottle-patchcore.json"),
                                         datasetRoot: bottle, coresetRatio: 0.1, into: scratch)
        let results = scratch.appendingPathComponent("results")
        let arguments = ["run", spec.path, "--quiet",
                         "--results", results.path,
                         "--cache", scratch.appendingPathComponent("cache").path,
                         "--assets", root.appendingPathComponent(".assets").path]
        for (label, target) in [("cold (empty cache)", 60.0), ("warm (cached features)", 15.0)] {
            let run = try runChild(trawl, arguments)
            guard run.status == 0 else {
                print("\(label): trawl exited with status \(run.status)")
                return
            }
            let record = try runRecord(results.appendingPathComponent("mvtec-bottle-patchcore/run.json"))
            let gib = Double(record.peakBytes) / Double(1 << 30)
            print(String(format: "%@: wall %.1f s (target ≤ %.0f s: %@), peak memory %.2f GiB (target ≤ 1.5 GiB: %@)",
                         label, run.seconds, target, run.seconds <= target ? "met" : "MISSED",
                         gib, gib <= 1.5 ? "met" : "MISSED"))
            print("  stages: " + record.stages)
        }
    } catch {
        print("failed: \(error)")
    }
}

/// Writes a copy of the spec at `source` with one coreset ratio and an absolute dataset
/// root into `folder` (same file name, as the spec's name requires); returns its URL.
private func singleCoresetSpec(from source: URL, datasetRoot: URL, coresetRatio: Double, into folder: URL) throws -> URL {
    let data = try Data(contentsOf: source)
    guard var spec = try JSONSerialization.jsonObject(with: data) as? [String: Any],
          var dataset = spec["dataset"] as? [String: Any], var scorer = spec["scorer"] as? [String: Any] else {
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: source.path])
    }
    dataset["root"] = datasetRoot.path
    scorer["coreset_ratio"] = coresetRatio
    spec["dataset"] = dataset
    spec["scorer"] = scorer
    spec["$schema"] = nil
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(source.lastPathComponent)
    try JSONSerialization.data(withJSONObject: spec).write(to: url, options: .atomic)
    return url
}

/// The peak memory (`peak_memory_bytes`) and stage timings a run wrote to `run.json`.
private func runRecord(_ url: URL) throws -> (peakBytes: Int, stages: String) {
    guard let record = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any],
          let peak = record["peak_memory_bytes"] as? Int, let stages = record["stages"] as? [[String: Any]] else {
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path])
    }
    let text = stages.compactMap { stage -> String? in
        guard let name = stage["name"] as? String, let seconds = stage["seconds"] as? Double else { return nil }
        return String(format: "%@ %.1f s", name, seconds)
    }
    return (peak, text.joined(separator: ", "))
}

/// Runs `executable` with `arguments` (output discarded) and reports its exit status and
/// wall time in seconds.
private func runChild(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, seconds: Double) {
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let start = DispatchTime.now().uptimeNanoseconds
    let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, seconds)
}
