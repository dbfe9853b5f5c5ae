import ArgumentParser
import EmbeddingCache
import Experiments
import Foundation

/// `trawl extract SPEC [--shard I/N]`: backbone features into the embedding cache, without
/// fitting or results (one Slurm array task per shard).
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract a spec's backbone features into the embedding cache (all, or one shard).",
        discussion: """
            With --shard I/N, only the images of shard I of N (SHA-256 of the image id, first 8 \
            bytes big-endian, mod N) are extracted, into the shard's own file next to the key's \
            file (<key sha256>.shard-I-of-N.h5). `trawl run` merges finished shard files into \
            the key's file and counts their images as cache hits.
            """)

    @Argument(help: "The experiment spec, e.g. Experiments/mvtec-grid-patchcore.json.")
    var spec: String

    @Option(help: ArgumentHelp("Extract shard I of N only (0 ≤ I < N), e.g. 3/8.", valueName: "I/N"))
    var shard: String?

    @OptionGroup var features: FeatureLocations

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func validate() throws {
        if let shard, ImageShard(shard) == nil {
            throw ValidationError("--shard \(shard): expected I/N with 0 ≤ I < N, e.g. 0/4")
        }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        let url = URL(fileURLWithPath: spec)
        let experiment = try ExperimentSpec(contentsOf: url, file: spec)
        let runner = ExperimentRunner(spec: experiment, specFile: url, options: features.runOptions(showsProgress: !quiet))
        let summary = try runner.extract(shard: shard.flatMap(ImageShard.init))
        print("extracted: \(summary.hits) images from the cache, \(summary.misses) computed")
    }
}
