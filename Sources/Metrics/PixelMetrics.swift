// Pixel-level metrics over anomaly maps and ground-truth masks: pixel AUROC, PRO, AUPRO.
//
// A pixel is predicted anomalous at threshold t when its score is ≥ t. All pixels of all
// images are pooled. Sorting is a radix sort on the float bits: O(n) in the pixel count.

/// One image's anomaly map and ground-truth mask, both row-major `[height, width]`.
public struct SegmentationSample: Sendable {
    /// Anomaly score per pixel, higher = more anomalous; `height · width` finite values.
    public var anomalyMap: [Float]
    /// Ground truth per pixel, `true` = anomalous; `height · width` values.
    public var mask: [Bool]
    public var height: Int
    public var width: Int

    public init(anomalyMap: [Float], mask: [Bool], height: Int, width: Int) {
        self.anomalyMap = anomalyMap
        self.mask = mask
        self.height = height
        self.width = width
    }
}

/// Points of the PRO curve in ascending false-positive rate, as MVTec AD's `compute_pro`.
public struct PROCurve: Equatable, Sendable {
    /// Global false-positive rate over all normal pixels of all images.
    public var falsePositiveRates: [Double]
    /// Per-region overlap: the mean over all ground-truth regions of all images of the
    /// fraction of the region's pixels predicted anomalous.
    public var overlaps: [Double]
}

/// Pixel AUROC: `auroc` over every pixel of every image, flattened and pooled, with the mask
/// as labels (sklearn's `roc_auc_score(masks.ravel(), maps.ravel())`).
public func pixelAUROC(_ images: [SegmentationSample]) throws -> Double {
    try validate(images)
    var packed: [UInt64] = []
    packed.reserveCapacity(images.reduce(0) { $0 + $1.anomalyMap.count })
    var positives = 0
    for image in images {
        for (score, anomalous) in zip(image.anomalyMap, image.mask) {
            packed.append(UInt64(sortableKey(score)) << 32 | (anomalous ? 1 : 0))
            if anomalous { positives += 1 }
        }
    }
    let negatives = packed.count - positives
    if positives == 0 || negatives == 0 {
        throw MetricError.singleClass(metric: "pixel AUROC", allAnomalous: positives > 0,
                                      count: packed.count)
    }
    radixSortByUpperHalf(&packed)
    var doubledArea = 0
    var tp = 0
    packed.withUnsafeBufferPointer { sorted in
        var i = sorted.count - 1
        while i >= 0 {
            let key = sorted[i] >> 32
            var groupTP = 0
            var groupFP = 0
            while i >= 0 && sorted[i] >> 32 == key {
                if sorted[i] & 1 == 1 { groupTP += 1 } else { groupFP += 1 }
                i -= 1
            }
            doubledArea += groupFP * (2 * tp + groupTP)
            tp += groupTP
        }
    }
    return Double(doubledArea) / (2 * Double(positives) * Double(negatives))
}

/// Per-region overlap at one threshold: the mean over all ground-truth regions (8-connected
/// components of the masks, all images) of the fraction of the region's pixels with
/// score ≥ `threshold`. anomalib's `PRO` predicts with `score > threshold` instead.
public func perRegionOverlap(_ images: [SegmentationSample], threshold: Float) throws -> Double {
    try validate(images)
    guard !threshold.isNaN else {
        throw MetricError.invalidParameter(name: "threshold", value: Double(threshold), reason: "NaN")
    }
    var sum = 0.0
    var regions = 0
    for image in images {
        let components = try ConnectedComponents(mask: image.mask, height: image.height,
                                                 width: image.width)
        var hits = [Int](repeating: 0, count: components.count)
        for (label, score) in zip(components.labels, image.anomalyMap) where label > 0 && score >= threshold {
            hits[Int(label) - 1] += 1
        }
        for (hit, size) in zip(hits, components.sizes) { sum += Double(hit) / Double(size) }
        regions += components.count
    }
    guard regions > 0 else {
        throw MetricError.singleClass(metric: "PRO", allAnomalous: false,
                                      count: images.reduce(0) { $0 + $1.mask.count })
    }
    return sum / Double(regions)
}

