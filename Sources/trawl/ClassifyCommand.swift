import ArgumentParser
import Backbones
import Foundation
import Images

/// `trawl classify IMAGE`: the ImageNet top-k of one image, a check that a
/// backbone and its weights work.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Print the ImageNet top classes (index, probability) of an image.")

    @Argument(help: "A PNG or JPEG image.")
    var image: String

    @Option(help: "Backbone name (see `trawl backbones`).")
    var backbone: String = BackboneRegistry.defaultName

    @Option(help: "Weights file, instead of the backbone's default location.")
    var weights: String?

    @Option(help: "Directory of registry assets (filled by `make setup`).")
    var assets: String = ".assets"

    @Option(help: "Number of classes to print.")
    var top: Int = 5

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let network = try BackboneRegistry.load(backbone, weights: weights.map { URL(fileURLWithPath: $0) },
                                                assets: URL(fileURLWithPath: assets))
        let input = try network.preprocessing.input(for: try Image(contentsOf: URL(fileURLWithPath: image)), source: image)
        let scores = topClasses(try network.logits(input.reshaped([1] + input.shape)), k: top)[0]
        print("class  probability  (\(network.name), ImageNet-1k)")
        for score in scores {
            print(String(format: "%5d  %.4f", score.index, score.probability))
        }
    }
}
