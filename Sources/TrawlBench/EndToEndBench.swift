import Foundation

/// `trawl run` of `mvtec-bottle-patchcore` at the 10 % coreset, end to end in a child
/// process: cold (empty embedding cache: decode, backbone, cache write, coreset, scoring,
/// metrics, result files) and warm (features from the cache). Prints wall time and peak
/// resident memory (the child's `ru_maxrss`) against the targets: cold ≤ 60 s, warm ≤ 15 s,
/// peak ≤ 1.5 GiB.
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
        let arguments = ["run", spec.path, "--quiet",
                         "--results", scratch.appendingPathComponent("results").path,
                         "--cache", scratch.appendingPathComponent("cache").path,
                         "--assets", root.appendingPathComponent(".assets").path]
        for (label, target) in [("cold (empty cache)", 60.0), ("warm (cached features)", 15.0)] {
            let run = try runChild(trawl, arguments)
            guard run.status == 0 else {
                print("\(label): trawl exited with status \(run.status)")
                return
            }
            let gib = Double(run.peakKiB) / (1024 * 1024)
            print(String(format: "%@: wall %.1f s (target ≤ %.0f s: %@), peak memory %.2f GiB (target ≤ 1.5 GiB: %@)",
                         label, run.seconds, target, run.seconds <= target ? "met" : "MISSED",
                         gib, gib <= 1.5 ? "met" : "MISSED"))
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

/// Runs `executable` with `arguments` (output discarded) and reports its exit status, wall
/// time in seconds and peak resident memory in KiB (`ru_maxrss` of `wait4`).
private func runChild(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, seconds: Double, peakKiB: Int) {
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
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, seconds, usage.ru_maxrss)
}
