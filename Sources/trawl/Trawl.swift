import ArgumentParser
import FileErrors
import Foundation

/// The `trawl` command line.
@main
struct Trawl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trawl",
        abstract: "Visual anomaly and out-of-distribution detection experiments.",
        version: TrawlVersion.string,
        subcommands: [Run.self, Extract.self, Slurm.self, Validate.self, List.self, Version.self, BackbonesCommand.self, ClassifyCommand.self,
                      Tables.self, ReportCommand.self, CheckPageCommand.self, Regress.self, UpdateBaseline.self, ELPVModulesCommand.self,
                      Score.self, ModelCommand.self]
    )

    /// Runs the command; a Foundation file error that reaches here is reported as
    /// `path: reason` rather than Foundation's "NSCocoaErrorDomain error 512".
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard let readable = FileErrorDescription.located(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(readable)\n".utf8))
            exit(withError: ExitCode.failure)
        }
    }
}

/// The tool's version, recorded in caches and run provenance.
enum TrawlVersion {
    static let string = "0.1.0"
}

/// `trawl version`: prints the tool's version.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() {
        print(TrawlVersion.string)
    }
}
