import Images
import Tensors

/// Full-resolution feature extraction: the whole image is resized by `scale`, cut into
/// `tile × tile` tiles every `stride` pixels, each tile runs through the backbone, and each
/// tap's tile outputs are stitched onto one image-wide grid `[1, C, ⌈H / s⌉, ⌈W / s⌉]`
/// (`H × W` the scaled image, `s` the tap's stride).
///
/// Tile origins along an axis of length `L` are `0, stride, 2·stride, …` while a tile fits;
/// when the last one stops short of the edge, one more tile is placed flush with it at
/// `L − tile` (shifted inside the image, never padded).
///
/// Stitching takes every grid cell from the tile in which it is most central (per axis: the
/// tile whose centre is nearest to the cell's centre; ties go to the earlier tile), not an
/// average of the overlapping tiles. Near a tile's border a CNN sees its zero padding and
/// only part of its receptive field, so border cells are the least faithful; averaging would
/// mix those into every overlap and make overlap cells smoother than the rest (a seam
/// pattern in nearest-neighbour distances). Taking the most central copy keeps every cell a
/// genuine backbone output with the most image context around it.
public struct Tiling: Sendable, Hashable, Codable {
    /// Tile side, pixels of the scaled image.
    public var tile: Int
    /// Distance between neighbouring tile origins, pixels (`< tile` overlaps).
    public var stride: Int
    /// Factor the whole image is resized by (PIL bilinear) before tiling.
    public var scale: Double

    public init(tile: Int = 224, stride: Int = 192, scale: Double = 1) {
        precondition(tile > 0 && stride > 0 && scale > 0, "tile, stride and scale must be positive")
        self.tile = tile
        self.stride = stride
        self.scale = scale
    }

    /// The image size after `scale`: each side `round(side · scale)`, pixels.
    public func scaledSize(width: Int, height: Int) -> (width: Int, height: Int) {
        (Int((Double(width) * scale).rounded()), Int((Double(height) * scale).rounded()))
    }

    /// Tile origins along an axis of `length` pixels (`length ≥ tile`), in increasing order.
    public func origins(length: Int) -> [Int] {
        precondition(length >= tile, "an axis of \(length) px is shorter than the \(tile) px tile")
        var origins = Array(Swift.stride(from: 0, through: length - tile, by: stride))
        if origins.last! + tile < length { origins.append(length - tile) }
        return origins
    }

    /// Number of tiles of a scaled `width × height` image.
    public func tileCount(width: Int, height: Int) -> Int {
        origins(length: width).count * origins(length: height).count
    }

    /// `image` resized by `scale` (unchanged when `scale` is 1).
    public func scaled(_ image: Image, filter: Image.ResizeFilter = .bilinear) -> Image {
        guard scale != 1 else { return image }
        let size = scaledSize(width: image.width, height: image.height)
        return image.resized(width: size.width, height: size.height, filter: filter)
    }

    /// The tiles of `input` `[C, H, W]` (an already scaled and normalised image), row by row
    /// (top origin outer, left origin inner): `[T, C, tile, tile]`. Throws when the image is
    /// smaller than a tile.
    public func tiles(of input: Tensor) throws -> Tensor {
        let (channels, height, width) = (input.shape[0], input.shape[1], input.shape[2])
        guard height >= tile, width >= tile else { throw BackboneError.imageSmallerThanTile(tile: tile, width: width, height: height) }
        let tops = origins(length: height), lefts = origins(length: width)
        var data = [Float]()
        data.reserveCapacity(tops.count * lefts.count * channels * tile * tile)
        input.data.withUnsafeBufferPointer { source in
            for top in tops {
                for left in lefts {
                    for c in 0..<channels {
                        for y in top..<(top + tile) {
                            let start = (c * height + y) * width + left
                            data.append(contentsOf: source[start..<(start + tile)])
                        }
                    }
                }
            }
        }
        return Tensor(shape: [tops.count * lefts.count, channels, tile, tile], data: data)
    }

