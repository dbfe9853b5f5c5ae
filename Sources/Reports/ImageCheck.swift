import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Images

/// Checks that the files a report shows can be shown.
public enum ImageCheck {
    /// Why `data` does not decode as an image; nil when it does.
    public static func undecodable(_ data: Data, source: String) -> String? {
        do {
            _ = try Image(encoded: data, source: source)
            return nil
        } catch {
            return "does not decode (\(error))"
        }
    }

    /// Why `data` is not well-formed XML; nil when it is. (On Linux `parse()` can return true
    /// after an error, so `parserError` decides.)
    public static func malformedXML(_ data: Data) -> String? {
        let parser = XMLParser(data: data)
        let parsed = parser.parse()
        guard !parsed || parser.parserError != nil else { return nil }
        let code = (parser.parserError as NSError?)?.code
        return "XML error\(code.map { " \($0)" } ?? "") near line \(parser.lineNumber)"
    }

    /// The share (0…1) of the picture's pixels that have its most common colour: near 1 for
    /// a blank page. Colours are compared at 6 bits per channel, so JPEG-like noise and
    /// anti-aliasing on a plain background still count as that background.
    public static func dominantColourShare(ofImageAt url: URL) throws -> Double {
        let image = try Image(contentsOf: url, colorMode: .rgb)
        let plane = image.height * image.width
        let pixels = image.pixels.data
        var counts = [Int: Int]()
        for i in 0..<plane {
            let key = (Int(pixels[i]) >> 2) << 12 | (Int(pixels[plane + i]) >> 2) << 6 | Int(pixels[2 * plane + i]) >> 2
            counts[key, default: 0] += 1
        }
        return Double(counts.values.max() ?? 0) / Double(max(plane, 1))
    }
}
