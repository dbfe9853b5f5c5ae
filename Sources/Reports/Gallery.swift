/// An image gallery as static HTML: sections of cards, each an image (a thumbnail or an
/// anomaly-map overlay) with its title, label, score and metadata. No JavaScript and no
/// network: images are relative links to files beside the page. Used by `report.html` and
/// by any page that shows scored images.
public enum Gallery {
    /// One image and what is known about it.
    public struct Card: Equatable, Sendable {
        /// The image file, relative to the page (e.g. `heatmaps/01_good_003.png`).
        public var image: String
        /// A second image shown beside the first (e.g. the anomaly-map overlay of `image`),
        /// relative to the page; the card then spans two grid columns.
        public var overlay: String?
        /// Usually the sample id.
        public var title: String
        /// e.g. `anomalous (broken_large)`; nil when unlabelled.
        public var label: String?
        /// Whether `label` names an anomalous image (the card is marked red); nil when unknown.
        public var isAnomalous: Bool?
        public var score: Double?
        /// Extra facts in order, e.g. `[("depth_m", "812")]`.
        public var metadata: [(name: String, value: String)]

        public init(image: String, overlay: String? = nil, title: String, label: String? = nil,
                    isAnomalous: Bool? = nil, score: Double? = nil, metadata: [(name: String, value: String)] = []) {
            self.image = image
            self.overlay = overlay
            self.title = title
            self.label = label
            self.isAnomalous = isAnomalous
            self.score = score
            self.metadata = metadata
        }

        public static func == (a: Card, b: Card) -> Bool {
            a.image == b.image && a.overlay == b.overlay && a.title == b.title && a.label == b.label && a.isAnomalous == b.isAnomalous
                && a.score == b.score && a.metadata.map(\.name) == b.metadata.map(\.name)
                && a.metadata.map(\.value) == b.metadata.map(\.value)
        }
    }

    /// A heading, an optional note under it (plain text) and a grid of cards.
    public struct Section: Equatable, Sendable {
        public var title: String
        public var note: String?
        public var cards: [Card]

        public init(title: String, note: String? = nil, cards: [Card]) {
            self.title = title
            self.note = note
            self.cards = cards
        }
    }

    /// The CSS the gallery markup needs (class names prefixed `gallery`); a page includes it
    /// once in its `<style>`.
    public static let css = """
        .gallery-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
        .gallery-card { margin: 0; border: 1px solid #d0d0d0; border-radius: 4px; padding: 6px; background: #fff; }
        .gallery-card.anomalous { border-color: #d62728; }
        .gallery-card img { display: block; width: 100%; height: auto; image-rendering: pixelated; background: #eee; }
        .gallery-card.pair { grid-column: span 2; }
        .gallery-pair { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; }
        .gallery-card figcaption { font-size: 12px; line-height: 1.35; margin-top: 4px; overflow-wrap: anywhere; }
        .gallery-title { font-weight: 600; }
        .gallery-label.anomalous { color: #b00; } .gallery-label.normal { color: #1a5fb4; }
        .gallery-score { font-variant-numeric: tabular-nums; }
        .gallery-meta { color: #555; }
        .gallery-empty { color: #555; font-style: italic; }
        """

    /// The sections as an HTML fragment (`<section>` elements, headings at `level`); every
    /// text is escaped and every image path checked to be relative (throws otherwise).
    public static func html(_ sections: [Section], headingLevel level: Int = 3) throws -> String {
        var html = ""
        for section in sections {
            html += "<section class=\"gallery\">\n<h\(level)>\(escapeHTML(section.title))</h\(level)>\n"
            if let note = section.note { html += "<p class=\"gallery-note\">\(escapeHTML(note))</p>\n" }
            if section.cards.isEmpty {
                html += "<p class=\"gallery-empty\">none</p>\n</section>\n"
                continue
            }
            html += "<div class=\"gallery-grid\">\n"
            for card in section.cards { html += try cardHTML(card) }
            html += "</div>\n</section>\n"
        }
        return html
    }

    /// A whole page: `<title>`, a heading, the gallery CSS and the sections. Grid columns
    /// are at least `cardWidth` CSS pixels wide (a card with an overlay spans two): wide
    /// images such as whole modules need more than the default 170 px to be legible.
    public static func page(title: String, intro: String? = nil, sections: [Section], cardWidth: Int = 170) throws -> String {
        let gallery = try html(sections, headingLevel: 2)
        let body = "<h1>\(escapeHTML(title))</h1>\n" + (intro.map { "<p>\(escapeHTML($0))</p>\n" } ?? "") + gallery
        let columns = cardWidth == 170 ? ""
            : "\n.gallery-grid { grid-template-columns: repeat(auto-fill, minmax(\(cardWidth)px, 1fr)); }"
        return htmlDocument(title: title, css: css + columns, body: body)
    }

    /// The column width that shows images `imageWidth` px wide legibly on a 1280 px page:
    /// a third of the image, between 170 and 480 CSS pixels.
    public static func cardWidth(forImageWidth imageWidth: Int) -> Int {
        min(480, max(170, imageWidth / 3))
    }

    private static func cardHTML(_ card: Card) throws -> String {
        let kind = card.isAnomalous.map { $0 ? "anomalous" : "normal" }
        let classes = ["gallery-card"] + (kind == "anomalous" ? ["anomalous"] : []) + (card.overlay == nil ? [] : ["pair"])
        var html = "<figure class=\"\(classes.joined(separator: " "))\">"
        let image = "<img src=\"\(escapeHTML(try relativeLink(card.image)))\" alt=\"\(escapeHTML(card.title))\">"
        if let overlay = card.overlay {
            html += "<div class=\"gallery-pair\">" + image
                + "<img src=\"\(escapeHTML(try relativeLink(overlay)))\" alt=\"anomaly map of \(escapeHTML(card.title))\"></div>"
        } else {
            html += image
        }
        html += "<figcaption><div class=\"gallery-title\">\(escapeHTML(card.title))</div>"
        if let label = card.label {
            html += "<div class=\"gallery-label\(kind.map { " \($0)" } ?? "")\">\(escapeHTML(label))</div>"
        }
        if let score = card.score { html += "<div class=\"gallery-score\">score \(formatNumber(score))</div>" }
        for (name, value) in card.metadata {
            html += "<div class=\"gallery-meta\">\(escapeHTML(name)): \(escapeHTML(value))</div>"
        }
        return html + "</figcaption></figure>\n"
    }
}
