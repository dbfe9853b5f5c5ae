import Foundation

/// A two-dimensional chart drawn as SVG: axes with nice ticks and labels, a title, a legend,
/// and series drawn as lines, steps, filled histograms or points, plus labelled vertical
/// rules (thresholds). Coordinates are data units; the drawing is in CSS pixels.
public struct Plot {
    /// How a series is drawn.
    public enum Mark: Equatable, Sendable {
        /// Straight segments through the points, in order.
        case line
        /// Segments and a dot on every point.
        case lineAndPoints
        /// A closed outline filled at low opacity (histograms as step outlines).
        case area
        /// Dots of this radius, no lines.
        case points(radius: Double)
    }

    public struct Series {
        /// Shown in the legend; nil for series the legend leaves out.
        public var name: String?
        /// CSS colour, e.g. `#1f77b4`.
        public var colour: String
        public var points: [(x: Double, y: Double)]
        public var mark: Mark
        /// Stroke width in pixels.
        public var width: Double
        public var dashed: Bool
        public var opacity: Double

        public init(name: String?, colour: String, points: [(x: Double, y: Double)], mark: Mark = .line,
                    width: Double = 2, dashed: Bool = false, opacity: Double = 1) {
            self.name = name
            self.colour = colour
            self.points = points
            self.mark = mark
            self.width = width
            self.dashed = dashed
            self.opacity = opacity
        }

        /// A histogram as a filled step outline: up the left edge of the first bin, across
        /// every bin's top at `heights[i]` (counts, or counts scaled), down the last edge.
        public static func histogram(name: String?, colour: String, edges: [Double], heights: [Double]) -> Series {
            var points = [(x: edges[0], y: 0.0)]
            for (i, height) in heights.enumerated() {
                points += [(edges[i], height), (edges[i + 1], height)]
            }
            points.append((edges[edges.count - 1], 0))
            return Series(name: name, colour: colour, points: points, mark: .area, width: 1.5)
        }
    }

    /// A vertical line across the plot at `x`, named in the legend.
    public struct Rule {
        public var x: Double
        public var name: String
        public var colour: String

        public init(x: Double, name: String, colour: String = "#222222") {
            self.x = x
            self.name = name
            self.colour = colour
        }
    }

    /// Where the legend goes unless another corner hides less of the data.
    public enum LegendCorner: Sendable { case topRight, bottomRight, topLeft, bottomLeft }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var rules: [Rule]
    /// Fixed axis ranges (e.g. 0…1 for ROC); nil fits the data on nice ticks.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Names for x = 0, 1, 2, … when the x axis is categorical.
    public var xCategories: [String]?
    public var legendCorner: LegendCorner

