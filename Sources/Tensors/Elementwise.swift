/// The elementwise function a convolution applies to each output as it writes it,
/// after the bias (fused, instead of a second pass over the tensor).
public enum Activation: Sendable {
    case identity
    /// max(x, 0).
    case relu
    /// min(max(x, 0), 6).
    case relu6

    @inline(__always)
    func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        }
    }

    @inline(__always)
    func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> {
        switch self {
        case .identity: return x
        case .relu: return x.replacing(with: 0, where: x .< 0)
        case .relu6: return x.replacing(with: 0, where: x .< 0).replacing(with: 6, where: x .> 6)
        }
    }

    /// The activation as a clamp to `lower...upper` (±infinity where it has no bound), for
    /// loops that hoist the choice out of their body: ``clamp(_:lower:upper:)`` to these bounds
    /// gives the bits that the SIMD `callAsFunction` gives.
    var bounds: (lower: SIMD8<Float>, upper: SIMD8<Float>) {
        switch self {
        case .identity: return (SIMD8(repeating: -.infinity), SIMD8(repeating: .infinity))
        case .relu: return (SIMD8(repeating: 0), SIMD8(repeating: .infinity))
        case .relu6: return (SIMD8(repeating: 0), SIMD8(repeating: 6))
        }
    }
}

extension Activation {
    /// `y[p] = activation(x[p] + bias)` for `count` floats from `x` to `y` (which may be `x`),
    /// eight at a time (no addition where `bias` is nil): the pass a convolution makes over a
    /// GEMM's output. With an `ending` (its shortcut at `y`'s offset), then
    /// `y[p] = ending.activation(y[p] + ending.shortcut[p])` in the same pass.
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, adding bias: Float?,
               ending: ResidualEnding? = nil) {
        typealias Lanes = SIMD8<Float>
        let (lower, upper) = bounds
        let (finalLower, finalUpper) = ending?.activation.bounds ?? bounds
        let vectorEnd = count / Lanes.scalarCount * Lanes.scalarCount
        for p in Swift.stride(from: 0, to: vectorEnd, by: Lanes.scalarCount) {
            var value = UnsafeRawPointer(x + p).loadUnaligned(as: Lanes.self)
            if let bias { value += bias }
            value = clamp(value, lower: lower, upper: upper)
            if let ending {
                value = clamp(value + UnsafeRawPointer(ending.shortcut + p).loadUnaligned(as: Lanes.self),
                              lower: finalLower, upper: finalUpper)
            }
            UnsafeMutableRawPointer(y + p).storeBytes(of: value, as: Lanes.self)
        }
        for p in vectorEnd..<count {
            let value = self(bias.map { x[p] + $0 } ?? x[p])
            y[p] = ending.map { $0(value, at: p) } ?? value
        }
    }
}

/// What a convolution does after its activation, as it writes each output: add the
/// `[N, O, H', W']` tensor at `shortcut` (the output's shape), then apply `activation` (a
/// residual block's shortcut and last ReLU, without another pass over the tensor).
struct ResidualEnding {
    let shortcut: UnsafePointer<Float>
    let activation: Activation

    /// The same ending for the outputs from `offset` on.
    func advanced(by offset: Int) -> ResidualEnding {
        ResidualEnding(shortcut: shortcut + offset, activation: activation)
    }

    /// `activation(value + shortcut[offset])`.
    @inline(__always)
    func callAsFunction(_ value: Float, at offset: Int) -> Float { activation(value + shortcut[offset]) }

    /// `activation(values + shortcut[offset ..< offset + 4])`, clamped as the SIMD activation clamps.
    @inline(__always)
    func callAsFunction(_ values: SIMD4<Float>, at offset: Int) -> SIMD4<Float> {
        let (lower, upper) = activation.bounds
        let sum = values + UnsafeRawPointer(shortcut + offset).loadUnaligned(as: SIMD4<Float>.self)
        return sum.replacing(with: lower.lowHalf, where: sum .< lower.lowHalf)
            .replacing(with: upper.lowHalf, where: sum .> upper.lowHalf)
    }
}

/// `x` with the values below `lower` replaced by `lower`'s, then those above `upper` by `upper`'s.
/// Concrete on purpose (``ResidualEnding`` has its four-lane twin): written generic over `SIMD`,
/// it made EfficientNet-Lite0 take 102.5 instead of 14.9 ms CPU per image.
@inline(__always)
func clamp(_ x: SIMD8<Float>, lower: SIMD8<Float>, upper: SIMD8<Float>) -> SIMD8<Float> {
    x.replacing(with: lower, where: x .< lower).replacing(with: upper, where: x .> upper)
}

/// max(x, 0), elementwise, in place.
public func relu(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = max(p[i], 0) }
    }
}

/// min(max(x, 0), 6), elementwise, in place.
public func relu6(_ x: inout Tensor) {
    x.data.withUnsafeMutableBufferPointer { p in
        for i in p.indices { p[i] = min(max(p[i], 0), 6) }
    }
}

/// x += y, elementwise, in place; the shapes must be equal (residual connections).
public func add(_ x: inout Tensor, _ y: Tensor) {
    precondition(x.shape == y.shape, "add of shapes \(x.shape) and \(y.shape)")
    x.data.withUnsafeMutableBufferPointer { p in
        y.data.withUnsafeBufferPointer { q in
            for i in p.indices { p[i] += q[i] }
        }
    }
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
