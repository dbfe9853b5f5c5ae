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

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func run() throws {
        // Line by line also into files and pipes: a run that waits for another says so at once.
        setvbuf(stdout, nil, _IOLBF, 0)
        let url = URL(fileURLWithPath: spec)
        let experiment = try ExperimentSpec(contentsOf: url, file: spec)
        let options = locations.runOptions(showsProgress: !quiet)
        _ = try ExperimentRunner(spec: experiment, specFile: url, options: options).run()
    }
}
