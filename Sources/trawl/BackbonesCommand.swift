import ArgumentParser
import Backbones
import Foundation

/// `trawl backbones`: every backbone, its feature taps, and where its weights come from.
struct BackbonesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backbones",
        abstract: "List the backbones, their feature taps and their weights.")

    @Option(help: "Directory of registry assets (filled by `make setup`).")
    var assets: String = ".assets"

    func run() {
        for descriptor in BackboneRegistry.all(assets: URL(fileURLWithPath: assets)) {
            let isDefault = descriptor.name == BackboneRegistry.defaultName ? " (default)" : ""
            print("\(descriptor.name)\(isDefault)")
            let taps = descriptor.taps.map { "\($0.name) [\($0.alias)] \($0.channels) ch" }
            print("  taps:    \(taps.joined(separator: ", "))")
            print("  source:  \(descriptor.weightSource)")
            if let file = descriptor.weightsFile {
                print("  weights: present, \(file.path)")
            } else {
                print("  weights: absent; looked for \(descriptor.weightCandidates.map(\.path).joined(separator: ", "))")
            }
        }
    }
}
