import CDistanceKernels

/// Two workers for many short jobs in a row (the greedy coreset's rounds): the calling thread
/// and one helper thread, started once and handed each job through a counter it spins on for up
/// to 50 µs before it sleeps, so a job costs a cache-line transfer rather than a thread wake-up.
/// A job is a list of pieces; the caller takes them from the front and the helper from the
/// back, so when both run at the same speed each does its own half, and when other work keeps
/// the helper off the CPUs the caller takes its pieces too instead of waiting. Where this
/// process may use only one CPU (its affinity mask), no thread is started and the caller runs
/// every piece. A piece's result must not depend on which thread ran it.
final class WorkerPair {
    private let helper: OpaquePointer?

    /// `startsHelper` false runs every piece on the calling thread.
    init(startsHelper: Bool = true) {
        helper = startsHelper && trawl_available_cpus() > 1 ? trawl_helper_thread_start() : nil
    }

    deinit {
        if let helper { trawl_helper_thread_stop(helper) }
    }

    /// Runs `piece(i)` once for every `i` in `0..<count`, at the same time on both threads where
    /// there is a helper (pieces must not write the same memory), and returns when all have returned.
    func run(pieces count: Int, _ piece: (Int) -> Void) {
        guard let helper, count > 1 else {
            for i in 0..<count { piece(i) }
            return
        }
        precondition(count <= Int(TRAWL_HELPER_MAX_PIECES), "\(count) pieces in one job")
        withoutActuallyEscaping(piece) { piece in
            var piece = piece
            withUnsafeMutablePointer(to: &piece) { context in
                trawl_helper_thread_run(helper, count, { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, context)
            }
        }
    }
}
