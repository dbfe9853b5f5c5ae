/// The element type of stored tensor data, with its size in bytes.
///
/// Floating-point types decode to float32; `int64` is kept as integers
/// (`num_batches_tracked`); any other type is recognised only to name it in
/// an error and, in legacy torch files, to skip over its bytes.
enum ElementType: Equatable {
    case float32, float16, bfloat16, int64
    case other(name: String, size: Int)

    var size: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        case let .other(_, size): return size
        }
    }

    var name: String {
        switch self {
        case .float32: return "float32"
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .int64: return "int64"
        case let .other(name, _): return name
        }
    }

    /// A torch storage class name (`FloatStorage`, …), or nil if unknown.
    init?(torchStorage name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "DoubleStorage": self = .other(name: "float64", size: 8)
        case "IntStorage": self = .other(name: "int32", size: 4)
        case "ShortStorage": self = .other(name: "int16", size: 2)
        case "CharStorage": self = .other(name: "int8", size: 1)
        case "ByteStorage": self = .other(name: "uint8", size: 1)
        case "BoolStorage": self = .other(name: "bool", size: 1)
        case "ComplexFloatStorage": self = .other(name: "complex64", size: 8)
        case "ComplexDoubleStorage": self = .other(name: "complex128", size: 16)
        default: return nil
        }
    }

    /// A safetensors dtype string (`F32`, …), or nil if unknown.
    init?(safetensors name: String) {
        switch name {
        case "F32": self = .float32
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "I64": self = .int64
        case "F64", "C64", "U64": self = .other(name: name, size: 8)
        case "I32", "U32": self = .other(name: name, size: 4)
        case "I16", "U16": self = .other(name: name, size: 2)
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": self = .other(name: name, size: 1)
        default: return nil
        }
    }

    /// Little-endian floats of this type in `raw` → float32.
    func decodeFloats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        let count = raw.count / size
        switch self {
        case .float32:
            return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case .float16:
            return (0..<count).map { Self.floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .bfloat16:
            return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
        case .int64, .other:
            preconditionFailure("decodeFloats on \(name)")
        }
    }

    /// Little-endian int64 values in `raw`.
    static func decodeInt64(_ raw: UnsafeRawBufferPointer) -> [Int64] {
        (0..<raw.count / 8).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
    }

    /// IEEE 754 binary16 → binary32, exactly (subnormals, infinities and NaN included).
    static func floatFromHalf(_ half: UInt16) -> Float {
        let sign = UInt32(half & 0x8000) << 16
        let exponent = UInt32(half >> 10) & 0x1F
        let mantissa = UInt32(half & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}

/// Copies the elements of a strided view into row-major order.
///
/// `source` holds the view's elements from its first one on: element
/// `(i0, i1, …)` is `source[Σ ik · stride[k]]`.
func gatherStrided<T>(_ source: [T], size: [Int], stride: [Int]) -> [T] {
    let count = size.reduce(1, *)
    guard count > 0 else { return [] }
    if size.count == 0 { return [source[0]] }
    let contiguous = (0..<size.count).allSatisfy { axis in
        size[axis] == 1 || stride[axis] == size[(axis + 1)...].reduce(1, *)
    }
    if contiguous { return Array(source.prefix(count)) }
    var out = [T]()
    out.reserveCapacity(count)
    let last = size.count - 1
    var index = [Int](repeating: 0, count: last)
    while true {
        var base = 0
        for axis in 0..<last { base += index[axis] * stride[axis] }
        for j in 0..<size[last] { out.append(source[base + j * stride[last]]) }
        var axis = last - 1
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < size[axis] { break }
            index[axis] = 0
            axis -= 1
        }
        if axis < 0 { return out }
    }
}
