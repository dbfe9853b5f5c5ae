import Foundation

/// A layer's weights in the form a kernel reads them (``Winograd3x3``'s transform, a 1×1
/// convolution's GEMM panels), made when the layer first runs: a network built whole but run
/// only to an early tap (WRN-50-2 to `layer3`) never transforms the later layers' weights
/// (`layer4`'s three 1024-channel 3×3 layers: 36 × 1024 × 1024 floats each, 432 MiB together),
/// nor faults in their pages. Shared by copies of the layer (``Conv2D/withPadding(_:)``); the
/// first caller makes it, concurrent ones wait for it.
final class LazyWeight<Value: Sendable>: @unchecked Sendable {
    private let make: @Sendable () -> Value
    private var made: Value?
    private let lock = NSLock()

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    var value: Value {
        lock.lock()
        defer { lock.unlock() }
        if let made { return made }
        let value = make()
        made = value
        return value
    }
}
