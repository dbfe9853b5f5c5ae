import Checksums
import Tensors
import XCTest

/// The bits of Winograd layers' outputs, pinned as SHA-256 digests: at stride 1 recorded from
/// the Swift transforms before they moved to C (`winograd_transforms.c`), at stride 2 when
/// that scheme was written. The transforms are adds, subtracts and multiplications by 2, 4, 5
/// and 8 in a fixed order and the products are ``trawl_gemm``'s fixed chains, so the digests
/// hold on every CPU and on either path.
/// The layers cover partial tiles (13×17, 7×45, and 7×9 outputs at stride 2), channel counts
/// that are not whole blocks of eight, asymmetric padding, no bias, identity, ReLU and ReLU6,
/// residual endings, 56², a group of five images at 14² and of three at 28² (stride 2).
final class WinogradBitsTests: XCTestCase {
    private struct Layer {

        let channels: Int, outputs: Int, height: Int, width: Int, images: Int
        var stride = 1
        let padding: Padding2D
        let biased: Bool
        let activation: Activation
        /// The residual ending's activation, or nil for none.
        let ending: Activation?
        let digest: String
    }

    private let layers: [Layer] = [
        Layer(channels: 16, outputs: 24, height: 13, width: 17, images: 2, padding: .uniform(1), biased: true,
              activation: .relu, ending: .relu, digest:
              "e59c19b59e2dc50a7d89f9ebc5cdbf5845bf191edb527fb6abc59f1644275577"),
        Layer(channels: 19, outputs: 21, height: 14, width: 14, images: 3, padding: .uniform(1), biased: false,
              activation: .identity, ending: nil, digest:
              "55da326edc9354b044be5e2b884bb2a6d8c9027eab5540aa888496f9dbc037fb"),
        Layer(channels: 35, outputs: 40, height: 7, width: 45, images: 2, padding: Padding2D(top: 0, left: 1, bottom: 2, right: 3),
              biased: true, activation: .relu6, ending: .identity, digest:
              "37ab3861d7268b0982df431ec1e92c249d356672b45fb876968d89131db5fcd2"),
        Layer(channels: 64, outputs: 64, height: 56, width: 56, images: 1, padding: .uniform(1), biased: true,
              activation: .relu, ending: nil, digest:
              "95940290900d52a6dce0ef0d7e3fa6f65abb85f7d6d5f5b3263fd4622c1e505f"),
        Layer(channels: 260, outputs: 250, height: 14, width: 14, images: 5, padding: .uniform(1), biased: true,
              activation: .identity, ending: .relu, digest:
              "07469a6da5726e3276f25be6b8738c9e7abfc1f88bca2650b890b91e6e470ee7"),
        Layer(channels: 19, outputs: 21, height: 13, width: 17, images: 2, stride: 2, padding: .uniform(1), biased: true,
              activation: .relu, ending: .relu, digest:
              "e9f6aad1b8c7ec022197043480c47ffad187f49b9519d1ee724c514f87d80568"),
        Layer(channels: 64, outputs: 128, height: 56, width: 56, images: 1, stride: 2, padding: .uniform(1), biased: true,
              activation: .relu, ending: nil, digest:
              "10f6f29ed72a15bff03dae9268812b1395f5eb4263681f9bf96079a74d13b783"),
        Layer(channels: 260, outputs: 250, height: 28, width: 28, images: 3, stride: 2,
              padding: Padding2D(top: 0, left: 1, bottom: 2, right: 3), biased: false, activation: .identity,
              ending: nil, digest:
              "a38ca78b74b8264b4dbbf9b7a238814d333af5ba935633bbd0d6e8bbf42533d5"),
    ]

    func testOutputBitsAreThoseOfTheSwiftTransforms() {
        var generator = SplitMix64(seed: 0x5EED_0015)
        for layer in layers {
            let weight = randomTensor([layer.outputs, layer.channels, 3, 3], scale: 0.1, &generator)
            let bias = layer.biased ? (0..<layer.outputs).map { _ in uniform(&generator) } : nil
            let conv = Conv2D(weight: weight, bias: bias, stride: layer.stride, padding: layer.padding,
                              activation: layer.activation)
            let x = randomTensor([layer.images, layer.channels, layer.height, layer.width], scale: 1, &generator)
            let y: Tensor
            if let final = layer.ending {
                let (outH, outW) = conv.outputSize(height: layer.height, width: layer.width)
                let shortcut = randomTensor([layer.images, layer.outputs, outH, outW], scale: 1, &generator)
                y = conv(x, adding: shortcut, then: final)
            } else {
                y = conv(x)
            }
            var hash = SHA256()
            y.data.withUnsafeBytes { hash.update($0) }
            let digest = hash.finalize().hex
            let label = "s\(layer.stride) c\(layer.channels) o\(layer.outputs) \(layer.height)x\(layer.width) n\(layer.images)"
            print("Winograd bits \(label): \(digest)")
            XCTAssertEqual(digest, layer.digest, label)
        }
    }

    /// The next value of `generator` in [-1, 1), on a 2⁻²³ grid.
    private func uniform(_ generator: inout SplitMix64) -> Float {
        Float(generator.next() >> 40) / Float(1 << 23) - 1
    }

    /// A tensor of `shape` filled with ``uniform(_:)`` values times `scale`, in row-major order.
    private func randomTensor(_ shape: [Int], scale: Float, _ generator: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in uniform(&generator) * scale })
    }
}
