import Datasets

/// The samples of one dataset point and where their features sit among the extracted rows.
///
/// A spec's dataset points are extracted together: the union of their samples (by id, in
/// point order, each id once) goes through the embedding cache as one image set, and every
/// point takes its rows from it. Different normal classes of Fashion-MNIST, or ELPV cell
/// types, share most images, so each image is computed once however many points use it;
/// a spec with one dataset point has the same image set, and cache key, as before sweeps.
struct LoadedDatasetPoint {
    var point: DatasetPoint
    var dataset: Dataset
    /// The point's training and test samples, in dataset order.
    var train: [Sample]
    var test: [Sample]
    /// Rows of `train` and `test` in the union's feature tensors.
    var trainRows: [Int]
    var testRows: [Int]
}

/// The union of the points' samples (first occurrence of each id) and every point's rows in it.
func unionOfSamples(_ points: [(DatasetPoint, Dataset)]) -> (samples: [Sample], points: [LoadedDatasetPoint]) {
    var union = [Sample]()
    var rowOfID = [String: Int]()
    for (_, dataset) in points {
        for sample in dataset.samples where rowOfID[sample.id] == nil {
            rowOfID[sample.id] = union.count
            union.append(sample)
        }
    }
    let loaded = points.map { point, dataset in
        let train = dataset.train, test = dataset.test
        return LoadedDatasetPoint(point: point, dataset: dataset, train: train, test: test,
                                  trainRows: train.map { rowOfID[$0.id]! }, testRows: test.map { rowOfID[$0.id]! })
    }
    return (union, loaded)
}
