/// Order-preserving map of a finite `Float` to `UInt32`: `a < b ⇔ key(a) < key(b)`, and
/// −0 and +0 share one key.
@inline(__always)
func sortableKey(_ value: Float) -> UInt32 {
    let bits = (value == 0 ? 0 : value).bitPattern
    return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
}

/// Sorts `values` ascending by their upper 32 bits, keeping the order of equal keys
/// (least-significant-digit radix sort, four byte passes; a pass on which every value has
/// the same byte is skipped). O(n) time, one n-element scratch buffer.
func radixSortByUpperHalf(_ values: inout [UInt64]) {
    let count = values.count
    guard count > 1 else { return }
    var scratch = [UInt64](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { original in
        scratch.withUnsafeMutableBufferPointer { spare in
            var source = original
            var destination = spare
            var offsets = [Int](repeating: 0, count: 256)
            for shift in stride(from: UInt64(32), to: 64, by: 8) {
                for d in 0..<256 { offsets[d] = 0 }
                for value in source { offsets[Int(truncatingIfNeeded: value >> shift) & 0xFF] += 1 }
                if offsets.contains(count) { continue }
                var start = 0
                for d in 0..<256 {
                    let bucket = offsets[d]
                    offsets[d] = start
                    start += bucket
                }
                for value in source {
                    let digit = Int(truncatingIfNeeded: value >> shift) & 0xFF
                    destination[offsets[digit]] = value
                    offsets[digit] += 1
                }
                swap(&source, &destination)
            }
            if source.baseAddress != original.baseAddress {
                _ = original.update(fromContentsOf: source)
            }
        }
    }
}