    /// One tap's tile outputs `[T, C, h, w]` (tiles in `tiles(of:)` order, `h`, `w` the tap's
    /// grid of one tile) stitched onto the image grid `[1, C, ⌈height / tapStride⌉,
    /// ⌈width / tapStride⌉]` of a scaled `width × height` image, each cell from the tile where
    /// it is most central.
    public func stitch(_ tileOutputs: Tensor, tapStride: Int, width: Int, height: Int) -> Tensor {
        let rows = axisSources(length: height, tapStride: tapStride, cells: tileOutputs.shape[2])
        let columns = axisSources(length: width, tapStride: tapStride, cells: tileOutputs.shape[3])
        let lefts = origins(length: width).count
        precondition(tileOutputs.shape[0] == origins(length: height).count * lefts,
                     "\(tileOutputs.shape[0]) tile outputs for a \(width)×\(height) image")
        let (channels, h, w) = (tileOutputs.shape[1], tileOutputs.shape[2], tileOutputs.shape[3])
        var out = Tensor(shape: [1, channels, rows.count, columns.count])
        tileOutputs.data.withUnsafeBufferPointer { source in
            out.data.withUnsafeMutableBufferPointer { target in
                for c in 0..<channels {
                    for (y, row) in rows.enumerated() {
                        for (x, column) in columns.enumerated() {
                            let tileIndex = row.tile * lefts + column.tile
                            target[(c * rows.count + y) * columns.count + x] =
                                source[((tileIndex * channels + c) * h + row.cell) * w + column.cell]
                        }
                    }
                }
            }
        }
        return out
    }

    /// For each output cell along an axis of `length` pixels: the tile (index along the
    /// axis) whose centre is nearest to the cell's centre, and the cell of that tile's
    /// `cells`-long grid that covers it.
    private func axisSources(length: Int, tapStride: Int, cells: Int) -> [(tile: Int, cell: Int)] {
        let origins = origins(length: length)
        let count = (length + tapStride - 1) / tapStride
        return (0..<count).map { i in
            let centre = (Double(i) + 0.5) * Double(tapStride)
            var best = 0
            for t in origins.indices where abs(centre - (Double(origins[t]) + Double(tile) / 2))
                < abs(centre - (Double(origins[best]) + Double(tile) / 2)) { best = t }
            let cell = Int(((centre - Double(origins[best])) / Double(tapStride)).rounded(.down))
            return (best, min(max(cell, 0), cells - 1))
        }
    }
}

/// One image's features computed tile by tile.
public struct TiledFeatures: Equatable, Sendable {
    /// Each tap's tile outputs stitched onto the image grid, `[1, C, ⌈H / stride⌉, ⌈W / stride⌉]`.
    public var maps: [Tensor]
    /// The image's global embedding `[1, ΣC]`: each tile's global-average-pooled taps
    /// (concatenated in tap order, what an untiled image of the tile's size gives), averaged
    /// over the tiles (summed in `Double` in tile order, rounded to `Float` once).
    public var tileMeanEmbedding: Tensor
}

extension Tiling {
    /// The mean over tiles of the tiles' global embeddings, from each tap's tile outputs
    /// `[T, Cᵢ, h, w]` (same `T`): `[1, ΣCᵢ]`.
    public func meanTileEmbedding(_ tileOutputs: [Tensor]) -> Tensor {
        var embedding = [Float]()
        for output in tileOutputs {
            let (tiles, channels) = (output.shape[0], output.shape[1])
            let means = channelMeans(output)
            for c in 0..<channels {
                var sum: Double = 0
                for t in 0..<tiles { sum += Double(means.data[t * channels + c]) }
                embedding.append(Float(sum / Double(tiles)))
            }
        }
        return Tensor(shape: [1, embedding.count], data: embedding)
    }
}

extension Backbone {
    /// The taps `tapNames` of one scaled, normalised image `[3, H, W]`, computed tile by tile
    /// (the tiles form one batch, spread over the cores): stitched by `tiling` (in the order
    /// asked), and the mean of the tiles' global embeddings.
    public func features(tiled input: Tensor, tiling: Tiling, taps tapNames: [String]) throws -> TiledFeatures {
        let (height, width) = (input.shape[1], input.shape[2])
        let outputs = try features(try tiling.tiles(of: input), taps: tapNames)
        let maps = try zip(tapNames, outputs).map { name, output in
            tiling.stitch(output, tapStride: try tap(named: name).stride, width: width, height: height)
        }
        return TiledFeatures(maps: maps, tileMeanEmbedding: tiling.meanTileEmbedding(outputs))
    }
}
