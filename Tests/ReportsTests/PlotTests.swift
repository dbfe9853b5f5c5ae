import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Reports
import XCTest

final class PlotTests: XCTestCase {
    func testNiceTicksMatchHandComputedValues() {
        XCTAssertEqual(Ticks.nice(lower: 0, upper: 1), [0, 0.2, 0.4, 0.6, 0.8, 1])
        // Range 0.84 → nice 1, step nice(0.2) = 0.2; the axis widens to whole steps.
        XCTAssertEqual(Ticks.nice(lower: 0.13, upper: 0.97), [0, 0.2, 0.4, 0.6, 0.8, 1])
        // Range 50 → step 10, widened from -3…47 to -10…50.
        XCTAssertEqual(Ticks.nice(lower: -3, upper: 47), [-10, 0, 10, 20, 30, 40, 50])
        // An empty range is widened by 10 %: 1.8…2.2, step 0.1 (not a tick past 2.2 from rounding).
        XCTAssertEqual(Ticks.nice(lower: 2, upper: 2), [1.8, 1.9, 2, 2.1, 2.2])
        // 0…0 widens to ±0.5: range 1, step 0.2, and ±2.5 steps round out to ±3.
        XCTAssertEqual(Ticks.nice(lower: 0, upper: 0), [-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6])
        XCTAssertEqual(Ticks.nice(lower: 1200, upper: 9800, count: 5), [0, 2000, 4000, 6000, 8000, 10000])
        XCTAssertEqual(Ticks.label(0.2, step: 0.2), "0.2")
        XCTAssertEqual(Ticks.label(0.05, step: 0.05), "0.05")
        XCTAssertEqual(Ticks.label(40, step: 10), "40")
        XCTAssertEqual(Ticks.label(0, step: 0.1), "0.0")
        XCTAssertEqual(Ticks.label(-0.0, step: 0.1), "0.0")
        XCTAssertEqual(Ticks.label(2e-5, step: 1e-5), "2e-05")
    }

    func testHistogramCountsFollowNumPy() {
        // numpy.histogram([0, .5, 1, 1.5, 2, 2.5, 3, -1, 4], bins=[0, 1, 2, 3]) → [2, 2, 3]: the
        // last bin is closed, values outside are dropped; NaN is dropped too.
        let histogram = Histogram(values: [0, 0.5, 1, 1.5, 2, 2.5, 3, -1, 4, .nan], edges: [0, 1, 2, 3])
        XCTAssertEqual(histogram.counts, [2, 2, 3])
        XCTAssertEqual(Histogram.edges(lower: 0, upper: 1, bins: 4), [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(Histogram.edges(lower: 3, upper: 3, bins: 2), [2.5, 3, 3.5])
        XCTAssertEqual(Histogram(values: [0.1, 0.3, 0.3, 0.99, 1], edges: Histogram.edges(lower: 0, upper: 1, bins: 4)).counts,
                       [1, 2, 0, 2])
    }

    func testPlotIsWellFormedSVGWithAxisLabelsAndLegend() throws {
        let plot = Plot(title: "A & B <test>", xLabel: "false positive rate", yLabel: "true positive rate",
                        series: [Plot.Series(name: "point 0", colour: Plot.palette[0], points: [(0, 0), (0.5, 0.8), (1, 1)]),
                                 Plot.Series.histogram(name: "scores", colour: Plot.palette[1], edges: [0, 0.5, 1], heights: [0.2, 0.4]),
                                 Plot.Series(name: nil, colour: "#999", points: [(0.2, 0.2)], mark: .points(radius: 2))],
                        rules: [Plot.Rule(x: 0.7, name: "threshold 0.7")], xRange: 0...1, yRange: 0...1)
        let summary = try SVGSummary(plot.svg())
        XCTAssertEqual(summary.axisLabels, ["false positive rate", "true positive rate"])
        XCTAssertEqual(summary.legendTexts, ["point 0", "scores", "threshold 0.7"])
        XCTAssertEqual(summary.title, "A & B <test>")
        XCTAssertEqual(summary.tickLabels.prefix(6), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }

    func testFigurePanelsHaveTheirOwnClipPaths() throws {
        let panel = Plot(title: "p", xLabel: "x", yLabel: "y", series: [Plot.Series(name: "s", colour: "#000", points: [(0, 1), (1, 2)])])
        let summary = try SVGSummary(svgFigure([panel, panel], title: "two"))
        XCTAssertEqual(summary.axisLabels, ["x", "y", "x", "y"])
        XCTAssertEqual(summary.ids, ["p0-frame", "p1-frame"])
    }
}

/// What a test needs to know about an SVG document: it parses as XML (else the initialiser
/// throws), and the texts of its title, axis labels, legend entries and tick labels.
struct SVGSummary {
    var title = ""
    var axisLabels = [String]()
    var legendTexts = [String]()
    var tickLabels = [String]()
    var ids = [String]()

    init(_ svg: String) throws {
        let collector = Collector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse(), parser.parserError == nil else {
            throw ReportError("not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        }
        guard collector.root == "svg" else { throw ReportError("root element is \(collector.root ?? "none"), not svg") }
        title = collector.title
        axisLabels = collector.axisLabels
        legendTexts = collector.legendTexts
        tickLabels = collector.tickLabels
        ids = collector.ids
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var root: String?
        var title = ""
        var axisLabels = [String]()
        var legendTexts = [String]()
        var tickLabels = [String]()
        var ids = [String]()
        private var stack = [(name: String, classes: String)]()
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            if let id = attributes["id"] { ids.append(id) }
            stack.append((name, attributes["class"] ?? ""))
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let element = stack.removeLast()
            if name == "title", stack.count == 1 { title = text }
            if name == "text" {
                if element.classes.contains("axis-label") { axisLabels.append(text) }
                else if stack.contains(where: { $0.classes == "legend" }) { legendTexts.append(text) }
                else if stack.contains(where: { $0.classes == "axes" }) { tickLabels.append(text) }
            }
            text = ""
        }
    }
}
