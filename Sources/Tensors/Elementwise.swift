/// max(x, 0), elementwise.
public func relu(_ x: Tensor) -> Tensor {
    var y = x
    for i in 0..<y.count where y.data[i] < 0 { y.data[i] = 0 }
    return y
}

/// min(max(x, 0), 6), elementwise.
public func relu6(_ x: Tensor) -> Tensor {
    var y = x
    for i in 0..<y.count { y.data[i] = min(max(y.data[i], 0), 6) }
    return y
}

/// a + b, elementwise; the shapes must be equal.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add of shapes \(a.shape) and \(b.shape)")
    var y = a
    for i in 0..<y.count { y.data[i] += b.data[i] }
    return y
}

/// Concatenation along the channel axis: `[N, Ci, H, W]` → `[N, ΣCi, H, W]`.
public func concatChannels(_ xs: [Tensor]) -> Tensor {
    precondition(!xs.isEmpty, "concatenation of no tensors")
    let (n, h, w) = (xs[0].shape[0], xs[0].shape[2], xs[0].shape[3])
    for x in xs {
        precondition(x.rank == 4 && x.shape[0] == n && x.shape[2] == h && x.shape[3] == w,
                     "concatenation of \(xs[0].shape) and \(x.shape)")
    }
    let channels = xs.reduce(0) { $0 + $1.shape[1] }
    var data = [Float]()
    data.reserveCapacity(n * channels * h * w)
    for image in 0..<n {
        for x in xs {
            let size = x.shape[1] * h * w
            data.append(contentsOf: x.data[image * size ..< (image + 1) * size])
        }
    }
    return Tensor(shape: [n, channels, h, w], data: data)
}
