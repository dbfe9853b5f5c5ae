import Datasets
import Projections
import Scorers
import Tables
import Tensors

/// Every run's map of its images: the image embeddings (global-average-pooled taps, with
/// tiling the mean over tiles; what the kNN, Mahalanobis, GMM and one-class SVM scorers use) of training and test samples projected to 2-D
/// by PCA and by UMAP, written as `embedding.csv`.
struct EmbeddingMap {
    /// Above this many samples a seeded subsample of this size is drawn (UMAP's cost grows
    /// with the number of points; 5,000 take about 20 s on 2 shared cores).
    static let maximumPoints = 5_000

    /// Sample rows mapped, in sample order.
    var rows: [Int]
    /// `[rows.count, 2]` each.
    var pca: Tensor
    var umap: Tensor

    /// Maps the sample `rows` (all of them, or `maximumPoints` drawn with `seed`) from the
    /// samples' global embeddings (`[N, D]`, indexed by sample row); UMAP is seeded by `seed`.
    init(rows: [Int], embeddings allEmbeddings: Tensor, seed: UInt64, maximumPoints: Int = Self.maximumPoints) throws {
        var chosen = rows.sorted()
        if chosen.count > maximumPoints {
            var rng = SeededRandom(seed: seed)
            chosen = rng.distinctIndices(maximumPoints, from: chosen.count).sorted().map { chosen[$0] }
        }
        let embeddings = gatherRows(of: allEmbeddings, chosen)
        self.rows = chosen
        pca = try PCA(fitting: embeddings, components: 2).transform(embeddings)
        umap = try UMAP(seed: seed).embed(embeddings)
    }

    /// `id, split, label` (`normal`/`anomalous`)`, label_detail, pca_x, pca_y, umap_x, umap_y`.
    func table(_ samples: [Sample]) -> Table {
        var table = Table(header: ["id", "split", "label", "label_detail", "pca_x", "pca_y", "umap_x", "umap_y"])
        for (i, row) in rows.enumerated() {
            let sample = samples[row]
            table.append([sample.id, sample.split.rawValue, sample.label.kind.rawValue, sample.label.name,
                          cell(pca.data[2 * i]), cell(pca.data[2 * i + 1]),
                          cell(umap.data[2 * i]), cell(umap.data[2 * i + 1])])
        }
        return table
    }
}
