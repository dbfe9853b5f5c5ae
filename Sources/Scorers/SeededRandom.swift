#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// A seeded pseudo-random generator (xoshiro256**, state filled by SplitMix64).
///
/// Everything random in the scorers (coreset start points, projections,
/// k-means++ seeding) draws from this generator so that one seed gives
/// bit-identical results on every run.
public struct SeededRandom: RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var mix = SplitMix64(seed: seed)
        state = (mix.next(), mix.next(), mix.next(), mix.next())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    /// A uniform double in `[0, 1)` with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal draw (Box–Muller, the cosine branch only).
    public mutating func nextGaussian() -> Double {
        let u1 = 1 - nextUnit()          // (0, 1]: log stays finite
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// `count` distinct indices drawn uniformly from `0..<population`
    /// (partial Fisher–Yates), in draw order.
    public mutating func distinctIndices(_ count: Int, from population: Int) -> [Int] {
        precondition(count <= population, "cannot draw \(count) distinct of \(population)")
        var pool = Array(0..<population)
        for i in 0..<count {
            let j = i + Int(next() % UInt64(population - i))
            pool.swapAt(i, j)
        }
        return Array(pool.prefix(count))
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
