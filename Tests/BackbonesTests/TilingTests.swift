import Backbones
import Images
import Foundation
import Tensors
import TestSupport
import XCTest

final class TilingTests: XCTestCase {
    func testOriginsStepByStrideAndShiftTheLastTileInside() {
        let tiling = Tiling(tile: 224, stride: 192, scale: 1)
        XCTAssertEqual(tiling.origins(length: 224), [0])
        XCTAssertEqual(tiling.origins(length: 416), [0, 192])        // 192 + 224 = 416: flush already
        XCTAssertEqual(tiling.origins(length: 500), [0, 192, 276])   // 384 + 224 > 500: last one shifted to 276
        XCTAssertEqual(tiling.origins(length: 900), [0, 192, 384, 576, 676])
        XCTAssertEqual(Tiling(tile: 64, stride: 64).origins(length: 256), [0, 64, 128, 192])
        XCTAssertEqual(tiling.tileCount(width: 1500, height: 900), 8 * 5)
        XCTAssertTrue(Tiling(scale: 0.5).scaledSize(width: 3000, height: 1801) == (1500, 901))  // round(900.5) = 901
    }

    /// Every tile is the image's pixels at its origin, row by row, no padding.
    func testTilesAreCropsOfTheImage() throws {
        let (height, width) = (300, 500)
        // Pixel value = channel · 1e6 + y · 1000 + x: each value says where it came from.
        var image = Tensor(shape: [2, height, width])
        for c in 0..<2 { for y in 0..<height { for x in 0..<width {
            image.data[(c * height + y) * width + x] = Float(c * 1_000_000 + y * 1000 + x)
        } } }
        let tiling = Tiling(tile: 224, stride: 192)
        let tiles = try tiling.tiles(of: image)
        XCTAssertEqual(tiles.shape, [2 * 3, 2, 224, 224])
        let tops = [0, 76], lefts = [0, 192, 276]
        for (t, (top, left)) in tops.flatMap({ top in lefts.map { (top, $0) } }).enumerated() {
            for (c, y, x) in [(0, 0, 0), (1, 223, 223), (0, 100, 17)] {
                XCTAssertEqual(tiles.data[((t * 2 + c) * 224 + y) * 224 + x],
                               Float(c * 1_000_000 + (top + y) * 1000 + left + x), "tile \(t)")
            }
        }
        XCTAssertThrowsError(try tiling.tiles(of: Tensor(shape: [3, 200, 500]))) { error in
            XCTAssertEqual(error as? BackboneError, .imageSmallerThanTile(tile: 224, width: 500, height: 200))
        }
    }

    /// Synthetic tap outputs whose values name their tile and the image position of their
    /// cell: the stitched grid takes each cell from the tile where it is most central, and the
    /// cell of that tile covering it.
    func testStitchingTakesEachCellFromItsMostCentralTile() {
        let (height, width, tapStride) = (300, 500, 8)
        let tiling = Tiling(tile: 224, stride: 192)
        let tops = tiling.origins(length: height), lefts = tiling.origins(length: width)   // [0, 76], [0, 192, 276]
        let cells = 224 / tapStride
        // Channel 0: tile index; 1: the cell centre's x in the image; 2: its y.
        var outputs = Tensor(shape: [tops.count * lefts.count, 3, cells, cells])
        for (ty, top) in tops.enumerated() { for (tx, left) in lefts.enumerated() {
            let t = ty * lefts.count + tx
            for y in 0..<cells { for x in 0..<cells {
                outputs.data[((t * 3 + 0) * cells + y) * cells + x] = Float(t)
                outputs.data[((t * 3 + 1) * cells + y) * cells + x] = Float(left + x * tapStride + tapStride / 2)
                outputs.data[((t * 3 + 2) * cells + y) * cells + x] = Float(top + y * tapStride + tapStride / 2)
            } }
        } }
        let grid = tiling.stitch(outputs, tapStride: tapStride, width: width, height: height)
        let (rows, columns) = (38, 63)   // ⌈300 / 8⌉, ⌈500 / 8⌉
        XCTAssertEqual(grid.shape, [1, 3, rows, columns])
        func value(_ c: Int, _ y: Int, _ x: Int) -> Float { grid.data[(c * rows + y) * columns + x] }
        for y in 0..<rows {
            for x in 0..<columns {
                let (cx, cy) = (x * tapStride + 4, y * tapStride + 4)
                // Tile centres: x 112, 304, 388 (midpoints 208, 346); y 112, 188 (midpoint 150). Ties: earlier tile.
                let tx = cx <= 208 ? 0 : (cx <= 346 ? 1 : 2)
                let ty = cy <= 150 ? 0 : 1
                XCTAssertEqual(value(0, y, x), Float(ty * 3 + tx), "cell (\(y), \(x))")
                // The chosen tile's cell covering the centre: exact where the tile is aligned to
                // the tap grid, otherwise within half a cell.
                XCTAssertEqual(Double(value(1, y, x)), Double(cx), accuracy: tx == 2 ? 4 : 0, "x of cell (\(y), \(x))")
                XCTAssertEqual(Double(value(2, y, x)), Double(cy), accuracy: ty == 1 ? 4 : 0, "y of cell (\(y), \(x))")
            }
        }
    }

