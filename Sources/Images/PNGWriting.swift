import CImageCodecs
import FileErrors
import Foundation
import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Image {
    /// PNG bytes for this image: 8-bit gray or RGB, values rounded to the nearest level and
    /// clipped to 0…255.
    public func pngData() throws -> Data {
        let plane = height * width
        var interleaved = [UInt8](repeating: 0, count: plane * channels)
        pixels.data.withUnsafeBufferPointer { values in
            for c in 0..<channels {
                for i in 0..<plane {
                    interleaved[i * channels + c] = UInt8(min(max(values[c * plane + i].rounded(), 0), 255))
                }
            }
        }
        var png: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(IC_MESSAGE_LENGTH))
        let status = ic_encode_png(interleaved, Int32(width), Int32(height), Int32(channels), &png, &size, &message)
        defer { ic_free(png) }
        guard status == IC_OK, let png else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError(path: "<PNG encoder>", kind: .unwritable, reason: "cannot encode PNG (libpng: \(reason))")
        }
        return Data(bytes: png, count: size)
    }

    /// Writes this image as an 8-bit PNG (see `pngData()`), atomically: the bytes go to a
    /// temporary file beside `url`, which is then renamed over it.
    public func writePNG(to url: URL) throws {
        let data: Data
        do {
            data = try pngData()
        } catch let error as ImageError {
            throw ImageError(path: url.path, kind: error.kind, reason: error.reason)
        }
        try writeAtomically(data, to: url)
    }
}

/// Writes `data` to a temporary file in `url`'s directory and renames it to `url`.
func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
    do {
        try data.write(to: temporary)
    } catch {
        throw ImageError(path: url.path, kind: .unwritable, reason: "cannot write (\(FileErrorDescription.reason(error)))")
    }
    guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw ImageError(path: url.path, kind: .unwritable, reason: "cannot rename temporary file into place (\(reason))")
    }
}
