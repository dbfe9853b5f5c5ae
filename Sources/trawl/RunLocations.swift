import ArgumentParser
import Experiments
import Foundation

/// Where `trawl run`, `regress` and `baseline` read and write: results, the embedding
/// cache and the registry assets (relative to the current directory).
struct RunLocations: ParsableArguments {
    @Option(help: "Folder holding the results folders (Results/NAME/).")
    var results: String = "Results"

    @OptionGroup var features: FeatureLocations

    func runOptions(showsProgress: Bool) -> RunOptions {
        var options = features.runOptions(showsProgress: showsProgress)
        options.resultsDirectory = URL(fileURLWithPath: results)
        return options
    }
}

/// Where backbone features come from: the embedding cache and the registry assets (default
/// backbone weights). `trawl score` and `trawl model` use these alone.
struct FeatureLocations: ParsableArguments {
    @Option(help: "Embedding cache folder.")
    var cache: String = ".cache/embeddings"

    @Option(help: "Registry assets folder (default backbone weights).")
    var assets: String = ".assets"

    func runOptions(showsProgress: Bool) -> RunOptions {
        var options = RunOptions(toolVersion: TrawlVersion.string, showsProgress: showsProgress)
        options.cacheDirectory = URL(fileURLWithPath: cache)
        options.assetsDirectory = URL(fileURLWithPath: assets)
        return options
    }
}
