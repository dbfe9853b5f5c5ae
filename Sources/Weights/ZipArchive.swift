/// The entries of a zip archive whose members are stored uncompressed, as
/// `torch.save` writes them: name → byte range of the member's data.
///
/// Reads the central directory (found through the end-of-central-directory
/// record) and each member's local header for the data offset. ZIP64
/// archives (members or archives beyond 4 GiB) are reported as unsupported.
struct ZipArchive {
    /// Member name → range of its data in the archive's bytes.
    let entries: [String: Range<Int>]
    /// Member names in central-directory order.
    let names: [String]

    init(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        let endRecordSize = 22
        guard bytes.count >= endRecordSize else {
            throw WeightsError.truncated(file: file, detail: "\(bytes.count) bytes cannot hold a zip directory")
        }
        // The end record sits at the very end, followed by a comment of up to 65535 bytes.
        var end = bytes.count - endRecordSize
        let lowest = max(0, bytes.count - endRecordSize - 65535)
        while end >= lowest && Self.signature(bytes, at: end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest else {
            throw WeightsError.truncated(file: file, detail: "no zip end-of-central-directory record (file cut short?)")
        }
        var cursor = ByteCursor(bytes, position: end + 10, file: file)
        let count = Int(try cursor.unsigned(2, "the zip entry count"))
        _ = try cursor.unsigned(4, "the zip directory size")
        let directoryOffset = Int(try cursor.unsigned(4, "the zip directory offset"))
        guard count != 0xFFFF, directoryOffset != 0xFFFF_FFFF else {
            throw WeightsError.unsupported(file: file, key: nil, detail: "ZIP64 archives")
        }

        var entries: [String: Range<Int>] = [:]
        var names: [String] = []
        cursor.position = directoryOffset
        for _ in 0..<count {
            guard try cursor.unsigned(4, "a zip directory entry") == 0x0201_4B50 else {
                throw WeightsError.malformed(file: file, detail: "bad zip directory entry at offset \(cursor.position - 4)")
            }
            cursor.position += 6
            let method = try cursor.unsigned(2, "a zip compression method")
            cursor.position += 8
            let compressedSize = Int(try cursor.unsigned(4, "a zip entry size"))
            let size = Int(try cursor.unsigned(4, "a zip entry size"))
            let nameLength = Int(try cursor.unsigned(2, "a zip name length"))
            let extraLength = Int(try cursor.unsigned(2, "a zip extra length"))
            let commentLength = Int(try cursor.unsigned(2, "a zip comment length"))
            cursor.position += 8
            let localOffset = Int(try cursor.unsigned(4, "a zip local header offset"))
            let name = String(decoding: try cursor.take(nameLength, "a zip entry name"), as: UTF8.self)
            cursor.position += extraLength + commentLength
            guard size != 0xFFFF_FFFF, compressedSize != 0xFFFF_FFFF, localOffset != 0xFFFF_FFFF else {
                throw WeightsError.unsupported(file: file, key: name, detail: "ZIP64 entries")
            }
            guard method == 0, compressedSize == size else {
                throw WeightsError.unsupported(file: file, key: name, detail: "compressed zip entry (method \(method))")
            }
            // The local header repeats name and extra field, with its own lengths.
            var local = ByteCursor(bytes, position: localOffset, file: file)
            guard try local.unsigned(4, "a zip local header") == 0x0403_4B50 else {
                throw WeightsError.malformed(file: file, detail: "bad zip local header for \(name)")
            }
            local.position += 22
            let localName = Int(try local.unsigned(2, "a zip local name length"))
            let localExtra = Int(try local.unsigned(2, "a zip local extra length"))
            let start = local.position + localName + localExtra
            guard start <= bytes.count - size else {
                throw WeightsError.truncated(file: file, detail: "zip entry \(name) (\(size) bytes at offset \(start)) runs past the end")
            }
            entries[name] = start ..< start + size
            names.append(name)
        }
        self.entries = entries
        self.names = names
    }

    private static func signature(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}
