/// Which neighbours join two foreground pixels into one component.
public enum Connectivity: Sendable {
    /// Edge neighbours only (up, down, left, right): scipy's default structure.
    case four
    /// Edge and diagonal neighbours: a 3×3 structure of ones, as MVTec AD's evaluation code.
    case eight
}

/// Connected components of a binary mask, as `scipy.ndimage.label(mask, structure)`.
public struct ConnectedComponents: Equatable, Sendable {
    /// Row-major `[height, width]`: 0 on background, 1…`count` on foreground. Components are
    /// numbered in raster order of their first pixel, as scipy numbers them.
    public private(set) var labels: [Int32]
    /// Number of components.
    public private(set) var count: Int
    /// Pixels in each component: `sizes[k]` for label k + 1.
    public private(set) var sizes: [Int]

    /// Labels `mask` (row-major `[height, width]`, `true` = foreground).
    public init(mask: [Bool], height: Int, width: Int, connectivity: Connectivity = .eight) throws {
        guard height >= 0, width >= 0 else {
            throw MetricError.invalidParameter(name: "mask height × width",
                                               value: Double(min(height, width)),
                                               reason: "must not be negative")
        }
        guard mask.count == height * width else {
            throw MetricError.lengthMismatch(what: "mask of [\(height), \(width)] pixels",
                                             expected: height * width, actual: mask.count)
        }
        labels = [Int32](repeating: 0, count: mask.count)
        count = 0
        sizes = []
        let diagonal = connectivity == .eight
        var stack: [Int] = []
        for seed in mask.indices where mask[seed] && labels[seed] == 0 {
            count += 1
            let label = Int32(count)
            var size = 0
            labels[seed] = label
            stack.append(seed)
            while let pixel = stack.popLast() {
                size += 1
                let y = pixel / width
                let x = pixel % width
                for dy in -1...1 {
                    let ny = y + dy
                    guard ny >= 0, ny < height else { continue }
                    for dx in -1...1 where (dx != 0 || dy != 0) && (diagonal || dx == 0 || dy == 0) {
                        let nx = x + dx
                        guard nx >= 0, nx < width else { continue }
                        let neighbour = ny * width + nx
                        if mask[neighbour] && labels[neighbour] == 0 {
                            labels[neighbour] = label
                            stack.append(neighbour)
                        }
                    }
                }
            }
            sizes.append(size)
        }
    }
}
