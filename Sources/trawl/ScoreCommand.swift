import ArgumentParser
import Datasets
import Experiments
import Foundation

/// `trawl score MODEL INPUT…`: ranks images that have no labels with a saved model.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score unlabeled images with a saved model (Results/NAME/model.h5).",
        discussion: """
            Scores image files, folders (searched recursively) or the rows of a manifest with \
            the model's backbone, preprocessing and fitted scorer (never refitting), and writes \
            scores.csv (most anomalous first), heatmaps of the top N and gallery.html to --out. \
            --where filters by metadata or image quality (sharpness, brightness, contrast), \
            e.g. --where 'depth_m < 800' --where 'sharpness > 50'; excluded images are counted.
            """)

    @Argument(help: "The model file, e.g. Results/elpv-patchcore-default/model.h5.")
    var model: String

    @Argument(help: "Image files or folders.")
    var inputs: [String] = []

    @Option(help: "A CSV or FathomNet JSON manifest of images and metadata (instead of or besides INPUT).")
    var manifest: String?

    @Option(help: "The manifest's image path column.")
    var imageColumn: String = "path"

    @Option(name: .customLong("where"), help: "Keep images where COLUMN OP VALUE holds (repeatable; all must hold).")
    var filters: [String] = []

    @Option(help: "Output folder (replaced as a whole when scoring succeeds).")
    var out: String = "scores"

    @Option(help: "Heatmaps and gallery cards for this many highest (and as many lowest) scores.")
    var top: Int = 20

    @OptionGroup var locations: FeatureLocations

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func validate() throws {
        guard !inputs.isEmpty || manifest != nil else { throw ValidationError("give image files or folders, or --manifest") }
        guard top >= 0 else { throw ValidationError("--top must be 0 or more") }
    }

    func run() throws {
        var images = try UnlabeledImages.files(inputs.map { URL(fileURLWithPath: $0) })
        if let manifest {
            let rows = try UnlabeledImages.manifest(URL(fileURLWithPath: manifest), imageColumn: imageColumn)
            images = Dataset(samples: (images.samples + rows.samples).sorted { $0.id < $1.id },
                             exclusions: images.exclusions + rows.exclusions)
        }
        let predicates = try filters.map { try Datasets.Predicate(parsing: $0) }
        let scoring = ModelScoring(modelFile: URL(fileURLWithPath: model),
                                   options: locations.runOptions(showsProgress: !quiet))
        _ = try scoring.score(images, filters: predicates, to: URL(fileURLWithPath: out), top: top)
    }
}

/// `trawl model …`: changes to saved models.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Change a saved model.", subcommands: [AddNormalCommand.self])
}

/// `trawl model add-normal MODEL INPUT…`: extends a model's memory bank with normal images.
struct AddNormalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-normal",
        abstract: "Add normal images to a saved PatchCore or kNN model without refitting; rewrites it atomically.",
        discussion: """
            PatchCore: the images' patches pass through the model's coreset (same ratio and \
            seed, over the new patches) and join the memory bank. kNN: their embeddings join \
            the training set. The threshold is kept.
            """)

    @Argument(help: "The model file to extend.")
    var model: String

    @Argument(help: "Normal image files or folders.")
    var inputs: [String]

    @OptionGroup var locations: FeatureLocations

    @Flag(help: "No progress bars on stderr.")
    var quiet = false

    func run() throws {
        let images = try UnlabeledImages.files(inputs.map { URL(fileURLWithPath: $0) })
        _ = try AddNormal(modelFile: URL(fileURLWithPath: model), options: locations.runOptions(showsProgress: !quiet))
            .add(images)
    }
}
