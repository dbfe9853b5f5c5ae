import Foundation

/// A progress bar on stderr for a long step: count, images/s and ETA. On a terminal it
/// redraws one line (`\r`); otherwise (logs, CI) it prints a plain line every 10 % or
/// 10 s, with no escape codes. Safe to advance from several threads.
final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let isTerminal: Bool
    private let write: (String) -> Void
    private let lock = NSLock()
    private let start = Date()
    private var done = 0
    private var lastPrint = Date.distantPast
    private var lastPrintedTenth = 0

    /// `total` items of `unit` (e.g. `images`) for the step `label`, written to `write`
    /// (default stderr).
    init(_ label: String, total: Int, unit: String = "images",
         isTerminal: Bool = isatty(STDERR_FILENO) != 0,
         write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.total = total
        self.unit = unit
        self.isTerminal = isTerminal
        self.write = write
    }

    func advance(by count: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += count
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastPrint) >= 0.1 || done == total else { return }
            lastPrint = now
            write("\r" + line(now, bar: true))
        } else {
            let tenth = total > 0 ? done * 10 / total : 10
            guard tenth > lastPrintedTenth || now.timeIntervalSince(lastPrint) >= 10 else { return }
            lastPrintedTenth = tenth
            lastPrint = now
            if done < total { write(line(now, bar: false) + "\n") }
        }
    }

    /// Ends the step with a summary line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        let seconds = Date().timeIntervalSince(start)
        let rate = seconds > 0 ? String(format: ", %.1f %@/s", Double(done) / seconds, unit) : ""
        let summary = "\(label): \(done) \(unit) in \(String(format: "%.1f", seconds)) s\(rate)"
        write((isTerminal ? "\r\u{1B}[2K" : "") + summary + "\n")
    }

    private func line(_ now: Date, bar: Bool) -> String {
        let seconds = now.timeIntervalSince(start)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        var text = "\(label): "
        if bar {
            let width = 24
            let filled = Int(fraction * Double(width))
            text += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        text += "\(done)/\(total) \(unit), \(String(format: "%.1f", rate)) \(unit)/s, ETA \(formatDuration(remaining))"
        return text
    }
}

/// `42 s`, `3 min 05 s`.
func formatDuration(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded())
    return whole < 60 ? "\(whole) s" : String(format: "%d min %02d s", whole / 60, whole % 60)
}