/// The PRO curve up to `maxFalsePositiveRate`, exactly as MVTec AD's evaluation code
/// (`pro_curve_util.compute_pro`, cut by `generic_util.trapezoid`).
///
/// Ground-truth regions are the 8-connected components of each mask (`scipy.ndimage.label`
/// with a 3×3 structure of ones). Every distinct pixel score t, descending, gives one point:
/// FPR(t) = normal pixels with score ≥ t / all normal pixels, PRO(t) = mean over regions of
/// region pixels with score ≥ t / region size, both clipped to ≤ 1. The curve starts at
/// (0, 0) and ends at (1, 1). Points with FPR ≤ the limit are kept; if the limit is not itself
/// an FPR of the curve, a last point at the limit is linearly interpolated between its
/// neighbours. `maxFalsePositiveRate` lies in (0, 1]. MVTec accumulates FPRs in float32;
/// this uses float64 throughout.
public func proCurve(_ images: [SegmentationSample], maxFalsePositiveRate: Double = 1) throws -> PROCurve {
    try validate(images)
    guard maxFalsePositiveRate > 0, maxFalsePositiveRate <= 1 else {
        throw MetricError.invalidParameter(name: "FPR limit", value: maxFalsePositiveRate,
                                           reason: "must lie in (0, 1]")
    }
    // Each pixel: its score key, and its region (1-based over all images) or 0 when normal.
    var packed: [UInt64] = []
    packed.reserveCapacity(images.reduce(0) { $0 + $1.anomalyMap.count })
    var inverseSizes: [Double] = [0]
    for image in images {
        let components = try ConnectedComponents(mask: image.mask, height: image.height,
                                                 width: image.width)
        let firstRegion = UInt32(inverseSizes.count - 1)
        inverseSizes += components.sizes.map { 1 / Double($0) }
        for (label, score) in zip(components.labels, image.anomalyMap) {
            let region = label == 0 ? 0 : firstRegion + UInt32(label)
            packed.append(UInt64(sortableKey(score)) << 32 | UInt64(region))
        }
    }
    let regions = inverseSizes.count - 1
    let normalPixels = packed.reduce(0) { $0 + ($1 & 0xFFFF_FFFF == 0 ? 1 : 0) }
    if regions == 0 || normalPixels == 0 {
        throw MetricError.singleClass(metric: "AUPRO", allAnomalous: regions > 0, count: packed.count)
    }
    radixSortByUpperHalf(&packed)

    var curve = PROCurve(falsePositiveRates: [0], overlaps: [0])
    let limit = maxFalsePositiveRate
    /// Appends (fpr, pro) if within the limit; otherwise closes the curve at the limit and
    /// returns false.
    func append(_ fpr: Double, _ pro: Double) -> Bool {
        if fpr <= limit {
            curve.falsePositiveRates.append(fpr)
            curve.overlaps.append(pro)
            return true
        }
        let lastFPR = curve.falsePositiveRates.last!
        let lastPRO = curve.overlaps.last!
        if lastFPR < limit {
            curve.falsePositiveRates.append(limit)
            curve.overlaps.append(lastPRO + (pro - lastPRO) * (limit - lastFPR) / (fpr - lastFPR))
        }
        return false
    }
    var falsePositives = 0
    var overlapSum = 0.0
    var open = true
    packed.withUnsafeBufferPointer { sorted in
        var i = sorted.count - 1
        while open && i >= 0 {
            let key = sorted[i] >> 32
            while i >= 0 && sorted[i] >> 32 == key {
                let region = Int(sorted[i] & 0xFFFF_FFFF)
                if region == 0 { falsePositives += 1 } else { overlapSum += inverseSizes[region] }
                i -= 1
            }
            open = append(min(Double(falsePositives) / Double(normalPixels), 1),
                          min(overlapSum / Double(regions), 1))
        }
    }
    if open { _ = append(1, 1) }
    return curve
}

/// AUPRO: the area under the PRO curve up to `fprLimit` by the trapezoid rule, divided by
/// `fprLimit` so that a perfect segmentation scores 1 (MVTec AD's `calculate_au_pro`, exact
/// over all thresholds; see `proCurve`). anomalib's `AUPRO` approximates the same curve by
/// resampling per-region ROC curves and agrees to about 1e-3. Default limit 0.3, as MVTec AD.
public func aupro(_ images: [SegmentationSample], fprLimit: Double = 0.3) throws -> Double {
    let curve = try proCurve(images, maxFalsePositiveRate: fprLimit)
    var area = 0.0
    for i in 1..<curve.falsePositiveRates.count {
        area += 0.5 * (curve.overlaps[i] + curve.overlaps[i - 1])
            * (curve.falsePositiveRates[i] - curve.falsePositiveRates[i - 1])
    }
    return area / fprLimit
}

/// Checks shapes and finiteness of every image; errors name the image index.
func validate(_ images: [SegmentationSample]) throws {
    guard !images.isEmpty else { throw MetricError.emptyInput(what: "images") }
    for (index, image) in images.enumerated() {
        let pixels = image.height * image.width
        guard image.height > 0, image.width > 0 else {
            throw MetricError.emptyInput(what: "image \(index) ([\(image.height), \(image.width)])")
        }
        guard image.anomalyMap.count == pixels else {
            throw MetricError.lengthMismatch(
                what: "anomaly map of image \(index) ([\(image.height), \(image.width)])",
                expected: pixels, actual: image.anomalyMap.count)
        }
        guard image.mask.count == pixels else {
            throw MetricError.lengthMismatch(
                what: "mask of image \(index) ([\(image.height), \(image.width)])",
                expected: pixels, actual: image.mask.count)
        }
        if let pixel = image.anomalyMap.firstIndex(where: { !$0.isFinite }) {
            throw MetricError.nonFinitePixel(image: index, pixel: pixel,
                                             value: Double(image.anomalyMap[pixel]))
        }
    }
}
