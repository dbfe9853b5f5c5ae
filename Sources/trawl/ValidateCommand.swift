import ArgumentParser
import Experiments
import Foundation

/// `trawl validate FILE…`: checks specs without running them.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check experiment specs: keys, types, ranges, paths' variables.",
        discussion: """
            Prints one line per file; exits non-zero when any spec is invalid. A file named \
            schema.json (the specs' JSON Schema) is skipped, so `trawl validate Experiments/*.json` works.
            """)

    @Argument(help: "Spec files.")
    var specs: [String]

    func run() throws {
        var failures = 0
        for file in specs {
            if URL(fileURLWithPath: file).lastPathComponent == "schema.json" {
                print("\(file): skipped (the JSON Schema of specs)")
                continue
            }
            do {
                let spec = try ExperimentSpec(contentsOf: URL(fileURLWithPath: file), file: file)
                let points = spec.grid.count
                print("\(file): ok (\(spec.scorer.kind), \(points) grid point\(points == 1 ? "" : "s"))")
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("\(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }
}
