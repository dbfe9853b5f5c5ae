import CHDF5
import Checksums
import Foundation
import HDF5
import Tensors

/// The rows of a written cache file, read one image at a time, each verified against its
/// CRC-32 as it is read: how a run (or a benchmark filling an index with millions of patch
/// rows) streams an image set's features while holding one image's at a time.
///
///     let rows = try cache.features(for: key, imageIDs: ids, specHash: hash, batchSize: 8,
///                                   extract: extract).rows
///     try rows.forEachRow(tap: "stride8") { index, maps in   // maps: [1, C, H, W], row `index`
///         index.add(patchRows(of: maps))
///     }
///
/// The file stays open, read-only, until the value is released; the key's lock is not held,
/// so other processes may use the key meanwhile (a file another process moves aside or
/// replaces is still read from the open file). Every call holds the HDF5 lock, so a value
/// may be used from any thread.
public final class CachedRows: @unchecked Sendable {
    /// The file read.
    public let url: URL
    /// Row order: row `i` holds the features of `imageIDs[i]`.
    public let imageIDs: [String]
    /// Tap → shape of one image's features (`[C, H, W]` maps or `[D]` vectors).
    public let rowShapes: [String: [Int]]
    /// Tap → CRC-32 of each row's float32 bytes, as written.
    private let checksums: [String: [UInt32]]
    private let file: hid_t

    /// Opens the file at `url` holding `imageIDs`' rows of the shapes and checksums given;
    /// throws `.corrupt` when it does not open or its stored checksums differ from them.
    init(url: URL, imageIDs: [String], rowShapes: [String: [Int]], checksums: [String: [UInt32]]) throws {
        self.url = url
        self.imageIDs = imageIDs
        self.rowShapes = rowShapes
        self.checksums = checksums
        file = try withHDF5 {
            do {
                let file = try openFile(url.path, writable: false)
                do {
                    for (tap, expected) in checksums {
                        guard try readUInt32s(file, "checksums/\(tap)") == expected else {
                            throw HDF5Failure(description: "checksums/\(tap) differs from the checksums written")
                        }
                    }
                } catch {
                    H5Fclose(file)
                    throw error
                }
                return file
            } catch let failure as HDF5Failure {
                throw EmbeddingCacheError.corrupt(url, failure.description)
            }
        }
    }

    deinit {
        withHDF5 { _ = H5Fclose(file) }
    }

    /// Row `index` of `tap`: `[1, …]` (the per-image shape after a leading 1). Throws
    /// `.corrupt` when it does not read or fails its CRC-32.
    public func row(_ index: Int, tap: String) throws -> Tensor {
        try rows(CollectionOfOne(index), tap: tap)
    }

    /// Rows `indices` of `tap`, in that order: `[indices.count, …]`.
    public func rows(_ indices: some Collection<Int>, tap: String) throws -> Tensor {
        guard let rowShape = rowShapes[tap], let expected = checksums[tap] else {
            throw EmbeddingCacheError.invalidKey("tap \(tap) is not in \(url.lastPathComponent)")
        }
        let rowSize = rowShape.reduce(1, *)
        var data = [Float]()
        data.reserveCapacity(indices.count * rowSize)
        for index in indices {
            precondition(imageIDs.indices.contains(index), "row \(index) of \(imageIDs.count)")
            let values = try withHDF5 {
                do {
                    return try readFloatRow(file, "features/\(tap)", index: index, count: rowSize)
                } catch let failure as HDF5Failure {
                    throw EmbeddingCacheError.corrupt(url, failure.description)
                }
            }
            let actual = values.withUnsafeBytes { CRC32.checksum($0) }
            guard actual == expected[index] else {
                throw EmbeddingCacheError.corrupt(url, "row \(index) (\(imageIDs[index])) of features/\(tap) fails its CRC-32 "
                                                  + "(stored \(String(expected[index], radix: 16)), read \(String(actual, radix: 16)))")
            }
            data += values
        }
        return Tensor(shape: [indices.count] + rowShape, data: data)
    }

    /// Calls `body` with every row of `tap` in row order (`[1, …]` each), one read at a time.
    public func forEachRow(tap: String, _ body: (Int, Tensor) throws -> Void) throws {
        for index in imageIDs.indices { try body(index, try row(index, tap: tap)) }
    }

    /// Reads every row of every tap and checks it against its CRC-32, keeping none.
    func verifyAll() throws {
        for tap in rowShapes.keys.sorted() { try forEachRow(tap: tap) { _, _ in } }
    }
}
