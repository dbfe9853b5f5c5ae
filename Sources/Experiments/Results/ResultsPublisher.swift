import FileLocks
import Foundation

/// Why results could not be written.
public struct ResultsError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}

/// Writes a run's results as one unit: every file goes into a hidden staging folder
/// beside the destination, and only when all of them are written does the staging folder
/// replace the destination. A run that fails part-way removes its staging folder and
/// leaves the previous results untouched, with no temporary files behind; the staging
/// folders of a run that was killed (its PID gone) are removed by the next publish.
/// Runs of one name take turns through `lock`. Files named in `keeping` (the committed
/// `baseline.csv`) are not the run's: they are carried over into the new folder unchanged.
public struct ResultsPublisher {
    /// The results folder, e.g. `Results/elpv-patchcore-default`.
    public let destination: URL
    /// Names of files in the destination that a run does not write and keeps as they are.
    public let keeping: [String]

    public init(destination: URL, keeping: [String] = []) {
        self.destination = destination.standardizedFileURL
        self.keeping = keeping
    }

    /// The lock file of the destination's name, `.NAME.lock` beside it.
    public var lockURL: URL {
        destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).lock")
    }

    /// Checks that the folder holding the destination can be written (created when
    /// absent), then takes the lock of the destination's name, waiting while another
    /// process holds it (`waiting` gets one line saying for whom). Call it before any
    /// long computation, so that an unwritable results folder fails at once.
    public func lock(waiting: (String) -> Void) throws -> FileLock {
        let parent = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw ResultsError(path: parent.path, reason: "cannot create the results folder (\(error.localizedDescription))")
        }
        guard access(parent.path, W_OK) == 0 else {
            throw ResultsError(path: parent.path, reason: "the results folder is not writable (\(String(cString: strerror(errno))))")
        }
        do {
            return try FileLock(lockURL) { holder in
                waiting("waiting for PID \(holder.map(String.init) ?? "?"), which is writing \(destination.path)")
            }
        } catch let error as FileLockError {
            throw ResultsError(path: error.path, reason: error.reason)
        }
    }

    /// Runs `write` against a fresh staging folder, then swaps it into place.
    public func publish(_ write: (ResultsStaging) throws -> Void) throws {
        let fileManager = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let name = destination.lastPathComponent
        let pid = ProcessInfo.processInfo.processIdentifier
        let staging = parent.appendingPathComponent(".\(name).staging-\(pid)")
        let retired = parent.appendingPathComponent(".\(name).previous-\(pid)")
        do {
            try fileManager.createDirectory(at: parent, withIntermediateDirectories: true)
            removeLeftoversOfKilledRuns()
            try? fileManager.removeItem(at: staging)
            try fileManager.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw ResultsError(path: staging.path, reason: "cannot create folder (\(error.localizedDescription))")
        }
        do {
            try write(ResultsStaging(directory: staging))
            for name in keeping where fileManager.fileExists(atPath: destination.appendingPathComponent(name).path) {
                let kept = staging.appendingPathComponent(name)
                try? fileManager.removeItem(at: kept)
                do {
                    try fileManager.copyItem(at: destination.appendingPathComponent(name), to: kept)
                } catch {
                    throw ResultsError(path: kept.path, reason: "cannot carry \(name) over (\(error.localizedDescription))")
                }
            }
        } catch {
            try? fileManager.removeItem(at: staging)
            throw error
        }
        // Two renames: the old folder steps aside, the new one takes its name.
        let hadPrevious = fileManager.fileExists(atPath: destination.path)
        if hadPrevious {
            try rename(destination, to: retired, cleaningUp: staging)
        }
        do {
            try rename(staging, to: destination, cleaningUp: staging)
        } catch {
            if hadPrevious { try? rename(retired, to: destination, cleaningUp: retired) }
            throw error
        }
        if hadPrevious { try? fileManager.removeItem(at: retired) }
    }

    /// Removes `.NAME.staging-PID` and `.NAME.previous-PID` folders whose process is gone;
    /// a `.previous` folder is first moved back when the destination is missing (a run
    /// killed between its two renames).
    private func removeLeftoversOfKilledRuns() {
        let fileManager = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let name = destination.lastPathComponent
        guard let entries = try? fileManager.contentsOfDirectory(atPath: parent.path) else { return }
        for kind in ["previous", "staging"] {
            let prefix = ".\(name).\(kind)-"
            for entry in entries where entry.hasPrefix(prefix) {
                guard let pid = Int32(entry.dropFirst(prefix.count)), !processIsAlive(pid) else { continue }
                let leftover = parent.appendingPathComponent(entry)
                if kind == "previous", !fileManager.fileExists(atPath: destination.path),
                   Foundation.rename(leftover.path, destination.path) == 0 {
                    continue
                }
                try? fileManager.removeItem(at: leftover)
            }
        }
    }

    private func rename(_ source: URL, to target: URL, cleaningUp leftover: URL) throws {
        guard Foundation.rename(source.path, target.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: leftover)
            throw ResultsError(path: target.path, reason: "cannot move \(source.lastPathComponent) into place (\(reason))")
        }
    }
}

/// The folder a run writes its results into before they are published.
public struct ResultsStaging {
    public let directory: URL

    /// Writes `data` to `relativePath` (folders created), through a temporary file and a
    /// rename, so a reader never sees a half-written file.
    public func write(_ data: Data, to relativePath: String) throws {
        let url = directory.appendingPathComponent(relativePath)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw ResultsError(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }

    public func write(_ text: String, to relativePath: String) throws {
        try write(Data(text.utf8), to: relativePath)
    }

    /// The URL `relativePath` will have inside the staging folder (for writers that need a
    /// path, e.g. PNG encoders), its parent folders created.
    public func url(for relativePath: String) throws -> URL {
        let url = directory.appendingPathComponent(relativePath)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ResultsError(path: url.path, reason: "cannot create folder (\(error.localizedDescription))")
        }
        return url
    }
}
