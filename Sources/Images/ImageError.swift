/// Why an image could not be read or written. The description names the file and the reason,
/// e.g. `data/x.png: truncated PNG data (libpng: unexpected end of data)`.
public struct ImageError: Error, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Equatable, Sendable {
        /// The file could not be opened or read.
        case unreadable
        /// The file has zero bytes.
        case empty
        /// The bytes are neither PNG nor JPEG.
        case unrecognizedFormat
        /// The data ended before the image did.
        case truncated
        /// The data is malformed (bad CRC, bad Huffman code, bad header, ...).
        case corrupt
        /// Valid but not handled (e.g. a CMYK JPEG).
        case unsupported
        /// Over the `ImageLimits` (pixels or aspect ratio), out of memory, or over 2 GiB decoded.
        case tooLarge
        /// An `ImageLimits` environment variable holds a value that is not allowed.
        case invalidLimit
        /// The file could not be written.
        case unwritable
    }

    /// The file (or other source) concerned.
    public let path: String
    /// The kind of failure.
    public let kind: Kind
    /// The reason in words.
    public let reason: String

    public init(path: String, kind: Kind, reason: String) {
        self.path = path
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
