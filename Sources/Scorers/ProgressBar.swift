#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A one-line progress bar on stderr: `label  [#####.....]  steps/total  pct%  ETA m:ss`,
/// redrawn at most every 0.25 s while stderr is a terminal; elsewhere (logs, CI) only
/// the closing line is written.
struct ProgressBar {
    let label: String
    let total: Int
    private let startTime = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    mutating func advance(to done: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard isTerminal, done == total || now - lastDraw > 250_000_000 else { return }
        lastDraw = now
        let elapsed = Double(now - startTime) / 1e9
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let eta = done == 0 ? 0 : elapsed * (1 - fraction) / fraction
        let filled = Int(fraction * 30)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        let line = "\r\(label)  [\(bar)]  \(done)/\(total)  \(Int(fraction * 100))%  ETA \(Self.clock(eta))  "
        fputs(line, stderr)
    }

    func finish() {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - startTime) / 1e9
        fputs("\(isTerminal ? "\r" : "")\(label)  \(total)/\(total) done in \(Self.clock(elapsed))" + String(repeating: " ", count: 40) + "\n", stderr)
    }

    private static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        let rest = s % 60
        return "\(s / 60):\(rest < 10 ? "0" : "")\(rest)"
    }
}
