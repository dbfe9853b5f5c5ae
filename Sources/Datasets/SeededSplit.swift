import Tensors

/// `items` in a seeded random order (Fisher–Yates, draws reduced modulo the range;
/// the bias is below 1e-14 for any dataset size). The same items and seed give the
/// same order.
func seededShuffle<T>(_ items: [T], seed: UInt64) -> [T] {
    var shuffled = items
    var generator = SplitMix64(seed: seed)
    var i = shuffled.count - 1
    while i > 0 {
        let j = Int(generator.next() % UInt64(i + 1))
        shuffled.swapAt(i, j)
        i -= 1
    }
    return shuffled
}

/// How a pool of normal samples is divided between training and test.
struct TrainSelection<T> {
    var train: [T]
    var test: [T]
    /// Normal samples drawn for training beyond `maxTrainImages`; used nowhere.
    var overCap: Int
}

/// Divides `normals` (already in a canonical order, e.g. sorted by id) with a seeded
/// shuffle: the first `floor(fraction · n)` go to training, at most `maxTrainImages` of
/// them (the rest of that share are left out); the remaining `n − floor(fraction · n)`
/// go to test.
func selectTraining<T>(_ normals: [T], fraction: Double, maxTrainImages: Int?, seed: UInt64) -> TrainSelection<T> {
    let shuffled = seededShuffle(normals, seed: seed)
    let share = Int((Double(normals.count) * fraction).rounded(.down))
    let kept = min(share, maxTrainImages ?? share)
    return TrainSelection(train: Array(shuffled[..<kept]), test: Array(shuffled[share...]), overCap: share - kept)
}

func validateSplit(fraction: Double, maxTrainImages: Int?) throws {
    guard fraction >= 0, fraction <= 1 else {
        throw DatasetError.invalidConfiguration("trainFraction \(fraction) is outside 0…1")
    }
    if let cap = maxTrainImages, cap < 1 {
        throw DatasetError.invalidConfiguration("maxTrainImages \(cap) must be at least 1")
    }
}
