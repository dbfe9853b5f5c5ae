/// Sequential little-endian reads from a byte buffer, throwing
/// ``WeightsError/truncated(file:detail:)`` instead of reading past the end.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    var position: Int
    /// The file the bytes come from, for error messages.
    let file: String

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0, file: String) {
        self.bytes = bytes
        self.position = position
        self.file = file
    }

    var isAtEnd: Bool { position >= bytes.count }

    /// Checks that `count` more bytes exist, naming `what` otherwise.
    func require(_ count: Int, for what: @autoclosure () -> String) throws {
        guard count >= 0, position <= bytes.count - count else {
            throw WeightsError.truncated(
                file: file, detail: "\(what()) needs \(count) bytes at offset \(position), file has \(bytes.count)")
        }
    }

    mutating func byte(_ what: @autoclosure () -> String = "a byte") throws -> UInt8 {
        try require(1, for: what())
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned little-endian integer of `width` bytes (at most 8).
    mutating func unsigned(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try require(width, for: what())
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += width
        return value
    }

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try require(count, for: what())
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
    }

    /// Bytes up to (not including) the next newline, which is consumed.
    mutating func line(_ what: @autoclosure () -> String) throws -> String {
        var end = position
        while end < bytes.count && bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else {
            throw WeightsError.truncated(file: file, detail: "\(what()) has no terminating newline")
        }
        defer { position = end + 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position ..< end]), as: UTF8.self)
    }
}
