import ArgumentParser
import Experiments
import Foundation

/// `trawl tables`: writes `Results/README.md`, the summary table across experiments.
struct Tables: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write Results/README.md: one table across every experiment with committed results.",
        discussion: """
            Reads each spec under Experiments/ whose Results/NAME/baseline.csv exists and writes \
            one Markdown table (dataset, backbone, scorer, key parameters, metrics) plus the \
            Fashion-MNIST one-class-vs-rest matrix. Runs nothing.
            """)

    @Option(help: "Folder holding the experiment specs.")
    var experiments: String = "Experiments"

    @Option(help: "Folder holding the results folders.")
    var results: String = "Results"

    @Option(help: "The file to write (default: RESULTS/README.md).")
    var output: String?

    func run() throws {
        let catalog = try ExperimentCatalog(directory: URL(fileURLWithPath: experiments))
        let resultsDirectory = URL(fileURLWithPath: results)
        var found = [ExperimentResults]()
        for name in catalog.names {
            let spec = try catalog.spec(named: name, placeholdersForUnsetVariables: true)
            if let experiment = try ExperimentResults(spec: spec, resultsDirectory: resultsDirectory) {
                found.append(experiment)
            }
        }
        let url = URL(fileURLWithPath: output ?? resultsDirectory.appendingPathComponent("README.md").path)
        try Data(ResultsSummary(experiments: found).markdown.utf8).write(to: url, options: .atomic)
        print("Wrote \(url.path): \(found.count) of \(catalog.names.count) experiments have committed results.")
    }
}
