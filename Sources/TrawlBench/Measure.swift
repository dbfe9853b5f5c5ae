import Foundation

/// Best wall time in seconds of `repeats` runs of `body` after one warm-up run.
func bestTime(repeats: Int = 5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

/// Peak resident memory of this process so far (`VmHWM`), in MiB.
func peakMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kib / 1024
}

/// CPU seconds so far of `clock`: `CLOCK_PROCESS_CPUTIME_ID` (this process, all its threads)
/// or `CLOCK_THREAD_CPUTIME_ID` (the calling thread). Beside a wall time, what a measurement
/// cost when other processes share the cores.
func cpuSeconds(_ clock: clockid_t = CLOCK_PROCESS_CPUTIME_ID) -> Double {
    var time = timespec()
    clock_gettime(clock, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Current resident memory of this process (`VmRSS`), in MiB.
func residentMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kib / 1024
}

/// Deterministic pseudo-random floats in [-1, 1) for benchmark inputs.
func benchmarkFloats(_ count: Int, seed: UInt64 = 1) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
}

/// Runs `python3 -c script arguments…` with the folders `packages` under `.assets` (or
/// `$TRAWL_PYBENCH` in place of `.assets/pybench`) first on PYTHONPATH, where `make bench`
/// installs the reference packages: its trimmed stdout, or nil after printing why `what` is
/// skipped.
func runBenchPython(_ script: String, arguments: [String], packages: [String] = ["pybench"],
                    skipping what: String) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    var environment = ProcessInfo.processInfo.environment
    let assets = FileManager.default.currentDirectoryPath + "/.assets/"
    let folders = packages.map { $0 == "pybench" ? environment["TRAWL_PYBENCH"] ?? assets + $0 : assets + $0 }
    environment["PYTHONPATH"] = (folders + [environment["PYTHONPATH"]].compactMap { $0 }).joined(separator: ":")
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { print("\(what) skipped: python3 not runnable"); return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { print("\(what) skipped: \(output)"); return nil }
    return output
}

/// The text of the peer script `Sources/TrawlBench/Peers/name` of this checkout.
func peerScript(_ name: String) -> String? {
    try? String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Peers/\(name)"), encoding: .utf8)
}

/// The checkout this benchmark was built from.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Resets `VmHWM` to the current resident size (Linux ≥ 4.0), so a following
/// ``peakMemoryMiB()`` is the peak of what ran in between (plus what was resident before).
func resetPeakMemory() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// Prints one comparison with a peer: `label: Trawl … | peer … | ratio× (target ≥ …×: PASS/MISS)`.
/// `ratio` is how many times better Trawl does (rates: Trawl / peer; times: peer / Trawl).
func printComparison(_ label: String, trawl: String, peer: String, ratio: Double, target: Double) {
    print(String(format: "%@: Trawl %@ | %@ | %.2fx (target >= %.1fx: %@)",
                 label, trawl, peer, ratio, target, verdict(ratio >= target)))
}

/// `PASS` or `MISS`, how every target line of the bench ends.
func verdict(_ met: Bool) -> String { met ? "PASS" : "MISS" }
