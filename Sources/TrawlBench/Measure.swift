import Foundation

/// Timed runs after one warm-up run where Trawl is compared with a peer, for both sides alike:
/// each side's figure is its best of these.
let timedRuns = 3

/// Best wall time in seconds of `repeats` runs of `body` after one warm-up run.
func bestTime(repeats: Int = 5, _ body: () -> Void) -> Double {
    measureAlternating(body, runs: repeats).wall
}

/// Best wall time and best process CPU time in seconds of `runs` runs of `body` after a
/// warm-up; with a `peer`, each run is followed by one of the peer's answers to `request`
/// (after a warm-up answer of its own), and `peer` is the best of those seconds (nil without a
/// peer or when it stops answering).
func measureAlternating(_ body: () -> Void, runs: Int = timedRuns, peer: PeerProcess? = nil, request: String = "")
    -> (wall: Double, cpu: Double, peer: Double?) {
    body()
    var peerBest = peer?.seconds(request).map { _ in Double.infinity }
    var (wall, cpu) = (Double.infinity, Double.infinity)
    for _ in 0..<runs {
        let (start, startCPU) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
        body()
        cpu = min(cpu, cpuSeconds() - startCPU)
        wall = min(wall, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        if let best = peerBest { peerBest = peer?.seconds(request).map { min(best, $0) } }
    }
    return (wall, cpu, peerBest)
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

/// `python3 -c script arguments…` with the folders `packages` under `.assets` (or
/// `$TRAWL_PYBENCH` in place of `.assets/pybench`) first on PYTHONPATH, where `make bench`
/// installs the reference packages; not yet started.
private func benchPython(_ script: String, arguments: [String], packages: [String]) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    var environment = ProcessInfo.processInfo.environment
    let assets = FileManager.default.currentDirectoryPath + "/.assets/"
    let folders = packages.map { $0 == "pybench" ? environment["TRAWL_PYBENCH"] ?? assets + $0 : assets + $0 }
    environment["PYTHONPATH"] = (folders + [environment["PYTHONPATH"]].compactMap { $0 }).joined(separator: ":")
    process.environment = environment
    return process
}

/// Runs a bench Python script (``benchPython(_:arguments:packages:)``) to its end: its trimmed
/// stdout, or nil after printing why `what` is skipped.
func runBenchPython(_ script: String, arguments: [String], packages: [String] = ["pybench"],
                    skipping what: String) -> String? {
    let process = benchPython(script, arguments: arguments, packages: packages)
    let pipe = Pipe()
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { print("\(what) skipped: python3 not runnable"); return nil }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { print("\(what) skipped: \(output)"); return nil }
    return output
}

/// A peer benchmark that stays running beside Trawl's, so the two sides' timed runs can
/// alternate (Trawl, peer, Trawl, peer, …) and drift in the machine's speed falls on both
/// alike. The script (``benchPython(_:arguments:packages:)``) prints one line once it is
/// ready, then answers each line written to its stdin with one line; it ends when its stdin
/// closes.
final class PeerProcess {
    /// The peer's first line (its name and version, say).
    private(set) var greeting = ""
    private let process: Process
    private let requests = Pipe(), answers = Pipe()
    private var unread = Data()

    /// Starts the peer and waits for its first line; nil after printing why `what` is skipped.
    init?(_ script: String, arguments: [String], packages: [String] = ["pybench"], skipping what: String) {
        process = benchPython(script, arguments: arguments, packages: packages)
        process.standardInput = requests
        process.standardOutput = answers
        signal(SIGPIPE, SIG_IGN)   // a peer that dies mid-run is an error from write, not the end of the bench
        guard (try? process.run()) != nil else { print("\(what) skipped: python3 not runnable"); return nil }
        guard let first = nextLine() else {
            print("\(what) skipped: the peer exited before it was ready (its error is above)")
            return nil
        }
        greeting = first
    }

    /// Writes `request` as a line and returns the peer's answer, or nil when the peer has exited.
    private func ask(_ request: String) -> String? {
        guard process.isRunning,
              (try? requests.fileHandleForWriting.write(contentsOf: Data((request + "\n").utf8))) != nil
        else { return nil }
        return nextLine()
    }

    /// The peer's answer to `request` as seconds, or nil when it is not a number.
    func seconds(_ request: String) -> Double? {
        ask(request).flatMap(Double.init)
    }

    private func nextLine() -> String? {
        while true {
            if let newline = unread.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: unread[..<newline], as: UTF8.self)
                unread.removeSubrange(...newline)
                return line.trimmingCharacters(in: .whitespaces)
            }
            let more = answers.fileHandleForReading.availableData
            if more.isEmpty { return nil }
            unread.append(more)
        }
    }

    deinit {
        try? requests.fileHandleForWriting.close()
        process.waitUntilExit()
    }
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

/// Prints one comparison with a peer: `label: Trawl … | peer … | ratio× (target ≥ …×: PASS/MISS)`,
/// the target part only when there is one.
/// `ratio` is how many times better Trawl does (rates: Trawl / peer; times: peer / Trawl).
func printComparison(_ label: String, trawl: String, peer: String, ratio: Double, target: Double?) {
    let goal = target.map { String(format: " (target >= %.1fx: %@)", $0, verdict(ratio >= $0)) } ?? ""
    print(String(format: "%@: Trawl %@ | %@ | %.2fx", label, trawl, peer, ratio) + goal)
}

/// `PASS` or `MISS`, how every target line of the bench ends.
func verdict(_ met: Bool) -> String { met ? "PASS" : "MISS" }
