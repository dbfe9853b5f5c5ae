/// A dense float32 array, contiguous in row-major (C) order.
///
/// Image batches use `[N, C, H, W]`; single images `[C, H, W]`; feature
/// matrices `[N, D]`. The element at index `(i0, i1, …)` lives at
/// `data[((i0 * shape[1] + i1) * shape[2] + …)]`.
public struct Tensor: Equatable, Sendable {
    /// Extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements, `shape.reduce(1, *)` of them.
    public var data: [Float]

    /// Wraps `data` with `shape`; the counts must agree.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(shape.reduce(1, *) == data.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, data has \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    public var count: Int { data.count }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// The `index`-th slice along the first axis: `[N, …]` → `[…]`.
    public func slice(_ index: Int) -> Tensor {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "slice \(index) out of \(shape)")
        let inner = Array(shape.dropFirst())
        let size = inner.reduce(1, *)
        return Tensor(shape: inner, data: Array(data[index * size ..< (index + 1) * size]))
    }

    /// Stacks equally shaped tensors along a new first axis: `k × […]` → `[k, …]`.
    public static func stack(_ tensors: [Tensor]) -> Tensor {
        precondition(!tensors.isEmpty, "stack of no tensors")
        let inner = tensors[0].shape
        var data = [Float]()
        data.reserveCapacity(tensors.count * tensors[0].count)
        for tensor in tensors {
            precondition(tensor.shape == inner, "stack of shapes \(inner) and \(tensor.shape)")
            data.append(contentsOf: tensor.data)
        }
        return Tensor(shape: [tensors.count] + inner, data: data)
    }

    /// Largest absolute element, 0 for an empty tensor.
    public var maxMagnitude: Float {
        data.reduce(0) { max($0, abs($1)) }
    }
}