    /// An image of exactly one tile gets the backbone's plain features, bit for bit; a larger
    /// one gets the stitched grid of the strides' sizes.
    func testTiledFeaturesOfOneTileEqualPlainFeatures() throws {
        let descriptor = try BackboneRegistry.descriptor(named: "efficientnet-lite0", assets: assetsDirectory)
        try XCTSkipIf(descriptor.weightsFile == nil, "efficientnet-lite0 weights absent (run make setup)")
        let backbone = try descriptor.load()
        var random = SplitMix64(seed: 7)
        func noise(_ count: Int) -> [Float] { (0..<count).map { _ in Float(random.next() % 256) / 128 - 1 } }
        let input = Tensor(shape: [3, 96, 96], data: noise(3 * 96 * 96))
        let tiling = Tiling(tile: 96, stride: 64)
        let tiled = try backbone.features(tiled: input, tiling: tiling, taps: ["stride8", "stride16"])
        let plain = try backbone.features(input.reshaped([1, 3, 96, 96]), taps: ["stride8", "stride16"])
        XCTAssertEqual(tiled.maps, plain)
        XCTAssertEqual(tiled.tileMeanEmbedding, joined(channelMeans(plain[0]), channelMeans(plain[1])))

        let wide = Tensor(shape: [3, 96, 200], data: noise(3 * 96 * 200))
        let tiledWide = try backbone.features(tiled: wide, tiling: tiling, taps: ["stride8", "stride16"])
        let stitched = tiledWide.maps
        XCTAssertEqual(stitched.map(\.shape), [[1, 40, 12, 25], [1, 112, 6, 13]])
        // The first tile's most central cells are the first tile's own outputs (alone the tile
        // runs with multi-threaded BLAS, in the batch single-threaded: equal to rounding).
        var firstTile = [Float]()
        for row in 0..<(3 * 96) {
            let start = row * 200
            firstTile += wide.data[start..<(start + 96)]
        }
        let first = try backbone.features(Tensor(shape: [1, 3, 96, 96], data: firstTile), taps: ["stride8"])[0]
        for c in [0, 39] {
            for y in 0..<12 {
                for x in 0..<6 {
                    let stitchedIndex = (c * 12 + y) * 25 + x
                    let tileIndex = (c * 12 + y) * 12 + x
                    XCTAssertEqual(stitched[0].data[stitchedIndex], first.data[tileIndex], accuracy: 1e-4,
                                   "channel \(c), cell (\(y), \(x))")
                }
            }
        }
        // The global embedding is the mean of the three tiles' (origins 0, 64, 104) own
        // embeddings, each what the tile alone as an untiled image gives.
        var tileEmbeddings = [Tensor]()
        for left in [0, 64, 104] {
            var pixels = [Float]()
            for row in 0..<(3 * 96) { pixels += wide.data[(row * 200 + left)..<(row * 200 + left + 96)] }
            let taps = try backbone.features(Tensor(shape: [1, 3, 96, 96], data: pixels), taps: ["stride8", "stride16"])
            tileEmbeddings.append(joined(channelMeans(taps[0]), channelMeans(taps[1])))
        }
        XCTAssertEqual(tiledWide.tileMeanEmbedding.shape, [1, 152])
        for d in 0..<152 {
            let mean = tileEmbeddings.map { Double($0.data[d]) }.reduce(0, +) / 3
            XCTAssertEqual(Double(tiledWide.tileMeanEmbedding.data[d]), mean, accuracy: 1e-4, "dimension \(d)")
        }
    }

    /// Synthetic tap outputs whose tiles carry known values: the global embedding of a tiled
    /// image is the plain mean over tiles of each tile's channel means (taps concatenated in
    /// order), every tile weighted once, not the mean of the stitched grid (which weights each
    /// tile by the cells it is most central for).
    func testGlobalEmbeddingIsTheMeanOfTileEmbeddings() {
        let (height, width) = (300, 500)
        let tiling = Tiling(tile: 224, stride: 192)   // 2 × 3 tiles: origins y [0, 76], x [0, 192, 276]
        // Tap 1 (stride 8, 28 × 28 cells): tile t, channel c holds 10 t + c ± 1 (checkerboard, mean 10 t + c).
        var fine = Tensor(shape: [6, 2, 28, 28])
        for t in 0..<6 { for c in 0..<2 { for y in 0..<28 { for x in 0..<28 {
            fine.data[((t * 2 + c) * 28 + y) * 28 + x] = Float(10 * t + c) + ((x + y) % 2 == 0 ? 1 : -1)
        } } } }
        // Tap 2 (stride 16, 14 × 14 cells): tile t holds t².
        var coarse = Tensor(shape: [6, 1, 14, 14])
        for t in 0..<6 { for i in 0..<196 { coarse.data[t * 196 + i] = Float(t * t) } }
        let embedding = tiling.meanTileEmbedding([fine, coarse])
        XCTAssertEqual(embedding.shape, [1, 3])
        XCTAssertEqual(embedding.data, [25, 26, Float(55.0 / 6)])   // mean over t of 10 t + c; (0 + 1 + 4 + 9 + 16 + 25) / 6
        // The stitched grid's mean weights the tiles unequally (the shifted last column of
        // tiles is most central for fewer cells): another number.
        let stitchedMean = channelMeans(tiling.stitch(coarse, tapStride: 16, width: width, height: height))
        XCTAssertNotEqual(stitchedMean.data[0], embedding.data[2])
    }

    /// `[1, a]` and `[1, b]` side by side: `[1, a + b]`.
    private func joined(_ a: Tensor, _ b: Tensor) -> Tensor {
        Tensor(shape: [1, a.count + b.count], data: a.data + b.data)
    }
}
