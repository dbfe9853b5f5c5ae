#if canImport(Glibc)
import Glibc
#endif

/// Working memory one thread reuses from call to call (im2col's patch matrix,
/// Winograd's transformed input and products), so a forward pass does not fault in
/// and zero fresh pages for every layer. Grown to the largest request, never shrunk;
/// freed when its thread exits. A caller must be done with the buffer before it
/// calls anything that asks for it again on the same thread.
final class ThreadScratch {
    private var storage: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// At least `count` floats, uninitialised.
    func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || storage == nil {
            storage?.deallocate()
            storage = .allocate(capacity: max(count, 1))
            capacity = max(count, 1)
        }
        return storage!
    }

    deinit { storage?.deallocate() }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { $0.map { Unmanaged<ThreadScratch>.fromOpaque($0).release() } }
        return key
    }()

    /// This thread's scratch, created on first use.
    static var forCurrentThread: ThreadScratch {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<ThreadScratch>.fromOpaque(existing).takeUnretainedValue()
        }
        let scratch = ThreadScratch()
        pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
        return scratch
    }
}
