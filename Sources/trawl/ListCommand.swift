import ArgumentParser
import Experiments
import Foundation

/// `trawl list`: the experiments under `Experiments/`, with their descriptions.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the experiment specs in a folder.")

    @Option(help: "Folder holding the specs.")
    var folder: String = "Experiments"

    func run() throws {
        let directory = URL(fileURLWithPath: folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") && $0 != "schema.json" }.sorted()
        for name in names {
            let file = directory.appendingPathComponent(name)
            do {
                let spec = try ExperimentSpec(contentsOf: file, file: file.relativePath)
                print("\(spec.name)\n    \(spec.description.isEmpty ? "(no description)" : spec.description)")
            } catch {
                print("\(name.dropLast(5))\n    invalid: \(error)")
            }
        }
    }
}
