import ArgumentParser
import Experiments
import Foundation

/// `trawl run Experiments/NAME.json`: runs an experiment and writes `Results/NAME/`.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment spec and write its results.",
        discussion: """
            Reads the spec, extracts backbone features through the embedding cache (a second \
            run reuses them), fits and scores every grid point, and writes metrics.md, \
            metrics.csv, scores.csv, roc.csv, pr.csv, confusion.csv, run.json and heatmaps \
            to Results/NAME/ (replaced as a whole only when the run succeeds).
            """)

    @Argument(help: "The experiment spec, e.g. Experiments/elpv-patchcore-default.json.")
    var spec: String

    @OptionGroup var locations: RunLocations

    @Option(help: ArgumentHelp("Override scorer.coreset_shards of the PatchCore scorer (recorded in run.json).",
                               valueName: "N"))
    var coresetShards: Int?

    @Option(help: ArgumentHelp("Take the features from the N shard files of `trawl extract --shard I/N`; a missing "
                               + "or corrupt shard is an error naming it (nothing is extracted).", valueName: "N"))
    var featureShards: Int?

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func validate() throws {
        if let coresetShards, !(1...4096).contains(coresetShards) {
            throw ValidationError("--coreset-shards \(coresetShards): allowed 1…4096")
        }
        if let featureShards, !(1...4096).contains(featureShards) {
            throw ValidationError("--feature-shards \(featureShards): allowed 1…4096")
        }
    }

    func run() throws {
        // Line by line also into files and pipes: a run that waits for another says so at once.
        setvbuf(stdout, nil, _IOLBF, 0)
        let url = URL(fileURLWithPath: spec)
        let experiment = try ExperimentSpec(contentsOf: url, file: spec)
        var options = locations.runOptions(showsProgress: !quiet)
        options.coresetShards = coresetShards
        options.featureShards = featureShards
        _ = try ExperimentRunner(spec: experiment, specFile: url, options: options).run()
    }
}
