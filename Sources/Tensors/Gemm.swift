import CBLAS
import CConvolutionKernels
import Dispatch

/// Single-precision matrix multiply through OpenBLAS:
/// `C[m, n] = alpha · op(A) · op(B) + beta · C`, all row-major.
///
/// - `a` holds `op(A)` as `[m, k]` (or `[k, m]` when `transposeA`), row stride `lda`.
/// - `b` holds `op(B)` as `[k, n]` (or `[n, k]` when `transposeB`), row stride `ldb`.
/// - `c` is `[m, n]` with row stride `ldc`.
@inlinable
public func sgemm(
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    BLASThreads.pinToOne()
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb),
                beta, c, Int32(ldc))
}

/// Matrix product of two rank-2 tensors on Trawl's GEMM: `[m, k] · [k, n]` → `[m, n]`,
/// or with `transposeB`, `[m, k] · [n, k]ᵀ` → `[m, n]`. Each entry is one multiply-add chain
/// over `k` from 0 (``trawl_gemm_unpacked``), so its bits depend on its row of `a` and column of
/// `b` only: never on the shapes, the thread count, the CPU or the OpenBLAS installed. Blocks
/// of ``matmulRowBlock`` rows are spread over the cores.
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul of shapes \(a.shape) and \(b.shape)")
    let m = a.shape[0], k = a.shape[1]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition((transposeB ? b.shape[1] : b.shape[0]) == k,
                 "matmul inner extents differ: \(a.shape) and \(b.shape)")
    var right = b.data   // `[k, n]`
    if transposeB {
        for i in 0..<n { for j in 0..<k { right[j * n + i] = b.data[i * k + j] } }
    }
    var out = Tensor(shape: [m, n])
    a.data.withUnsafeBufferPointer { pa in
        right.withUnsafeBufferPointer { pb in
            out.data.withUnsafeMutableBufferPointer { pc in
                let (left, product) = (pa.baseAddress!, pc.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: (m + matmulRowBlock - 1) / matmulRowBlock) { block in
                    let first = block * matmulRowBlock, rows = min(matmulRowBlock, m - first)
                    trawl_gemm_unpacked(rows, n, k, left + first * k, k, pb.baseAddress, n, product + first * n, n, nil)
                }
            }
        }
    }
    return out
}

/// Rows of one job of ``matmul(_:_:transposeB:)``.
let matmulRowBlock = 512

/// OpenBLAS's thread pool is never used: every product runs on the thread that asks for it.
/// OpenBLAS splits a multi-threaded product differently by thread count and CPU, which changes
/// the last bits of the result; on one thread a product's bits depend only on its operands.
/// Trawl spreads its own loops over the cores instead (images of a batch, query blocks,
/// coreset blocks), with partitions that do not depend on the core count, so results are the
/// same whatever `OPENBLAS_NUM_THREADS`, the core count or the batch an image comes in.
public enum BLASThreads {
    /// The number of threads OpenBLAS would use now (1 once Trawl has multiplied anything).
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets OpenBLAS to one thread if anything (the environment, another library) changed it.
    /// Call before any BLAS or LAPACK routine other than ``sgemm(m:n:k:alpha:a:lda:transposeA:b:ldb:transposeB:beta:c:ldc:)``.
    @inlinable
    public static func pinToOne() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }
}

/// What the OpenBLAS in use is, for code whose exactness rests on how its sgemm rounds.
public enum BLASLibrary {
    /// OpenBLAS's kernel family for this CPU (`openblas_get_corename`: "Zen", "Haswell", "SkylakeX", …).
    public static let coreName = String(cString: openblas_get_corename())
}
