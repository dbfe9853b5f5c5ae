import Tensors
import XCTest

/// ActivationPool: a layer's output reuses a recycled array of its count inside a pool, and the
/// array's old elements (NaN here) never reach the output, on every path that creates one.
final class ActivationPoolTests: XCTestCase {
    func testEveryLayerOverwritesARecycledArray() {
        var generator = SplitMix64(seed: 0x15B)
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(generator.next() >> 40) / Float(1 << 23) - 1 })
        }
        func conv(_ shape: [Int], bias: Bool, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                  activation: Activation = .identity) -> Conv2D {
            Conv2D(weight: random(shape), bias: bias ? random([shape[0]]).data : nil, stride: stride,
                   padding: .uniform(padding), groups: groups, activation: activation)
        }
        let shortcut = random([2, 6, 5, 6])
        let ending = conv([6, 8, 3, 3], bias: true, stride: 2, padding: 1)
        let layers: [(String, Tensor, (Tensor) -> Tensor)] = [
            ("im2col 3×3 stride 2, no bias", random([2, 8, 9, 11]), conv([6, 8, 3, 3], bias: false, stride: 2, padding: 1).callAsFunction),
            ("im2col 3×3 stride 2, bias, ReLU", random([2, 8, 9, 11]),
             conv([6, 8, 3, 3], bias: true, stride: 2, padding: 1, activation: .relu).callAsFunction),
            ("im2col with a residual ending", random([2, 8, 9, 11]),
             { ending($0, adding: shortcut, then: .relu) }),
            ("Winograd 3×3", random([3, 16, 10, 12]), conv([16, 16, 3, 3], bias: true, padding: 1).callAsFunction),
            ("1×1 on Trawl's GEMM", random([2, 24, 28, 28]), conv([16, 24, 1, 1], bias: true, activation: .relu6).callAsFunction),
            ("1×1 on OpenBLAS, no bias", random([2, 24, 7, 9]), conv([64, 24, 1, 1], bias: false).callAsFunction),
            ("1×1 on OpenBLAS, bias", random([2, 24, 7, 9]), conv([64, 24, 1, 1], bias: true).callAsFunction),
            ("depthwise stride 2", random([2, 12, 9, 9]),
             conv([12, 1, 3, 3], bias: true, stride: 2, padding: 1, groups: 12, activation: .relu6).callAsFunction),
            ("max pool", random([2, 5, 13, 13]), { maxPool2d($0, kernel: 3, stride: 2, padding: 1) }),
        ]
        for (name, x, layer) in layers {
            let expected = layer(x)
            ActivationPool.withPool {
                let poison = Tensor(shape: [expected.count], repeating: .nan)
                let poisonAddress = address(poison)
                ActivationPool.recycle(consume poison)
                let y = layer(x)
                XCTAssertEqual(address(y), poisonAddress, "\(name): the output is not the recycled array")
                XCTAssertEqual(y.shape, expected.shape, name)
                XCTAssertEqual(y.data.map(\.bitPattern), expected.data.map(\.bitPattern), name)
            }
        }
    }

    /// Only an array of the output's count is reused, the most recently recycled first, at most
    /// four held; a nested pool starts empty and the outer one is back after it.
    func testReusesExactCountsNewestFirstWithinItsPool() {
        let identity = { (x: Tensor) in maxPool2d(x, kernel: 1, stride: 1) }  // an output of x's count
        let input = Tensor(shape: [1, 1, 1, 1000], repeating: 1)
        ActivationPool.withPool {
            var recycled: [UnsafePointer<Float>?] = []
            for _ in 0..<5 {
                let spare = Tensor(shape: [1000], repeating: 0)
                recycled.append(address(spare))
                ActivationPool.recycle(consume spare)
            }
            let other = Tensor(shape: [999], repeating: 0)
            let otherAddress = address(other)
            ActivationPool.recycle(consume other)  // held: recycled[2...4], other (0 and 1 evicted)

            ActivationPool.withPool {
                XCTAssertFalse(recycled[2...].contains(address(identity(input))), "a nested pool reused its outer pool's array")
            }
            let reused = (0..<3).map { _ in address(identity(input)) }
            XCTAssertEqual(reused, [recycled[4], recycled[3], recycled[2]])
            XCTAssertEqual(address(identity(Tensor(shape: [1, 1, 1, 999], repeating: 1))), otherAddress)
        }
    }

    private func address(_ tensor: Tensor) -> UnsafePointer<Float>? {
        tensor.data.withUnsafeBufferPointer { $0.baseAddress }
    }
}
