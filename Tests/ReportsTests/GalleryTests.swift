import Foundation
import Reports
import XCTest

final class GalleryTests: XCTestCase {
    func testCardsAreEscapedAndLinkedRelatively() throws {
        let card = Gallery.Card(image: "gallery/01 <a>&b.png", title: "test/<script>x</script>", label: "anomalous (\"crack\")",
                                isAnomalous: true, score: 0.123456, metadata: [(name: "site", value: "A&B")])
        let html = try Gallery.html([Gallery.Section(title: "Most anomalous", note: "scores ≥ 1 < 2", cards: [card])])
        XCTAssertTrue(html.contains("<img src=\"gallery/01%20%3Ca%3E%26b.png\""), html)
        XCTAssertTrue(html.contains("test/&lt;script&gt;x&lt;/script&gt;"), html)
        XCTAssertTrue(html.contains("anomalous (&quot;crack&quot;)"), html)
        XCTAssertTrue(html.contains("score 0.1235"), html)
        XCTAssertTrue(html.contains("site: A&amp;B"), html)
        XCTAssertTrue(html.contains("scores ≥ 1 &lt; 2"), html)
        XCTAssertTrue(html.contains("class=\"gallery-card anomalous\""), html)
        XCTAssertFalse(html.contains("<script"), html)
    }

    func testAbsoluteAndParentLinksAreRefused() {
        for path in ["/data/x.png", "../x.png", "a/../../x.png", "file:///x.png", "", "a//b.png"] {
            XCTAssertThrowsError(try Gallery.html([Gallery.Section(title: "s", cards: [Gallery.Card(image: path, title: "t")])]),
                                 path) { XCTAssertTrue("\($0)".contains("not a relative path"), "\($0)") }
        }
    }

    func testPageIsWellFormedAndHasNoScript() throws {
        let sections = [Gallery.Section(title: "Empty", cards: []),
                        Gallery.Section(title: "One", cards: [Gallery.Card(image: "a.png", title: "a", score: 2)])]
        let page = try Gallery.page(title: "Scores & images", sections: sections)
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(page.contains("<title>Scores &amp; images</title>"))
        XCTAssertTrue(page.contains("<p class=\"gallery-empty\">none</p>"))
        XCTAssertFalse(page.lowercased().contains("<script"))
        XCTAssertEqual(page.components(separatedBy: "<figure").count - 1, 1)
    }
}
