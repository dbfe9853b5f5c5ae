import Tensors

extension Image {
    /// The central `width` × `height` region, with torchvision's `CenterCrop` offsets:
    /// top = round((H − height) / 2), left = round((W − width) / 2), Python's `round` (halves to
    /// even). The crop must fit inside the image.
    public func centerCropped(width: Int, height: Int) -> Image {
        precondition(width > 0 && height > 0 && width <= self.width && height <= self.height,
                     "center crop \(width)×\(height) does not fit in a \(self.width)×\(self.height) image")
        let top = Int((Double(self.height - height) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(self.width - width) / 2).rounded(.toNearestOrEven))
        var out = [Float]()
        out.reserveCapacity(channels * height * width)
        for c in 0..<channels {
            for y in top..<(top + height) {
                let start = (c * self.height + y) * self.width + left
                out.append(contentsOf: pixels.data[start..<(start + width)])
            }
        }
        return Image(pixels: Tensor(shape: [channels, height, width], data: out))
    }

    /// Network input `[C, H, W]` with per-channel statistics on the 0…1 scale:
    /// `(x / 255 − mean[c]) / std[c]`, in `Float` in that order (torchvision's
    /// `ToTensor` then `Normalize`). ImageNet: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
    public func normalized(mean: [Float], std: [Float]) -> Tensor {
        precondition(mean.count == channels && std.count == channels,
                     "need \(channels) means and standard deviations, got \(mean.count) and \(std.count)")
        let plane = height * width
        var out = pixels.data
        for c in 0..<channels {
            for i in (c * plane)..<((c + 1) * plane) { out[i] = (out[i] / 255 - mean[c]) / std[c] }
        }
        return Tensor(shape: pixels.shape, data: out)
    }

    /// Network input `[C, H, W]` as `(x − offset) / scale` on the 0…255 scale, e.g. offset 127 and
    /// scale 128 for the EfficientNet-Lite checkpoints.
    public func normalized(offset: Float, scale: Float) -> Tensor {
        Tensor(shape: pixels.shape, data: pixels.data.map { ($0 - offset) / scale })
    }
}
