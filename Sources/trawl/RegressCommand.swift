import ArgumentParser
import Datasets
import Experiments
import Foundation

/// `trawl regress NAME…`: re-runs experiments into a scratch folder and compares every
/// metric of every grid row with the committed `Results/NAME/baseline.csv`.
struct Regress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run experiments and compare their metrics with the committed baselines.",
        discussion: """
            Each experiment runs into SCRATCH/NAME/ (the committed Results/ are not touched); \
            every metric the spec lists is compared, grid row by grid row, with \
            Results/NAME/baseline.csv under the spec's "tolerances" (0.005 where it names none), \
            in both directions. Any drift, missing or new row, missing metric or missing baseline \
            fails with a table of experiment, row, metric, old, new, delta and tolerance. \
            To accept new figures deliberately: `make baseline NAME=...`, then commit Results/NAME/baseline.csv.
            """)

    @Argument(help: "Experiment names (spec file names under Experiments/, without .json).")
    var names: [String]

    @Option(help: "Folder holding the experiment specs (searched with its subfolders).")
    var experiments: String = "Experiments"

    @OptionGroup var locations: RunLocations

    @Option(help: "Folder the fresh results are written into.")
    var scratch: String = ".build/regress"

    func run() throws {
        let catalog = try ExperimentCatalog(directory: URL(fileURLWithPath: experiments))
        let baseline = Baseline(resultsDirectory: URL(fileURLWithPath: locations.results))
        var options = locations.runOptions(showsProgress: false)
        options.resultsDirectory = URL(fileURLWithPath: scratch)
        var differences = [MetricDifference]()
        var problems = [String]()
        var skipped = [String]()
        let start = Date()
        for name in names {
            do {
                let spec = try catalog.spec(named: name)
                _ = try baseline.metrics(of: spec)
                var runner = ExperimentRunner(spec: spec, specFile: try catalog.file(named: name), options: options)
                runner.log = { _ in }
                let summary = try runner.run()
                let comparison = try baseline.compare(
                    spec, freshMetrics: options.resultsDirectory.appendingPathComponent(name).appendingPathComponent("metrics.csv"))
                differences += comparison.differences
                let verdict = comparison.passed
                    ? "ok" : "\(comparison.differences.count) difference\(comparison.differences.count == 1 ? "" : "s")"
                print("regress: \(name): \(spec.grid.count) row\(spec.grid.count == 1 ? "" : "s"), \(verdict) "
                      + "(\(String(format: "%.1f", summary.wallSeconds)) s)")
            } catch DatasetError.missing(let url, let what) {
                // Data that is not installed here (e.g. ../shared in a user's fresh clone):
                // said plainly, never counted as a pass.
                skipped.append(name)
                print("regress: \(name): SKIPPED, \(what) absent: \(url.path)")
            } catch {
                problems.append("\(error)")
                print("regress: \(name): FAILED (below)")
            }
            fflush(stdout)  // one line per experiment as it finishes, also in CI logs
        }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        guard differences.isEmpty && problems.isEmpty else {
            if !differences.isEmpty {
                print("\nregress: metrics differ from the committed baselines beyond tolerance:\n")
                print(differences.report, terminator: "")
            }
            if !problems.isEmpty { print("") }
            for problem in problems { print("regress: \(problem)") }
            print("\nregress: FAILED after \(seconds) s.")
            if !differences.isEmpty {
                print("""
                    If the change is intended, update the baseline with `make baseline NAME=<experiment>`, \
                    review `git diff Results/<experiment>/baseline.csv`, and commit it.
                    """)
            }
            throw ExitCode.failure
        }
        let checked = names.count - skipped.count
        print("regress: \(checked) experiments match their baselines (\(seconds) s)"
              + (skipped.isEmpty ? "." : "; \(skipped.count) skipped for absent data: \(skipped.joined(separator: ", "))."))
    }
}

/// `trawl baseline NAME…`: runs experiments into `Results/NAME/` and writes their committed
/// `Results/NAME/baseline.csv`.
struct UpdateBaseline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Re-run experiments and overwrite their committed baselines (Results/NAME/baseline.csv).",
        discussion: """
            The deliberate way to change a baseline: runs each experiment as `trawl run` does, then \
            writes its metrics without timings to Results/NAME/baseline.csv (the only tracked file \
            of Results/NAME/). Review `git diff Results/NAME/baseline.csv`, then commit it.
            """)

    @Argument(help: "Experiment names (spec file names under Experiments/, without .json).")
    var names: [String]

    @Option(help: "Folder holding the experiment specs (searched with its subfolders).")
    var experiments: String = "Experiments"

    @OptionGroup var locations: RunLocations

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func run() throws {
        let catalog = try ExperimentCatalog(directory: URL(fileURLWithPath: experiments))
        let options = locations.runOptions(showsProgress: !quiet)
        let baseline = Baseline(resultsDirectory: options.resultsDirectory)
        var written = [String]()
        for name in names {
            let spec = try catalog.spec(named: name)
            let summary = try ExperimentRunner(spec: spec, specFile: try catalog.file(named: name), options: options).run()
            try baseline.record(spec.name, fromMetrics: summary.resultsDirectory.appendingPathComponent("metrics.csv"))
            written.append(baseline.file(for: spec.name).path)
        }
        print("baseline: wrote \(written.joined(separator: ", ")); review and commit.")
    }
}