    public init(title: String, xLabel: String, yLabel: String, series: [Series], rules: [Rule] = [],
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                xCategories: [String]? = nil, legendCorner: LegendCorner = .topRight) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.rules = rules
        self.xRange = xRange
        self.yRange = yRange
        self.xCategories = xCategories
        self.legendCorner = legendCorner
    }

    /// Ten distinguishable colours (matplotlib's `tab10`).
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// A complete SVG document, `width` × `height` pixels.
    public func svg(width: Double = 600, height: Double = 420) -> String {
        svgDocument(width: width, height: height, title: title,
                    body: drawing(x: 0, y: 0, width: width, height: height, id: "p"))
    }

    /// The plot as an SVG group placed at (`x`, `y`); `id` keeps its clip path unique when
    /// several plots share a document.
    public func drawing(x left: Double, y top: Double, width: Double, height: Double, id: String) -> String {
        let frame = (left: left + 66, top: top + 34, right: left + width - 14, bottom: top + height - 50)
        let xs = axis(fixed: xRange, values: series.flatMap { $0.points.map(\.x) } + rules.map(\.x), categorical: xCategories)
        let ys = axis(fixed: yRange, values: series.flatMap { $0.points.map(\.y) }, categorical: nil)
        func px(_ x: Double) -> Double { frame.left + (x - xs.lower) / (xs.upper - xs.lower) * (frame.right - frame.left) }
        func py(_ y: Double) -> Double { frame.bottom - (y - ys.lower) / (ys.upper - ys.lower) * (frame.bottom - frame.top) }

        var svg = "<g class=\"plot\">\n"
        svg += "<text class=\"title\" x=\"\(f(left + width / 2))\" y=\"\(f(top + 20))\" text-anchor=\"middle\" "
            + "font-size=\"15\" font-weight=\"600\">\(escapeHTML(title))</text>\n"
        // Grid and ticks.
        svg += "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n"
        for tick in xs.ticks {
            let x = px(tick.value)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(frame.top))\" x2=\"\(f(x))\" y2=\"\(f(frame.bottom))\" stroke=\"#e6e6e6\"/>"
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(frame.bottom))\" x2=\"\(f(x))\" y2=\"\(f(frame.bottom + 5))\" stroke=\"#333\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(frame.bottom + 18))\" text-anchor=\"middle\">\(escapeHTML(tick.label))</text>\n"
        }
        for tick in ys.ticks {
            let y = py(tick.value)
            svg += "<line x1=\"\(f(frame.left))\" y1=\"\(f(y))\" x2=\"\(f(frame.right))\" y2=\"\(f(y))\" stroke=\"#e6e6e6\"/>"
            svg += "<line x1=\"\(f(frame.left - 5))\" y1=\"\(f(y))\" x2=\"\(f(frame.left))\" y2=\"\(f(y))\" stroke=\"#333\"/>"
            svg += "<text x=\"\(f(frame.left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escapeHTML(tick.label))</text>\n"
        }
        svg += "<rect x=\"\(f(frame.left))\" y=\"\(f(frame.top))\" width=\"\(f(frame.right - frame.left))\" "
            + "height=\"\(f(frame.bottom - frame.top))\" fill=\"none\" stroke=\"#333\"/>\n"
        svg += "<text class=\"axis-label x-label\" x=\"\(f((frame.left + frame.right) / 2))\" y=\"\(f(frame.bottom + 38))\" "
            + "text-anchor=\"middle\" font-size=\"13\">\(escapeHTML(xLabel))</text>\n"
        svg += "<text class=\"axis-label y-label\" transform=\"translate(\(f(left + 16)) \(f((frame.top + frame.bottom) / 2))) "
            + "rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">\(escapeHTML(yLabel))</text>\n"
        svg += "</g>\n"

        // Data, clipped to the frame.
        svg += "<clipPath id=\"\(id)-frame\"><rect x=\"\(f(frame.left))\" y=\"\(f(frame.top))\" "
            + "width=\"\(f(frame.right - frame.left))\" height=\"\(f(frame.bottom - frame.top))\"/></clipPath>\n"
        svg += "<g class=\"data\" clip-path=\"url(#\(id)-frame)\">\n"
        for series in series where !series.points.isEmpty {
            let path = series.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let opacity = series.opacity < 1 ? " opacity=\"\(f(series.opacity))\"" : ""
            switch series.mark {
            case .line, .lineAndPoints:
                svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(series.colour)\" "
                    + "stroke-width=\"\(f(series.width))\" stroke-linejoin=\"round\"\(dash)\(opacity)/>\n"
                if series.mark == .lineAndPoints {
                    svg += dots(series.points.map { (px($0.x), py($0.y)) }, radius: series.width + 1.5,
                                colour: series.colour, opacity: series.opacity)
                }
            case .area:
                svg += "<polygon points=\"\(path)\" fill=\"\(series.colour)\" fill-opacity=\"0.22\" "
                    + "stroke=\"\(series.colour)\" stroke-width=\"\(f(series.width))\"\(dash)\(opacity)/>\n"
            case .points(let radius):
                svg += dots(series.points.map { (px($0.x), py($0.y)) }, radius: radius, colour: series.colour,
                            opacity: series.opacity)
            }
        }
        for rule in rules {
            let x = px(rule.x)
            svg += "<line class=\"rule\" x1=\"\(f(x))\" y1=\"\(f(frame.top))\" x2=\"\(f(x))\" y2=\"\(f(frame.bottom))\" "
                + "stroke=\"\(rule.colour)\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\n"
        }
        svg += "</g>\n"
        // Where the data is, in pixels: every point, and along lines and outlines a few more.
        var occupied = [(Double, Double)]()
        for series in series {
            let pixels = series.points.map { (px($0.x), py($0.y)) }
            occupied += pixels
            if case .points = series.mark { continue }
            for (a, b) in zip(pixels, pixels.dropFirst()) {
                occupied += (1..<4).map { (a.0 + (b.0 - a.0) * Double($0) / 4, a.1 + (b.1 - a.1) * Double($0) / 4) }
            }
        }
        occupied += rules.flatMap { rule in (0...8).map { (px(rule.x), frame.top + (frame.bottom - frame.top) * Double($0) / 8) } }
        svg += legend(frame: frame, occupied: occupied)
        return svg + "</g>\n"
    }

    private func dots(_ points: [(Double, Double)], radius: Double, colour: String, opacity: Double) -> String {
        var svg = "<g fill=\"\(colour)\"\(opacity < 1 ? " fill-opacity=\"\(f(opacity))\"" : "")>"
        for (x, y) in points { svg += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(radius))\"/>" }
        return svg + "</g>\n"
    }

    /// Entries for named series and rules, in a boxed column in the corner of the frame that
    /// covers the fewest `occupied` pixels (`legendCorner` on a tie).
    private func legend(frame: (left: Double, top: Double, right: Double, bottom: Double),
                        occupied: [(Double, Double)]) -> String {
        enum Sample { case line(String, Bool), area(String), dot(String), rule(String) }
        var entries = [(String, Sample)]()
        for series in series {
            guard let name = series.name else { continue }
            switch series.mark {
            case .line, .lineAndPoints: entries.append((name, .line(series.colour, series.dashed)))
            case .area: entries.append((name, .area(series.colour)))
            case .points: entries.append((name, .dot(series.colour)))
            }
        }
        entries += rules.map { ($0.name, Sample.rule($0.colour)) }
        guard !entries.isEmpty else { return "" }
        let rowHeight = 17.0
        let longest = entries.map(\.0.count).max()!
        let boxWidth = min(Double(longest) * 6.6 + 40, frame.right - frame.left - 12)
        let boxHeight = Double(entries.count) * rowHeight + 8
        func origin(_ corner: LegendCorner) -> (x: Double, y: Double) {
            ([.topLeft, .bottomLeft].contains(corner) ? frame.left + 8 : frame.right - 8 - boxWidth,
             [.topLeft, .topRight].contains(corner) ? frame.top + 8 : frame.bottom - 8 - boxHeight)
        }
        func covered(_ corner: LegendCorner) -> Int {
            let (x, y) = origin(corner)
            return occupied.filter { $0.0 >= x && $0.0 <= x + boxWidth && $0.1 >= y && $0.1 <= y + boxHeight }.count
        }
        let corners = [legendCorner] + [LegendCorner.topRight, .topLeft, .bottomRight, .bottomLeft].filter { $0 != legendCorner }
        let corner = corners.min { covered($0) < covered($1) }!
        let (x, y) = origin(corner)
        var svg = "<g class=\"legend\" font-size=\"12\">\n<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(boxWidth))\" "
            + "height=\"\(f(boxHeight))\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"#bbbbbb\"/>\n"
        for (index, (name, sample)) in entries.enumerated() {
            let rowY = y + 4 + Double(index) * rowHeight + rowHeight / 2
            let (x1, x2) = (x + 6, x + 28)
            switch sample {
            case .line(let colour, let dashed):
                svg += "<line x1=\"\(f(x1))\" y1=\"\(f(rowY))\" x2=\"\(f(x2))\" y2=\"\(f(rowY))\" stroke=\"\(colour)\" "
                    + "stroke-width=\"2.5\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            case .area(let colour):
                svg += "<rect x=\"\(f(x1))\" y=\"\(f(rowY - 5))\" width=\"\(f(x2 - x1))\" height=\"10\" fill=\"\(colour)\" "
                    + "fill-opacity=\"0.22\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>"
            case .dot(let colour):
                svg += "<circle cx=\"\(f((x1 + x2) / 2))\" cy=\"\(f(rowY))\" r=\"4\" fill=\"\(colour)\"/>"
            case .rule(let colour):
                svg += "<line x1=\"\(f(x1))\" y1=\"\(f(rowY))\" x2=\"\(f(x2))\" y2=\"\(f(rowY))\" stroke=\"\(colour)\" "
                    + "stroke-width=\"2\" stroke-dasharray=\"5 3\"/>"
            }
            svg += "<text x=\"\(f(x2 + 6))\" y=\"\(f(rowY + 4))\">\(escapeHTML(name))</text>\n"
        }
        return svg + "</g>\n"
    }

    /// An axis's data range and its ticks (nice numbers, or one per category).
    private func axis(fixed: ClosedRange<Double>?, values: [Double], categorical: [String]?)
        -> (lower: Double, upper: Double, ticks: [(value: Double, label: String)]) {
        if let categories = categorical {
            let every = max(1, Int((Double(categories.count) / 12).rounded(.up)))
            let ticks = categories.enumerated().filter { $0.offset % every == 0 }
                .map { (value: Double($0.offset), label: $0.element) }
            return (-0.5, Double(max(categories.count, 1)) - 0.5, ticks)
        }
        let finite = values.filter(\.isFinite)
        let lower = fixed?.lowerBound ?? finite.min() ?? 0
        let upper = fixed?.upperBound ?? finite.max() ?? 1
        let ticks = Ticks.nice(lower: lower, upper: upper)
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let shown = fixed == nil ? ticks : ticks.filter { $0 >= lower - step * 1e-9 && $0 <= upper + step * 1e-9 }
        let labelled = shown.map { (value: $0, label: Ticks.label($0, step: step)) }
        return fixed == nil ? (ticks.first!, ticks.last!, labelled) : (lower, upper == lower ? lower + 1 : upper, labelled)
    }
}

/// Several plots side by side in one SVG document (`columns` per row).
public func svgFigure(_ plots: [Plot], title: String, panelWidth: Double = 560, panelHeight: Double = 440,
                      columns: Int = 2) -> String {
    let columns = max(1, min(columns, plots.count))
    let rows = (plots.count + columns - 1) / columns
    var body = ""
    for (index, plot) in plots.enumerated() {
        body += plot.drawing(x: Double(index % columns) * panelWidth, y: Double(index / columns) * panelHeight,
                             width: panelWidth, height: panelHeight, id: "p\(index)")
    }
    return svgDocument(width: panelWidth * Double(columns), height: panelHeight * Double(rows), title: title, body: body)
}

private func svgDocument(width: Double, height: Double, title: String, body: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" \
    font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
    <title>\(escapeHTML(title))</title>
    <rect width="100%" height="100%" fill="#ffffff"/>
    \(body)</svg>

    """
}

/// A coordinate with at most two decimals and no trailing zeros (`12.5`, `3`).
private func f(_ value: Double) -> String {
    guard value.isFinite, abs(value) < 1e9 else { return "0" }
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.2f", rounded)
        .replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
}
