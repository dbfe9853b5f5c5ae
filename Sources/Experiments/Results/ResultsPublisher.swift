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
/// leaves the previous results untouched, with no temporary files behind.
public struct ResultsPublisher {
    /// The results folder, e.g. `Results/elpv-patchcore-default`.
    public let destination: URL

    public init(destination: URL) {
        self.destination = destination.standardizedFileURL
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
            try? fileManager.removeItem(at: staging)
            try fileManager.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw ResultsError(path: staging.path, reason: "cannot create folder (\(error.localizedDescription))")
        }
        do {
            try write(ResultsStaging(directory: staging))
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
