import CChecksums
import Foundation

/// SHA-256 (FIPS 180-4), incremental: feed bytes with `update`, then read `finalize()`.
///
///     var hash = SHA256()
///     hash.update(Array("abc".utf8))
///     hash.finalize().hex  // "ba7816bf…"
///
/// `SHA256.hexDigest(ofFileAt:)` streams a file through a fixed 1 MiB buffer. Whole blocks run
/// through the processor's SHA extensions (x86 SHA-NI) where it has them, about 6× the speed
/// of the portable Swift rounds (which are used elsewhere); the digest is the same.
public struct SHA256 {
    /// A finished 32-byte digest.
    public struct Digest: Equatable, Sendable, CustomStringConvertible {
        public let bytes: [UInt8]
        /// Lower-case hexadecimal, as `sha256sum` prints it.
        public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
        public var description: String { hex }
    }

    private var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    /// Bytes waiting for a full 64-byte block.
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0

    /// Whether whole blocks go through the SHA extensions (false: the Swift rounds).
    private let usesProcessorInstructions: Bool

    public init() {
        self.init(usingProcessorInstructions: Self.processorHasInstructions)
    }

    /// Chooses the compression path: tests compare the two.
    init(usingProcessorInstructions: Bool) {
        precondition(!usingProcessorInstructions || Self.processorHasInstructions,
                     "this processor lacks the SHA extensions")
        usesProcessorInstructions = usingProcessorInstructions
    }

    /// Whether this processor has the SHA extensions the fast path uses.
    static let processorHasInstructions = trawl_sha256_has_instructions() != 0

    /// Appends `bytes` to the message.
    public mutating func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// Appends the bytes in `buffer` to the message.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        totalBytes &+= UInt64(buffer.count)
        var rest = buffer[...]
        if !pending.isEmpty {
            let needed = 64 - pending.count
            pending.append(contentsOf: rest.prefix(needed))
            rest = rest.dropFirst(needed)
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
            pending.removeAll(keepingCapacity: true)
        }
        let blocks = rest.count / 64
        if blocks > 0 {
            compress(buffer.baseAddress! + rest.startIndex, blocks: blocks)
            rest = rest.dropFirst(64 * blocks)
        }
        pending.append(contentsOf: rest)
    }

    /// Pads the message and returns its digest.
    public func finalize() -> Digest {
        var copy = self
        let bitLength = totalBytes &* 8
        var tail = pending + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        tail += (0..<8).reversed().map { UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64($0))) }
        tail.withUnsafeBytes { copy.compress($0.baseAddress!, blocks: $0.count / 64) }
        return Digest(bytes: copy.state.flatMap { word in (0..<4).reversed().map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } })
    }

    /// The digest of `bytes`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hash = SHA256()
        hash.update(bytes)
        return hash.finalize()
    }

    /// The hex digest of a file, read in 1 MiB chunks (memory use does not grow with file size).
    public static func hexDigest(ofFileAt url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(chunk)
        }
        return hash.finalize().hex
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// Processes the `blocks` consecutive 64-byte blocks at `start`.
    private mutating func compress(_ start: UnsafeRawPointer, blocks: Int) {
        if usesProcessorInstructions {
            state.withUnsafeMutableBufferPointer {
                trawl_sha256_blocks($0.baseAddress!, start.assumingMemoryBound(to: UInt8.self), blocks)
            }
        } else {
            for block in 0..<blocks { compressInSwift(start + 64 * block) }
        }
    }

    /// Processes the 64-byte block at `block` with the portable Swift rounds.
    private mutating func compressInSwift(_ block: UnsafeRawPointer) {
        var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
            }
            for t in 16..<64 {
                let s0 = Self.rotr(w[t - 15], 7) ^ Self.rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                let s1 = Self.rotr(w[t - 2], 17) ^ Self.rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            let k = trawl_sha256_round_constants()!  // FIPS 180-4's K, shared with the SHA-extension path
            for t in 0..<64 {
                let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = h &+ s1 &+ choice &+ k[t] &+ w[t]
                let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ s0 &+ majority)
            }
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
}
