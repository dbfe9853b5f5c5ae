import Foundation

/// The two Slurm batch scripts that run one experiment on a cluster (`trawl slurm`):
///
/// - `extract.sbatch`: an array job, `--array=0-(N-1)`; task I runs
///   `trawl extract SPEC --shard I/N` (the images whose id hashes to shard I, into the
///   shard's own embedding-cache file);
/// - `fit-score.sbatch`: submitted with `--dependency=afterok:<extract job>` and
///   `--kill-on-invalid-dep=yes` (a failed task cancels it instead of leaving it pending
///   forever); runs `trawl run SPEC --feature-shards N --coreset-shards N`, which merges the
///   shard files (naming any missing one), selects the coreset in N shards and scores.
///
/// The scripts are plain bash with comments, meant to be edited for a cluster (account,
/// QOS, modules to load). Paths in them are those given here; relative ones resolve in
/// `workingDirectory` (the scripts' `--chdir`).
public struct SlurmScripts: Sendable {
    /// Experiment name (`slurm/NAME/`, job names).
    public var name: String
    /// The spec file, as `trawl` is to be given it.
    public var spec: String
    /// Number of extraction shards (array tasks), ≥ 1.
    public var shards: Int
    /// The `trawl` executable, absolute.
    public var trawl: String
    /// Where the jobs run (`#SBATCH --chdir`), absolute.
    public var workingDirectory: String
    /// The folder of the scripts and their logs (`extract-<job>_<task>.out`), absolute.
    public var folder: String
    /// `trawl` options every job passes on: `--cache`, `--assets` (extract and run), `--results` (run).
    public var cache: String
    public var assets: String
    public var results: String
    /// `#SBATCH` resources; nil leaves the cluster's default.
    public var partition: String?
    /// Wall-time limit per task / job, Slurm's format (`2:00:00`, `1-0`).
    public var time: String?
    /// Memory per node, Slurm's format (`16G`).
    public var memory: String?
    public var cpusPerTask: Int?

    public init(name: String, spec: String, shards: Int, trawl: String, workingDirectory: String, folder: String,
                cache: String, assets: String, results: String, partition: String? = nil, time: String? = nil,
                memory: String? = nil, cpusPerTask: Int? = nil) {
        precondition(shards >= 1, "at least one shard")
        self.name = name
        self.spec = spec
        self.shards = shards
        self.trawl = trawl
        self.workingDirectory = workingDirectory
        self.folder = folder
        self.cache = cache
        self.assets = assets
        self.results = results
        self.partition = partition
        self.time = time
        self.memory = memory
        self.cpusPerTask = cpusPerTask
    }

    public static let extractFile = "extract.sbatch"
    public static let fitScoreFile = "fit-score.sbatch"

    /// `extract.sbatch`.
    public var extract: String {
        """
        #!/bin/bash
        # Trawl, experiment \(name): backbone features in \(shards) shards, one array task per shard.
        # Written by `trawl slurm`; edit the #SBATCH lines (account, QOS, resources) for your cluster.
        # Task I extracts the images whose id hashes to shard I (SHA-256 of the id mod \(shards)) into
        # its own embedding-cache file, <key sha256>.shard-I-of-\(shards).h5 in \(cache).
        # Submit: sbatch --parsable \(Self.extractFile)
        #SBATCH --job-name=trawl-extract-\(name)
        #SBATCH --array=0-\(shards - 1)
        #SBATCH --chdir=\(workingDirectory)
        #SBATCH --output=\(folder)/extract-%A_%a.out
        \(resourceLines)
        set -euo pipefail

        exec \(quoted(trawl)) extract \(quoted(spec)) --shard "$SLURM_ARRAY_TASK_ID/\(shards)" \\
            --cache \(quoted(cache)) --assets \(quoted(assets)) --quiet

        """
    }

    /// `fit-score.sbatch`.
    public var fitScore: String {
        """
        #!/bin/bash
        # Trawl, experiment \(name): merge the \(shards) feature shards, select the PatchCore coreset in
        # \(shards) shards (two rounds: each shard's greedy coreset, then one greedy pass over their union),
        # fit, score and write \(results)/\(name)/.
        # Written by `trawl slurm`; edit the #SBATCH lines (account, QOS, resources) for your cluster.
        # Submit after the extraction job, which must succeed in every task:
        #   sbatch --parsable --dependency=afterok:<extract job id> \(Self.fitScoreFile)
        # --kill-on-invalid-dep=yes: when a task of the extraction fails, this job is cancelled
        # (reason DependencyNeverSatisfied) instead of pending forever.
        #SBATCH --job-name=trawl-fit-score-\(name)
        #SBATCH --kill-on-invalid-dep=yes
        #SBATCH --chdir=\(workingDirectory)
        #SBATCH --output=\(folder)/fit-score-%j.out
        \(resourceLines)
        set -euo pipefail

        # --feature-shards: the features come from the shard files alone (a missing or corrupt shard
        # is an error naming it); --coreset-shards overrides scorer.coreset_shards (run.json records it).
        exec \(quoted(trawl)) run \(quoted(spec)) --feature-shards \(shards) --coreset-shards \(shards) \\
            --cache \(quoted(cache)) --assets \(quoted(assets)) --results \(quoted(results)) --quiet

        """
    }

    private var resourceLines: String {
        var lines = [String]()
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let memory { lines.append("#SBATCH --mem=\(memory)") }
        if let cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(cpusPerTask)") }
        return lines.isEmpty ? "# (no resources given: the cluster's defaults apply; see `trawl slurm --help`)"
            : lines.joined(separator: "\n")
    }

    /// Writes both scripts into ``folder`` (created when needed), each to a temporary file
    /// renamed into place, executable; returns their URLs (extract, fit-score).
    public func write() throws -> (extract: URL, fitScore: URL) {
        let directory = URL(fileURLWithPath: folder)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let urls = (directory.appendingPathComponent(Self.extractFile), directory.appendingPathComponent(Self.fitScoreFile))
        for (url, text) in [(urls.0, extract), (urls.1, fitScore)] {
            try Data(text.utf8).write(to: url, options: .atomic)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        return urls
    }
}

/// `text` as one bash word: unchanged when it is made of safe characters, else in single quotes.
func quoted(_ text: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")
    if !text.isEmpty, text.unicodeScalars.allSatisfy(safe.contains) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
