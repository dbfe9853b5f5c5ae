import Foundation
import Tensors

/// Reader of the safetensors format: an 8-byte little-endian header length,
/// a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, …}`
/// (offsets relative to the end of the header), then raw little-endian data.
enum Safetensors {
    static func read(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [(String, StateDict.Entry)] {
        var cursor = ByteCursor(bytes, file: file)
        let headerLength = Int(clamping: try cursor.unsigned(8, "the safetensors header length"))
        let header = try cursor.take(headerLength, "the safetensors JSON header")
        let dataStart = cursor.position
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            throw WeightsError.malformed(file: file, detail: "safetensors header is not a JSON object")
        }
        var entries: [(begin: Int, key: String, entry: StateDict.Entry)] = []
        for (key, value) in json where key != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
                  offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], shape.allSatisfy({ $0 >= 0 }) else {
                throw WeightsError.malformed(file: file, detail: "key '\(key)': header entry lacks dtype, shape or data_offsets")
            }
            guard let element = ElementType(safetensors: dtype) else {
                entries.append((offsets[0], key, .unsupported("dtype \(dtype)")))
                continue
            }
            let count = shape.reduce(1, *)
            guard offsets[1] - offsets[0] == count * element.size else {
                throw WeightsError.malformed(
                    file: file, detail: "key '\(key)': \(offsets[1] - offsets[0]) bytes for \(count) \(dtype) elements")
            }
            guard offsets[1] <= bytes.count - dataStart else {
                throw WeightsError.truncated(
                    file: file, detail: "key '\(key)': data ends at byte \(dataStart + offsets[1]), file has \(bytes.count)")
            }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[dataStart + offsets[0] ..< dataStart + offsets[1]])
            switch element {
            case .int64:
                entries.append((offsets[0], key, .integer(shape: shape, values: ElementType.decodeInt64(raw))))
            case .float32, .float16, .bfloat16:
                entries.append((offsets[0], key, .float(Tensor(shape: shape, data: element.decodeFloats(raw)))))
            case .other:
                entries.append((offsets[0], key, .unsupported("dtype \(dtype)")))
            }
        }
        return entries.sorted { ($0.begin, $0.key) < ($1.begin, $1.key) }.map { ($0.key, $0.entry) }
    }
}
