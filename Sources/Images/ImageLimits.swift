import CImageCodecs
import Foundation

/// Bounds that keep a small hostile file from taking huge memory: a 856 KB PNG can declare
/// 30000 × 30000 pixels, and a 5000 × 1 strip resized to a shorter side of 224 becomes
/// 1.12 million pixels wide. Decoding checks the header against them before allocating any
/// pixel; resizing checks its result (``checkResize(width:height:shorterSide:source:)``).
public struct ImageLimits: Sendable, Equatable {
    /// Most pixels (width × height) a decoded or resized image may have.
    public var maxPixels: Int
    /// Largest ratio of an image's longer side to its shorter side.
    public var maxAspectRatio: Double

    public init(maxPixels: Int = ImageLimits.defaultMaxPixels, maxAspectRatio: Double = ImageLimits.defaultMaxAspectRatio) {
        self.maxPixels = maxPixels
        self.maxAspectRatio = maxAspectRatio
    }

    /// 64 megapixels (e.g. 9500 × 6700): a decoded RGB image of this size holds 768 MB of floats.
    public static let defaultMaxPixels = 64_000_000
    /// 20 : 1.
    public static let defaultMaxAspectRatio = 20.0
    /// Environment variables that override the defaults.
    public static let maxPixelsVariable = "TRAWL_MAX_IMAGE_PIXELS"
    public static let maxAspectRatioVariable = "TRAWL_MAX_IMAGE_ASPECT_RATIO"

    /// The defaults, overridden by `TRAWL_MAX_IMAGE_PIXELS` (a positive integer) and
    /// `TRAWL_MAX_IMAGE_ASPECT_RATIO` (a number ≥ 1) when set.
    ///
    /// - Throws: `ImageError` (kind `.invalidLimit`) naming the variable when its value is not allowed.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> ImageLimits {
        var limits = ImageLimits()
        if let text = environment[maxPixelsVariable] {
            guard let value = Int(text), value >= 1 else {
                throw ImageError(path: maxPixelsVariable, kind: .invalidLimit,
                                 reason: "\"\(text)\" is not allowed; expected a positive integer (pixels)")
            }
            limits.maxPixels = value
        }
        if let text = environment[maxAspectRatioVariable] {
            guard let value = Double(text), value.isFinite, value >= 1 else {
                throw ImageError(path: maxAspectRatioVariable, kind: .invalidLimit,
                                 reason: "\"\(text)\" is not allowed; expected a number ≥ 1")
            }
            limits.maxAspectRatio = value
        }
        return limits
    }

    var codecLimits: ic_limits { ic_limits(max_pixels: maxPixels, max_aspect_ratio: maxAspectRatio) }

    /// Throws the error for a `width × height` image of `source` that breaks these limits.
    func check(width: Int, height: Int, source: String, what: String = "image") throws {
        let (shorter, longer) = (min(width, height), max(width, height))
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maxPixels {
            throw ImageError(path: source, kind: .tooLarge,
                             reason: "\(what) is \(width)×\(height) = \(megapixels(overflow ? Int.max : pixels)) megapixels, "
                             + "over the limit of \(megapixels(maxPixels)) (set \(Self.maxPixelsVariable) to raise it)")
        }
        if Double(longer) > maxAspectRatio * Double(max(shorter, 1)) {
            throw ImageError(path: source, kind: .tooLarge,
                             reason: "\(what) is \(width)×\(height), an aspect ratio of "
                             + "\(String(format: "%.1f", Double(longer) / Double(max(shorter, 1)))) : 1, over the limit of "
                             + "\(String(format: "%g", maxAspectRatio)) : 1 (set \(Self.maxAspectRatioVariable) to raise it)")
        }
    }

    /// Throws unless resizing a `width × height` image of `source` so its shorter side is
    /// `shorterSide` (``Image/resized(shorterSide:filter:)``) stays within `maxPixels`.
    public func checkResize(width: Int, height: Int, shorterSide: Int, source: String) throws {
        let size = Image.shorterSideSize(width: width, height: height, shorterSide: shorterSide)
        let (pixels, overflow) = size.width.multipliedReportingOverflow(by: size.height)
        guard overflow || pixels > maxPixels else { return }
        throw ImageError(path: source, kind: .tooLarge,
                         reason: "the \(width)×\(height) image resized to a shorter side of \(shorterSide) would be "
                         + "\(size.width)×\(size.height) = \(megapixels(overflow ? Int.max : pixels)) megapixels, over the "
                         + "limit of \(megapixels(maxPixels)) (set \(Self.maxPixelsVariable) to raise it)")
    }

    private func megapixels(_ pixels: Int) -> String { String(format: "%.1f", Double(pixels) / 1e6) }
}
