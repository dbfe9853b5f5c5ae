#if canImport(Glibc)
import Glibc
#endif

/// Activation arrays one thread hands back and reuses within a forward pass, so a layer's output
/// lands on pages an earlier layer already faulted in instead of fresh ones that the kernel maps
/// and zeroes (glibc serves arrays of 128 KiB and more by `mmap` and unmaps them when freed).
///
/// Installed on a thread for the span of ``withPool(_:)`` only, so nothing is held between calls:
/// a backbone installs one while a core runs its group of images. Layers that write every element
/// of their output take it from ``uninitializedTensor(shape:)``; code that is done with a tensor it
/// made gives it back with ``recycle(_:)``. Only arrays of exactly the requested count are reused
/// (a network repeats its activation shapes block after block); a request the pool cannot serve
/// frees every spare before allocating, and at most ``capacity`` arrays are held (the oldest
/// dropped first), so the pool never raises a pass's peak memory.
///
/// Reuse cannot change results: a pooled array's old elements are all overwritten, and an array
/// still referenced elsewhere is copied by Swift's copy-on-write when written, not overwritten in
/// place (a recycling mistake costs that copy, never a wrong value).
public final class ActivationPool {
    /// Most arrays held at a time (a bottleneck block's two intermediates, its input and its shortcut).
    static let capacity = 4

    /// Spare arrays, the most recently given back last.
    private var spares: [[Float]] = []

    private init() {}

    /// `body` with a pool installed on this thread, dropped (with every array it holds) when
    /// `body` returns; a pool installed around this call is restored after.
    public static func withPool<R>(_ body: () throws -> R) rethrows -> R {
        let outer = pthread_getspecific(key)
        let pool = ActivationPool()
        pthread_setspecific(key, Unmanaged.passUnretained(pool).toOpaque())
        defer {
            pthread_setspecific(key, outer)
            withExtendedLifetime(pool) {}
        }
        return try body()
    }

    /// Gives `tensor`'s array to this thread's pool, if one is installed, for a later output of the
    /// same count. Pass only a tensor nothing else will read (`consume` the last binding to it): an
    /// array still referenced is copied when it is reused.
    public static func recycle(_ tensor: consuming Tensor) {
        guard let pool = current, tensor.count > 0 else { return }
        if pool.spares.count == capacity { pool.spares.removeFirst() }
        pool.spares.append(tensor.data)
    }

    /// A tensor of `shape` whose elements are unspecified (the caller writes every one): a spare
    /// array of the same count from this thread's pool when it holds one, else a fresh array.
    static func uninitializedTensor(shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        if let pool = current {
            if let index = pool.spares.lastIndex(where: { $0.count == count }) {
                return Tensor(shape: shape, data: pool.spares.remove(at: index))
            }
            // Freed before the fresh array is allocated, so malloc can place it on their pages
            // and the pool never holds memory while the pass's memory grows.
            pool.spares.removeAll()
        }
        return Tensor(shape: shape, data: [Float](unsafeUninitializedCapacity: count) { _, initialized in
            initialized = count
        })
    }

    /// This thread's installed pool, or nil.
    private static var current: ActivationPool? {
        pthread_getspecific(key).map { Unmanaged<ActivationPool>.fromOpaque($0).takeUnretainedValue() }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
