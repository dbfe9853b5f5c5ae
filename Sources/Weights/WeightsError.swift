/// Why a checkpoint could not be read, or a tensor could not be taken from it.
///
/// Every case names the file (`file`, as given to the loader) and, where one
/// is involved, the state-dict key.
public enum WeightsError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file ends before the data it announces.
    case truncated(file: String, detail: String)
    /// The bytes are not a well-formed checkpoint of the detected format.
    case malformed(file: String, detail: String)
    /// Well-formed content this loader does not handle (a dtype, a pickle
    /// opcode, a compressed zip entry, an object where a tensor is expected).
    case unsupported(file: String, key: String?, detail: String)
    /// The state dict has no entry named `key`.
    case missingKey(file: String, key: String)
    /// The entry `key` exists with another shape than the model needs.
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .truncated(file, detail):
            return "\(file): truncated: \(detail)"
        case let .malformed(file, detail):
            return "\(file): malformed: \(detail)"
        case let .unsupported(file, key, detail):
            return "\(file)\(key.map { ", key '\($0)'" } ?? ""): unsupported: \(detail)"
        case let .missingKey(file, key):
            return "\(file): no tensor named '\(key)'"
        case let .shapeMismatch(file, key, expected, found):
            return "\(file), key '\(key)': expected shape \(expected), found \(found)"
        }
    }
}
