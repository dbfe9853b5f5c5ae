import CMalloc

/// How the memory of freed tensors goes back to the C allocator.
///
/// A forward pass allocates every layer's output fresh and frees its input: blocks of up to
/// tens of MiB (WRN-50-2's `layer1` output is 12.8 MiB per group of four images at 224²).
/// By default glibc hands such blocks back to the kernel as they are freed (blocks over its
/// mmap threshold are unmapped; free space at a heap's top beyond its trim threshold is
/// released), so the next layer faults the same amount in again and the kernel zeroes every
/// page: about 7 % of the CPU time of `make bench`'s backbone section went to page faults.
public enum ActivationMemory {
    /// Keeps freed blocks in the process for reuse: blocks up to 32 MiB (glibc's largest mmap
    /// threshold) come from the heap instead of their own mapping, and a heap's free top is
    /// released only beyond 1 GiB. The process's resident memory then stays near its peak
    /// instead of falling between layers; the peak itself does not grow. Call once, before
    /// the work starts (the `trawl` command and the benchmarks do).
    public static func keepFreedBlocks() {
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)
    }
}
