import CImageCodecs
import FileErrors
import Foundation
import Tensors

extension Image {
    /// Reads a PNG or JPEG file; the format is sniffed from the leading bytes, not the extension.
    ///
    /// PNG: 1/2/4/8/16-bit gray, gray + alpha, RGB, RGBA and palette (with tRNS), interlaced or
    /// not; stored sample values are kept (no gamma correction). JPEG: baseline and progressive,
    /// gray or YCbCr, decoded by libjpeg-turbo with its defaults (islow IDCT, fancy upsampling),
    /// which matches PIL. Alpha is dropped; EXIF orientation is not applied (PIL's `Image.open`
    /// does not apply it either). A JPEG whose entropy-coded data libjpeg finds damaged is an
    /// error, but JPEG carries no checksum, so some bit flips decode without complaint.
    ///
    /// `limits` (default: ``ImageLimits/fromEnvironment(_:)``) are checked from the header before
    /// any pixel is allocated; a file larger than an uncompressed image within them is not read.
    ///
    /// - Throws: `ImageError` naming `url`'s path for unreadable, empty, truncated, corrupt,
    ///   unsupported or too large files.
    public init(contentsOf url: URL, colorMode: ColorMode = .rgb, limits: ImageLimits? = nil) throws {
        let limits = try limits ?? ImageLimits.fromEnvironment()
        let data: Data
        do {
            let bytes = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            // 16-bit RGBA is 8 bytes a pixel; compression only shrinks that.
            let (ceiling, overflow) = limits.maxPixels.multipliedReportingOverflow(by: 8)
            if !overflow, bytes > ceiling + (1 << 20) {
                throw ImageError(path: url.path, kind: .tooLarge,
                                 reason: "the file is \(bytes) bytes, more than any image within the limit of "
                                 + "\(limits.maxPixels) pixels (set \(ImageLimits.maxPixelsVariable) to raise it)")
            }
            data = try Data(contentsOf: url)
        } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError(path: url.path, kind: .unreadable, reason: "cannot read file (\(FileErrorDescription.reason(error)))")
        }
        try self.init(encoded: data, source: url.path, colorMode: colorMode, limits: limits)
    }

    /// Decodes PNG or JPEG bytes; `source` names them in errors (usually a file path).
    public init(encoded data: Data, source: String, colorMode: ColorMode = .rgb, limits: ImageLimits? = nil) throws {
        let limits = try limits ?? ImageLimits.fromEnvironment()
        guard !data.isEmpty else { throw ImageError(path: source, kind: .empty, reason: "empty file") }
        let format = try EncodedFormat(sniffing: data, source: source)
        var decoded = ic_image()
        let status = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> ic_status in
            let base = bytes.bindMemory(to: UInt8.self).baseAddress!
            switch format {
            case .png: return ic_decode_png(base, bytes.count, limits.codecLimits, &decoded)
            case .jpeg: return ic_decode_jpeg(base, bytes.count, limits.codecLimits, &decoded)
            }
        }
        defer { ic_free(decoded.pixels) }
        if status == IC_OVER_LIMIT {
            try limits.check(width: Int(decoded.width), height: Int(decoded.height), source: source,
                             what: "the \(format.name)")
        }
        guard status == IC_OK else {
            let message = withUnsafeBytes(of: decoded.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ImageError(decodingFailure: status, format: format, message: message, source: source)
        }
        self = Image(decoded: decoded, colorMode: colorMode)
    }

    /// Converts interleaved 8- or 16-bit samples to planar floats, dropping alpha and applying
    /// `colorMode` on the integer samples before scaling to 0…255.
    private init(decoded: ic_image, colorMode: ColorMode) {
        let width = Int(decoded.width), height = Int(decoded.height)
        let stride = Int(decoded.channels)
        let plane = width * height
        let storedColors = stride <= 2 ? 1 : 3
        let outputChannels: Int
        switch colorMode {
        case .rgb: outputChannels = 3
        case .gray: outputChannels = 1
        case .original: outputChannels = storedColors
        }
        let sixteenBit = decoded.bit_depth == 16
        var values = [Float](repeating: 0, count: outputChannels * plane)
        values.withUnsafeMutableBufferPointer { out in
            let bytes = UnsafePointer<UInt8>(decoded.pixels!)
            func sample(_ pixel: Int, _ channel: Int) -> Double {
                let i = pixel * stride + channel
                return sixteenBit ? Double(UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1])) : Double(bytes[i])
            }
            for p in 0..<plane {
                switch (storedColors, outputChannels) {
                case (1, 1):
                    out[p] = Float(sample(p, 0))
                case (1, _):
                    let v = Float(sample(p, 0))
                    out[p] = v; out[plane + p] = v; out[2 * plane + p] = v
                case (_, 1):
                    out[p] = Float(luma(sample(p, 0), sample(p, 1), sample(p, 2)))
                default:
                    out[p] = Float(sample(p, 0)); out[plane + p] = Float(sample(p, 1)); out[2 * plane + p] = Float(sample(p, 2))
                }
            }
            if sixteenBit {
                for i in out.indices { out[i] = Float(Double(out[i]) * 255 / 65535) }
            }
        }
        self.init(pixels: Tensor(shape: [outputChannels, height, width], data: values))
    }
}

/// The container formats this module decodes, recognised by their signatures.
enum EncodedFormat {
    case png, jpeg

    init(sniffing data: Data, source: String) throws {
        let head = [UInt8](data.prefix(12))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if head.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else {
            let known: [(name: String, signature: [UInt8])] = [
                ("GIF", Array("GIF8".utf8)), ("BMP", Array("BM".utf8)),
                ("TIFF", [0x49, 0x49, 0x2A, 0x00]), ("TIFF", [0x4D, 0x4D, 0x00, 0x2A]),
                ("NumPy .npy", [0x93] + Array("NUMPY".utf8)),
            ]
            let name = known.first { head.starts(with: $0.signature) }?.name
                ?? (head.count >= 12 && head[0..<4] == ArraySlice("RIFF".utf8) && head[8..<12] == ArraySlice("WEBP".utf8) ? "WebP" : nil)
            let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            let what = name.map { "it looks like \($0)" } ?? "starts with bytes \(hex)"
            throw ImageError(path: source, kind: .unrecognizedFormat, reason: "not a PNG or JPEG file (\(what))")
        }
    }

    var name: String { self == .png ? "PNG" : "JPEG" }
    var library: String { self == .png ? "libpng" : "libjpeg" }
}

extension ImageError {
    init(decodingFailure status: ic_status, format: EncodedFormat, message: String, source: String) {
        let detail = "(\(format.library): \(message))"
        switch status {
        case IC_TRUNCATED:
            self.init(path: source, kind: .truncated, reason: "truncated \(format.name) data \(detail)")
        case IC_UNSUPPORTED:
            self.init(path: source, kind: .unsupported, reason: "unsupported \(format.name) \(detail)")
        case IC_NO_MEMORY:
            self.init(path: source, kind: .tooLarge, reason: "cannot decode \(format.name): too large \(detail)")
        default:
            self.init(path: source, kind: .corrupt, reason: "corrupt \(format.name) data \(detail)")
        }
    }
}
