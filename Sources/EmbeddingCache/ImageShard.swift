import Checksums

/// Shard `index` of `count` of an image list (`trawl extract --shard I/N`, Slurm array tasks).
///
/// An image belongs to shard `h mod count`, where `h` is the first 8 bytes, big-endian, of
/// the SHA-256 of its id's UTF-8 bytes (`train/good/000.png`, `…#hflip` for augmented copies).
/// The assignment depends on the id alone: it is the same on every machine, whatever the
/// order or number of the other images, and the shards are about equally large.
public struct ImageShard: Codable, Hashable, Sendable, CustomStringConvertible {
    /// 0 ..< count.
    public var index: Int
    /// Number of shards, ≥ 1.
    public var count: Int

    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "shard \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// The shard of `id` among `count` shards.
    public static func index(of id: String, count: Int) -> Int {
        let digest = SHA256.hash(Array(id.utf8)).bytes
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(prefix % UInt64(count))
    }

    /// Whether `id` belongs to this shard.
    public func contains(_ id: String) -> Bool { Self.index(of: id, count: count) == index }

    /// `I/N`, as `trawl extract --shard` takes it.
    public var description: String { "\(index)/\(count)" }

    /// Parses `I/N` (0 ≤ I < N); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
              count >= 1, (0..<count).contains(index) else { return nil }
        self.init(index: index, count: count)
    }
}
