import Foundation
import Tensors

/// A class index with its softmax probability.
public struct ClassScore: Sendable, Equatable {
    public let index: Int
    public let probability: Float

    public init(index: Int, probability: Float) {
        self.index = index
        self.probability = probability
    }
}

/// The `k` most probable classes of each row of `logits` `[N, classes]`,
/// most probable first (softmax in double precision).
public func topClasses(_ logits: Tensor, k: Int) -> [[ClassScore]] {
    precondition(logits.rank == 2, "topClasses expects [N, classes], got \(logits.shape)")
    let classes = logits.shape[1]
    return (0..<logits.shape[0]).map { row in
        let scores = logits.data[row * classes ..< (row + 1) * classes].map(Double.init)
        let top = scores.max() ?? 0
        let exponentials = scores.map { exp($0 - top) }
        let total = exponentials.reduce(0, +)
        return exponentials.indices
            .sorted { exponentials[$0] > exponentials[$1] || (exponentials[$0] == exponentials[$1] && $0 < $1) }
            .prefix(k)
            .map { ClassScore(index: $0, probability: Float(exponentials[$0] / total)) }
    }
}
