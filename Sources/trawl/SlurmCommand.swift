import ArgumentParser
import ClusterScripts
import Experiments
import Foundation

/// `trawl slurm SPEC --shards N [--submit]`: Slurm batch scripts for a sharded run.
struct Slurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write (and optionally submit) Slurm scripts that run an experiment as sharded jobs.",
        discussion: """
            Writes slurm/NAME/extract.sbatch (an array job: task I runs `trawl extract SPEC \
            --shard I/N`) and slurm/NAME/fit-score.sbatch (`trawl run SPEC --feature-shards N \
            --coreset-shards N`, to be submitted with --dependency=afterok:<extract job>; it has \
            --kill-on-invalid-dep=yes). With --submit, submits both with `sbatch --parsable` and \
            prints the job ids and how to watch them.
            """)

    @Argument(help: "The experiment spec, e.g. Experiments/mvtec-grid-patchcore.json.")
    var spec: String

    @Option(help: "Number of shards: extraction array tasks and coreset shards.")
    var shards: Int

    @Option(help: "Slurm partition (#SBATCH --partition).")
    var partition: String?

    @Option(help: "Wall-time limit of each task and of the fit-score job, Slurm's format (e.g. 2:00:00).")
    var time: String?

    @Option(help: "Memory per node, Slurm's format (e.g. 16G).")
    var mem: String?

    @Option(help: "CPUs per task.")
    var cpusPerTask: Int?

    @Flag(help: "Submit both scripts with sbatch.")
    var submit = false

    @OptionGroup var locations: RunLocations

    func validate() throws {
        guard (1...4096).contains(shards) else { throw ValidationError("--shards \(shards): allowed 1…4096") }
        if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task \(cpusPerTask): must be ≥ 1") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: spec)
        let experiment = try ExperimentSpec(contentsOf: url, file: spec)
        guard case .patchcore = experiment.scorer else {
            throw ValidationError("\(spec): trawl slurm runs PatchCore specs (the fit-score job selects the coreset "
                                  + "in shards); the spec's scorer is \(experiment.scorer.kind)")
        }
        let here = FileManager.default.currentDirectoryPath
        let scripts = SlurmScripts(
            name: experiment.name, spec: spec, shards: shards, trawl: Self.executablePath,
            workingDirectory: here, folder: URL(fileURLWithPath: "slurm/\(experiment.name)").standardizedFileURL.path,
            cache: locations.features.cache, assets: locations.features.assets, results: locations.results,
            partition: partition, time: time, memory: mem, cpusPerTask: cpusPerTask)
        let (extract, fitScore) = try scripts.write()
        print("wrote \(extract.path)")
        print("wrote \(fitScore.path)")
        guard submit else {
            print("submit: sbatch --parsable \(extract.path)   # prints the extract job id")
            print("        sbatch --dependency=afterok:<extract job id> --kill-on-invalid-dep=yes \(fitScore.path)")
            return
        }
        let jobs = try SlurmSubmission.submit(extract: extract, fitScore: fitScore)
        print("extract job \(jobs.extractJob) (array 0-\(shards - 1)), fit-score job \(jobs.fitScoreJob) "
              + "(after every extract task succeeds)")
        print("watch (no accounting needed):")
        let lines = jobs.watchCommands + [("tail -f \(scripts.folder)/*.out", "the jobs' output")]
        let width = lines.map(\.0.count).max()!
        for (command, shows) in lines {
            print("  " + command.padding(toLength: width + 3, withPad: " ", startingAt: 0) + shows)
        }
    }

    /// This executable's absolute path (the scripts run the same binary).
    static var executablePath: String {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        return link ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }
}
