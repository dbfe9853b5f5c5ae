import Tensors

/// Small dense linear algebra in Double for covariance work (row-major `n × n`).
enum LinearAlgebra {
    /// Cholesky factor `L` (lower, `A = L Lᵀ`) in place; false if `A` is not positive definite.
    static func choleskyInPlace(_ a: inout [Double], n: Int) -> Bool {
        a.withUnsafeMutableBufferPointer { m in
            for j in 0..<n {
                let rowJ = m.baseAddress! + j * n
                var diagonal = rowJ[j]
                for k in 0..<j { diagonal -= rowJ[k] * rowJ[k] }
                guard diagonal > 0, diagonal.isFinite else { return false }
                let pivot = diagonal.squareRoot()
                rowJ[j] = pivot
                for i in j + 1 ..< n {
                    let rowI = m.baseAddress! + i * n
                    var s = rowI[j]
                    for k in 0..<j { s -= rowI[k] * rowJ[k] }
                    rowI[j] = s / pivot
                }
            }
            for i in 0..<n { for j in i + 1 ..< n { m[i * n + j] = 0 } }
            return true
        }
    }

    /// Inverse of a lower-triangular `L` (lower-triangular too).
    static func invertLower(_ l: [Double], n: Int) -> [Double] {
        var inverse = [Double](repeating: 0, count: n * n)
        for column in 0..<n {
            inverse[column * n + column] = 1 / l[column * n + column]
            for i in column + 1 ..< n {
                var s: Double = 0
                for k in column..<i { s -= l[i * n + k] * inverse[k * n + column] }
                inverse[i * n + column] = s / l[i * n + i]
            }
        }
        return inverse
    }

    /// Solves `L Lᵀ x = b` given the Cholesky factor `L` (row-major `n × n`, lower).
    static func solveCholesky(_ l: [Double], _ b: [Double], n: Int) -> [Double] {
        var y = b
        for i in 0..<n {
            for k in 0..<i { y[i] -= l[i * n + k] * y[k] }
            y[i] /= l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for k in i + 1 ..< n { y[i] -= l[k * n + i] * y[k] }
            y[i] /= l[i * n + i]
        }
        return y
    }

    /// Column means of `[rows, d]` in Double.
    static func columnMeans(_ x: UnsafePointer<Float>, rows: Int, d: Int) -> [Double] {
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<rows { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
        return mean.map { $0 / Double(rows) }
    }

    /// `Σᵣ xᵣᵀ xᵣ` of `[rows, d]` as Double (one float GEMM).
    static func gram(_ x: [Float], rows: Int, d: Int) -> [Double] {
        var g = [Float](repeating: 0, count: d * d)
        x.withUnsafeBufferPointer { p in
            g.withUnsafeMutableBufferPointer { out in
                sgemm(m: d, n: d, k: rows, a: p.baseAddress!, lda: d, transposeA: true,
                      b: p.baseAddress!, ldb: d, c: out.baseAddress!, ldc: d)
            }
        }
        return g.map(Double.init)
    }

    /// `xᵣ − μ` for each row of `x` (`[rows, d]`), in Float.
    static func centred(_ x: UnsafePointer<Float>, rows: Int, d: Int, mean: [Double]) -> [Float] {
        var out = [Float](repeating: 0, count: rows * d)
        for r in 0..<rows { for j in 0..<d { out[r * d + j] = Float(Double(x[r * d + j]) - mean[j]) } }
        return out
    }

    /// `A Bᵀ` of row-major `A` `[rowsA, d]` and `B` `[rowsB, d]`: `[rowsA, rowsB]`.
    ///
    /// One product per row of `A`, always of the same shape: OpenBLAS picks its kernel by
    /// matrix size, so a batched product could give a row other last bits depending on how
    /// many rows share its batch; this way a row's values never depend on the others.
    static func timesTransposed(_ a: [Float], rows rowsA: Int, _ b: [Float], rows rowsB: Int, d: Int) -> [Float] {
        var product = [Float](repeating: 0, count: rowsA * rowsB)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                product.withUnsafeMutableBufferPointer { out in
                    for r in 0..<rowsA {
                        sgemm(m: 1, n: rowsB, k: d, a: pa.baseAddress! + r * d, lda: d,
                              b: pb.baseAddress!, ldb: d, transposeB: true, c: out.baseAddress! + r * rowsB, ldc: rowsB)
                    }
                }
            }
        }
        return product
    }

    /// Squared norms of `W · (xᵣ − μ)` for each row of `x` (`[rows, d]`), `W` being `[d, d]`.
    static func whitenedSquaredNorms(_ x: UnsafePointer<Float>, rows: Int, d: Int,
                                     mean: [Double], whitening: [Float]) -> [Double] {
        let z = timesTransposed(centred(x, rows: rows, d: d, mean: mean), rows: rows, whitening, rows: d, d: d)
        return (0..<rows).map { r in
            var s: Double = 0
            for j in 0..<d { let v = Double(z[r * d + j]); s += v * v }
            return s
        }
    }
}
