#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why a lock file could not be opened or locked.
public struct FileLockError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}

/// An exclusive advisory lock (`flock(2)`) on a lock file, shared between processes: held
/// from `init` until `release()` (or until the process ends, however it ends — the kernel
/// drops the lock with the last descriptor).
///
/// The lock file is created when absent and never deleted (deleting it would let two
/// processes lock two different files of one name). While held it contains the holder's
/// PID in decimal, so that a process that has to wait can say for whom.
/// Within one process a second lock on a held file throws instead of waiting forever.
public final class FileLock {
    public let url: URL
    private var descriptor: Int32
    /// Whether `descriptor` holds the lock (and the file our PID).
    private var isLocked = false

    /// Paths this process holds (flock conflicts between descriptors of one process too).
    private static var held = Set<String>()
    private static let heldLock = NSLock()

    /// Takes the lock on `url`, waiting as long as another holder keeps it. Before waiting,
    /// `waiting` is called once with the holder's PID (nil when the file does not say).
    public init(_ url: URL, waiting: (_ holder: Int32?) -> Void) throws {
        self.url = url.standardizedFileURL
        let path = self.url.path
        let inserted = Self.heldLock.withLock { Self.held.insert(path).inserted }
        guard inserted else {
            descriptor = -1
            throw FileLockError(path: path, reason: "already locked by this process")
        }
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            Self.heldLock.withLock { _ = Self.held.remove(path) }
            throw FileLockError(path: path, reason: "cannot open lock file (\(reason))")
        }
        do {
            let acquired = try Self.lock(descriptor, url, blocking: false)
            if !acquired {
                waiting(Self.holder(descriptor))
                _ = try Self.lock(descriptor, url, blocking: true)
            }
            isLocked = true
            let pid = Array("\(getpid())\n".utf8)
            guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, pid, pid.count, 0) == pid.count else {
                throw FileLockError(path: url.path, reason: "cannot write the PID (\(String(cString: strerror(errno))))")
            }
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    /// Drops the lock (and leaves the file). Idempotent.
    public func release() {
        guard descriptor >= 0 else { return }
        if isLocked { _ = ftruncate(descriptor, 0) }
        isLocked = false
        close(descriptor)
        descriptor = -1
        Self.heldLock.withLock { _ = Self.held.remove(url.path) }
    }

    /// `flock(LOCK_EX)`, retried on EINTR; false when `blocking` is false and another
    /// holder has it.
    private static func lock(_ descriptor: Int32, _ url: URL, blocking: Bool) throws -> Bool {
        while flock(descriptor, LOCK_EX | (blocking ? 0 : LOCK_NB)) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK && !blocking { return false }
            throw FileLockError(path: url.path, reason: "cannot lock (\(String(cString: strerror(errno))))")
        }
        return true
    }

    /// The PID the current holder wrote into the file, if it parses.
    private static func holder(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Whether process `pid` exists on this machine (a PID left in a stale file name or lock
/// file may belong to a process that is gone).
public func processIsAlive(_ pid: Int32) -> Bool {
    pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
}
