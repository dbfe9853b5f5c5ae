import Foundation

/// UMAP's low-dimensional similarity `1 / (1 + a·d^(2b))` at distance `d`, with `a, b`
/// fitted by least squares to the target curve: 1 for `d < minDistance`, else
/// `exp(−(d − minDistance) / spread)`, on 300 points evenly spaced over `[0, 3·spread]`
/// (umap-learn's `find_ab_params`; minDistance 0.1 and spread 1 give a ≈ 1.5769, b ≈ 0.8951).
public struct LowDimensionalCurve: Equatable, Sendable {
    public let a: Double
    public let b: Double

    /// Fits `a, b` by Levenberg–Marquardt from (1, 1) (scipy `curve_fit`'s default start).
    public init(minDistance: Double, spread: Double) {
        let xs = (0..<300).map { 3 * spread * Double($0) / 299 }
        let ys = xs.map { $0 < minDistance ? 1 : exp(-($0 - minDistance) / spread) }
        func cost(_ a: Double, _ b: Double) -> Double {
            zip(xs, ys).reduce(0) { sum, point in
                let r = 1 / (1 + a * pow(point.0, 2 * b)) - point.1
                return sum + r * r
            }
        }
        var (a, b, damping) = (1.0, 1.0, 1e-3)
        var current = cost(a, b)
        for _ in 0..<500 {
            // Normal equations JᵀJ δ = −Jᵀr of the residuals f(x) − y.
            var (jaa, jab, jbb, ga, gb) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for (x, y) in zip(xs, ys) where x > 0 {
                let power = pow(x, 2 * b)
                let f = 1 / (1 + a * power)
                let dfda = -power * f * f
                let dfdb = dfda * a * 2 * log(x)
                jaa += dfda * dfda; jab += dfda * dfdb; jbb += dfdb * dfdb
                ga += dfda * (f - y); gb += dfdb * (f - y)
            }
            var improved = false
            while damping < 1e12 {
                let (maa, mbb) = (jaa * (1 + damping), jbb * (1 + damping))
                let determinant = maa * mbb - jab * jab
                let da = (-ga * mbb + gb * jab) / determinant
                let db = (-gb * maa + ga * jab) / determinant
                let trial = cost(a + da, b + db)
                if trial < current {
                    let step = abs(da) + abs(db)
                    (a, b, current, damping) = (a + da, b + db, trial, damping / 10)
                    improved = step > 1e-14 * (abs(a) + abs(b))
                    break
                }
                damping *= 10
            }
            if !improved { break }
        }
        self.a = a
        self.b = b
    }
}
