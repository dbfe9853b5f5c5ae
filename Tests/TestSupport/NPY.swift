import Foundation
import Tensors

/// A NumPy `.npy` array read from disk, for comparing against fixtures written by numpy.
///
/// Supports format versions 1–3, C order only, little-endian `float32`, `float64`, `int32`,
/// `int64`, `uint8` and `bool` element types — what `np.save` writes on the machines that
/// generate fixtures. Values are kept as stored; the accessors convert.
///
///     let expected = try NPYArray(contentsOf: fixturesDirectory.appendingPathComponent("x.npy"))
///     XCTAssertEqual(expected.shape, [3, 5, 7])
///     let values: [Float] = expected.floats
public struct NPYArray {
    /// The element type, named by its numpy descriptor.
    public enum ElementType: String, CaseIterable {
        case float32 = "<f4"
        case float64 = "<f8"
        case int32 = "<i4"
        case int64 = "<i8"
        case uint8 = "|u1"
        case bool = "|b1"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            case .uint8, .bool: return 1
            }
        }
    }

    /// The array's shape (empty for a scalar).
    public let shape: [Int]
    /// The element type.
    public let elementType: ElementType
    /// The elements' bytes, little-endian, C order.
    public let bytes: [UInt8]

    /// The number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }

    /// Reads an `.npy` file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw NPYError(path: url.path, reason: "cannot read file (\(error.localizedDescription))")
        }
        try self.init(data: [UInt8](data), path: url.path)
    }

    /// Parses the bytes of an `.npy` file; `path` only names the source in errors.
    public init(data: [UInt8], path: String = "<memory>") throws {
        func fail(_ reason: String) -> NPYError { NPYError(path: path, reason: reason) }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard data.count >= 10, Array(data[0..<6]) == magic else { throw fail("not an .npy file (bad magic)") }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("unsupported format version \(major)")
        }
        let dataStart = headerStart + headerLength
        guard data.count >= dataStart,
              let header = String(bytes: data[headerStart..<dataStart], encoding: major == 3 ? .utf8 : .isoLatin1)
        else { throw fail("truncated header") }

        guard let descr = Self.value(of: "descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) else {
            throw fail("header has no 'descr'")
        }
        // numpy writes single-byte types with '|'; accept '<' and '=' spellings of the same.
        let normalized = descr.hasSuffix("1") ? "|" + descr.dropFirst() : descr.replacingOccurrences(of: "=", with: "<")
        guard let elementType = ElementType(rawValue: normalized) else {
            throw fail("unsupported dtype \(descr) (supported: \(ElementType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let fortran = Self.value(of: "fortran_order", in: header) else { throw fail("header has no 'fortran_order'") }
        guard fortran == "False" else { throw fail("Fortran-ordered arrays are not supported") }
        guard let shapeText = Self.value(of: "shape", in: header) else { throw fail("header has no 'shape'") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for dim in dims {
            guard let n = Int(dim), n >= 0 else { throw fail("bad shape \(shapeText)") }
            shape.append(n)
        }
        let byteCount = shape.reduce(1, *) * elementType.size
        guard data.count - dataStart >= byteCount else {
            throw fail("truncated data: expected \(byteCount) bytes, found \(data.count - dataStart)")
        }
        self.shape = shape
        self.elementType = elementType
        self.bytes = Array(data[dataStart..<(dataStart + byteCount)])
    }

    /// The elements as `Double` (exact for every supported type except int64 beyond 2⁵³).
    public var doubles: [Double] {
        (0..<count).map { element(at: $0) }
    }

    /// The elements as `Float`.
    public var floats: [Float] {
        if elementType == .float32 {
            return (0..<count).map { Float(bitPattern: word32(at: $0 * 4)) }
        }
        return doubles.map { Float($0) }
    }

    /// The elements as `Int64`; floating-point elements are truncated toward zero.
    public var integers: [Int64] {
        switch elementType {
        case .int64: return (0..<count).map { Int64(bitPattern: word64(at: $0 * 8)) }
        case .int32: return (0..<count).map { Int64(Int32(bitPattern: word32(at: $0 * 4))) }
        case .uint8, .bool: return bytes.map { Int64($0) }
        case .float32, .float64: return doubles.map { Int64($0) }
        }
    }

    /// The array as a `Tensor` of the same shape (values converted to `Float`).
    public var tensor: Tensor { Tensor(shape: shape, data: floats) }

    private func element(at index: Int) -> Double {
        switch elementType {
        case .float32: return Double(Float(bitPattern: word32(at: index * 4)))
        case .float64: return Double(bitPattern: word64(at: index * 8))
        case .int32: return Double(Int32(bitPattern: word32(at: index * 4)))
        case .int64: return Double(Int64(bitPattern: word64(at: index * 8)))
        case .uint8, .bool: return Double(bytes[index])
        }
    }

    private func word32(at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private func word64(at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    /// The text after `'key':` in a header dictionary, up to the next top-level comma.
    private static func value(of key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
              let colon = header[keyRange.upperBound...].firstIndex(of: ":")
        else { return nil }
        var depth = 0
        var end = header.index(after: colon)
        while end < header.endIndex {
            let c = header[end]
            if c == "(" || c == "[" { depth += 1 }
            if c == ")" || c == "]" { depth -= 1 }
            if depth == 0 && (c == "," || c == "}") { break }
            end = header.index(after: end)
        }
        return header[header.index(after: colon)..<end].trimmingCharacters(in: .whitespaces)
    }
}

/// A `.npy` file that cannot be read, naming the file and the reason.
public struct NPYError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
