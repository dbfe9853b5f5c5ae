import Foundation
import Tensors

/// Anomaly-map overlays: a score map coloured with the jet colormap and alpha-blended over the
/// image, as PatchCore's and anomalib's visualisations do.
public enum Heatmap {
    /// Matplotlib's `jet` colormap at `t` ∈ [0, 1] (clamped): piecewise-linear red, green and blue
    /// ramps from dark blue (t = 0) through cyan, yellow to dark red (t = 1), each in 0…1.
    public static func jet(_ t: Float) -> (red: Float, green: Float, blue: Float) {
        let t = min(max(t, 0), 1)
        return (ramp(t, [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)]),
                ramp(t, [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)]),
                ramp(t, [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]))
    }

    /// Linear interpolation through `(position, value)` knots sorted by position, from 0 to 1.
    private static func ramp(_ t: Float, _ knots: [(Float, Float)]) -> Float {
        for (a, b) in zip(knots, knots.dropFirst()) where t <= b.0 {
            return a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
        }
        return knots[knots.count - 1].1
    }

    /// `map` (`[H, W]`, the image's size) coloured with `jet` and blended over `image`:
    /// `(1 − opacity) · image + opacity · 255 · jet(t)` per RGB channel, rounded to whole levels,
    /// where `t = (score − range.lowerBound) / (range.upperBound − range.lowerBound)` clamped to
    /// [0, 1]. The caller chooses `range` (e.g. min–max over a whole test set, so that colours
    /// are comparable across images); an empty range maps every score to 0. Gray images are
    /// replicated to RGB first. anomalib blends with opacity 0.4.
    public static func overlay(_ map: Tensor, range: ClosedRange<Float>, on image: Image, opacity: Float = 0.4) -> Image {
        precondition(map.shape == [image.height, image.width],
                     "heatmap shape \(map.shape) must be [H, W] of the image, [\(image.height), \(image.width)]")
        let background = image.converted(to: .rgb).pixels.data
        let plane = image.height * image.width
        let span = range.upperBound - range.lowerBound
        var out = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            let t = span > 0 ? (map.data[i] - range.lowerBound) / span : 0
            let color = jet(t)
            for (c, value) in [color.red, color.green, color.blue].enumerated() {
                let blended = (1 - opacity) * background[c * plane + i] + opacity * 255 * value
                out[c * plane + i] = min(max(blended.rounded(), 0), 255)
            }
        }
        return Image(pixels: Tensor(shape: [3, image.height, image.width], data: out))
    }

    /// `image` with a colour bar under it, on white: a `jet` strip running from
    /// `range.lowerBound` (left) to `range.upperBound` (right), labelled with both bounds
    /// (4 significant digits) in a 5×7 digit font, doubled on images at least 160 pixels wide.
    /// Labels that would not fit side by side are left out. The result is RGB, as wide as
    /// `image` and `colourBarHeight(forWidth:)` pixels taller.
    public static func withColourBar(_ image: Image, range: ClosedRange<Float>) -> Image {
        let width = image.width
        let scale = width >= 160 ? 2 : 1
        let margin = 4 * scale
        let barHeight = 8 * scale
        let height = image.height + colourBarHeight(forWidth: width)
        let plane = height * width
        var out = [Float](repeating: 255, count: 3 * plane)
        let source = image.converted(to: .rgb).pixels.data
        let sourcePlane = image.height * width
        for c in 0..<3 {
            for i in 0..<sourcePlane { out[c * plane + i] = source[c * sourcePlane + i] }
        }
        let barTop = image.height + margin
        let barWidth = max(width - 2 * margin, 1)
        for x in 0..<barWidth {
            let colour = jet(barWidth > 1 ? Float(x) / Float(barWidth - 1) : 0)
            for y in barTop..<(barTop + barHeight) {
                for (c, value) in [colour.red, colour.green, colour.blue].enumerated() {
                    out[c * plane + y * width + margin + x] = (255 * value).rounded()
                }
            }
        }
        let low = label(range.lowerBound)
        let high = label(range.upperBound)
        let textTop = barTop + barHeight + scale * 2
        if DigitFont.width(of: low, scale: scale) + DigitFont.width(of: high, scale: scale) + 3 * margin <= width {
            let ink = { (x: Int, y: Int) in
                guard x >= 0, x < width, y >= 0, y < height else { return }
                for c in 0..<3 { out[c * plane + y * width + x] = 0 }
            }
            DigitFont.draw(low, x: margin, y: textTop, scale: scale, setPixel: ink)
            DigitFont.draw(high, x: width - margin - DigitFont.width(of: high, scale: scale), y: textTop, scale: scale,
                           setPixel: ink)
        }
        return Image(pixels: Tensor(shape: [3, height, width], data: out))
    }

    /// Rows `withColourBar` adds under an image `width` pixels wide.
    public static func colourBarHeight(forWidth width: Int) -> Int {
        let scale = width >= 160 ? 2 : 1
        return (4 + 8 + 2 + DigitFont.glyphHeight + 4) * scale
    }

    /// A bound as the bar prints it: 4 significant digits, exponent form when needed.
    static func label(_ value: Float) -> String {
        var text = String(format: "%.4g", Double(value))
        if text.contains("e") {
            // "1.2e-05" → "1.2e-5": the font has no room to spare.
            text = text.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e+")
        }
        return text
    }
}

