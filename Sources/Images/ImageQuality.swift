/// Per-image quality measures that flag the frames a detector should not be trusted on:
/// blurry (low sharpness), dark or washed-out (brightness), flat (low contrast).
///
/// Computed on the gray image (PIL luma, 0…255) at its full decoded resolution:
/// - `sharpness`: variance of the Laplacian, the kernel `[[0, 1, 0], [1, −4, 1], [0, 1, 0]]`
///   with mirrored borders (`d c b | a b c d`, OpenCV's default `BORDER_REFLECT_101`), in
///   (0…255 units)²: `cv2.Laplacian(gray, cv2.CV_64F).var()`, `scipy.ndimage.laplace(gray, mode="mirror").var()`.
/// - `brightness`: mean gray value, 0…255.
/// - `contrast`: standard deviation of the gray values (population, divisor `H·W`), 0…127.5.
public struct ImageQuality: Equatable, Sendable {
    public var sharpness: Double
    public var brightness: Double
    public var contrast: Double

    /// The metadata column names, in the order above.
    public static let columns = ["sharpness", "brightness", "contrast"]

    public init(sharpness: Double, brightness: Double, contrast: Double) {
        self.sharpness = sharpness
        self.brightness = brightness
        self.contrast = contrast
    }

    /// The measures of `image` (converted to gray first when it has colour).
    public init(_ image: Image) {
        let gray = image.converted(to: .gray)
        let (height, width) = (gray.height, gray.width)
        let values = gray.pixels.data
        let (brightness, contrast) = meanAndDeviation(values.lazy.map(Double.init), count: values.count)
        // Mirror index: −1 → 1, n → n − 2 (a side of 1 mirrors onto itself).
        func mirror(_ i: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i)
        }
        var laplacian = [Double]()
        laplacian.reserveCapacity(values.count)
        for y in 0..<height {
            let up = mirror(y - 1, height) * width, row = y * width, down = mirror(y + 1, height) * width
            for x in 0..<width {
                let left = mirror(x - 1, width), right = mirror(x + 1, width)
                let sum = Double(values[up + x]) + Double(values[down + x]) + Double(values[row + left])
                    + Double(values[row + right]) - 4 * Double(values[row + x])
                laplacian.append(sum)
            }
        }
        let deviation = meanAndDeviation(laplacian, count: laplacian.count).deviation
        self.init(sharpness: deviation * deviation, brightness: brightness, contrast: contrast)
    }

    /// The measures by column name (`sharpness`, `brightness`, `contrast`).
    public var values: [String: Double] {
        ["sharpness": sharpness, "brightness": brightness, "contrast": contrast]
    }
}

/// Mean and population standard deviation, two passes (exact for 0…255 data).
private func meanAndDeviation(_ values: some Sequence<Double>, count: Int) -> (mean: Double, deviation: Double) {
    guard count > 0 else { return (0, 0) }
    let mean = values.reduce(0, +) / Double(count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count)
    return (mean, variance.squareRoot())
}
