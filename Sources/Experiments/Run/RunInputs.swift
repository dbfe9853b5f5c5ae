import Backbones
import Datasets
import Foundation

/// What a run extracts features of: the spec's loaded dataset points, its backbone and input
/// pipeline, and the items (every sample, then the augmented copies of the training images).
struct RunInputs {
    /// The samples of all dataset points, each once (feature rows in this order).
    var samples: [Sample]
    var loaded: [LoadedDatasetPoint]
    var backbone: Backbone
    var weightsFile: URL
    var weightsSHA256: String
    var pipeline: InputPipeline
    /// Anomaly-map size, pixels (the network input, or the scaled image when tiled).
    var mapSize: (height: Int, width: Int)
    /// `features.augment` of any grid point, in `Augmentation.allCases` order.
    var augmentations: [Augmentation]
    /// Every dataset point's training rows, each once, in point order.
    var trainRows: [Int]

    var sampleItems: [ExtractionItem] { samples.map { ExtractionItem(sample: $0) } }

    /// Each augmentation's copies of the training rows (their features follow the samples').
    var augmentedItems: [ExtractionItem] {
        augmentations.flatMap { augmentation in
            trainRows.map { ExtractionItem(sample: samples[$0], augmentation: augmentation) }
        }
    }
}
