import XCTest

final class ImagesPlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
