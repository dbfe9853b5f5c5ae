import XCTest

final class ScorersPlaceholderTests: XCTestCase {
    func testPlaceholder() {}
}
