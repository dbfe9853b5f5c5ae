import Foundation

/// Submits the scripts of ``SlurmScripts`` with `sbatch --parsable`: the extraction array,
/// then fit-score with `--dependency=afterok:<array job>`.
public struct SlurmSubmission: Sendable {
    /// Job id of the extraction array job.
    public var extractJob: String
    /// Job id of the fit-score job.
    public var fitScoreJob: String

    /// Submits `extract` then `fitScore` (script URLs). Throws ``SlurmError`` naming the
    /// command and what sbatch printed when sbatch is missing or fails.
    public static func submit(extract: URL, fitScore: URL) throws -> SlurmSubmission {
        let extractJob = try sbatch([extract.path])
        let fitScoreJob = try sbatch(["--dependency=afterok:\(extractJob)", "--kill-on-invalid-dep=yes", fitScore.path])
        return SlurmSubmission(extractJob: extractJob, fitScoreJob: fitScoreJob)
    }

    /// Commands that watch the two jobs without Slurm accounting (which `sacct` needs), each
    /// with what it shows.
    public var watchCommands: [(command: String, shows: String)] {
        [("squeue --jobs=\(extractJob),\(fitScoreJob)", "pending and running tasks, with the reason"),
         ("scontrol show job \(fitScoreJob)", "state, dependency and exit code (kept a while after the job ends)")]
    }

    /// The job id `sbatch --parsable ARGS` prints (`id` or `id;cluster`).
    private static func sbatch(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch", "--parsable"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let command = (["sbatch", "--parsable"] + arguments).joined(separator: " ")
        do { try process.run() } catch {
            throw SlurmError("\(command): cannot start: \(error.localizedDescription)")
        }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = printed.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard process.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            let reason = process.terminationStatus == 127
                ? "sbatch is not on PATH (run on a Slurm login node, or install Slurm's client)"
                : "exit status \(process.terminationStatus): \(complaint.trimmingCharacters(in: .whitespacesAndNewlines))"
            throw SlurmError("\(command): \(reason)")
        }
        return id
    }
}

/// A failed submission, naming the command and the reason.
public struct SlurmError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
