/// A static HTML page of image cards in titled sections: each card shows an image, an
/// optional overlay beside it, a title, a score and metadata. No JavaScript; links are the
/// relative paths given, so the page and its images move together; all text is HTML-escaped.
public struct Gallery: Sendable {
    /// One image with what a reader needs to judge it.
    public struct Card: Sendable {
        public var title: String
        /// Relative path of the image (e.g. the network's view of it).
        public var image: String
        /// Relative path of its anomaly-map overlay, when there is one.
        public var overlay: String?
        /// The headline figure, e.g. `score 2.8131 (0.99)`.
        public var score: String
        /// Name–value pairs shown under the images, in this order.
        public var metadata: [(name: String, value: String)]

        public init(title: String, image: String, overlay: String? = nil, score: String,
                    metadata: [(name: String, value: String)] = []) {
            self.title = title
            self.image = image
            self.overlay = overlay
            self.score = score
            self.metadata = metadata
        }
    }

    /// A heading, a sentence saying what the cards are, and the cards.
    public struct Section: Sendable {
        public var heading: String
        public var note: String
        public var cards: [Card]

        public init(heading: String, note: String = "", cards: [Card]) {
            self.heading = heading
            self.note = note
            self.cards = cards
        }
    }

    public var title: String
    /// Lines under the title (what was scored, with which model).
    public var summary: [String]
    public var sections: [Section]

    public init(title: String, summary: [String] = [], sections: [Section]) {
        self.title = title
        self.summary = summary
        self.sections = sections
    }

    /// The page, UTF-8 HTML5.
    public var html: String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escaped(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
            h1 { font-size: 1.4em; margin-bottom: 0.2em; }
            h2 { font-size: 1.15em; margin-top: 1.5em; border-bottom: 1px solid #ccc; }
            .summary { color: #555; margin: 0.1em 0; }
            .cards { display: flex; flex-wrap: wrap; gap: 12px; }
            .card { border: 1px solid #ddd; border-radius: 4px; padding: 8px; background: #fafafa; }
            .card img { width: 224px; height: auto; image-rendering: pixelated; display: block; }
            .images { display: flex; gap: 4px; }
            .title { font-weight: 600; margin: 4px 0 2px; max-width: 452px; overflow-wrap: anywhere; }
            .score { font-family: ui-monospace, monospace; }
            table { font-size: 0.85em; border-collapse: collapse; }
            td { padding: 0 6px 0 0; vertical-align: top; }
            td:first-child { color: #666; }
            </style>
            </head>
            <body>
            <h1>\(escaped(title))</h1>

            """
        for line in summary { page += "<p class=\"summary\">\(escaped(line))</p>\n" }
        for section in sections {
            page += "<h2>\(escaped(section.heading))</h2>\n"
            if !section.note.isEmpty { page += "<p class=\"summary\">\(escaped(section.note))</p>\n" }
            page += "<div class=\"cards\">\n"
            for card in section.cards { page += html(card) }
            page += "</div>\n"
        }
        return page + "</body>\n</html>\n"
    }

    private func html(_ card: Card) -> String {
        var text = "<div class=\"card\">\n<div class=\"images\">"
        text += "<a href=\"\(escaped(card.image))\"><img src=\"\(escaped(card.image))\" alt=\"\(escaped(card.title))\"></a>"
        if let overlay = card.overlay {
            text += "<a href=\"\(escaped(overlay))\"><img src=\"\(escaped(overlay))\" alt=\"anomaly map of \(escaped(card.title))\"></a>"
        }
        text += "</div>\n<div class=\"title\">\(escaped(card.title))</div>\n"
        text += "<div class=\"score\">\(escaped(card.score))</div>\n"
        if !card.metadata.isEmpty {
            text += "<table>" + card.metadata.map { "<tr><td>\(escaped($0.name))</td><td>\(escaped($0.value))</td></tr>" }
                .joined() + "</table>\n"
        }
        return text + "</div>\n"
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` as character references.
func escaped(_ text: String) -> String {
    var out = ""
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
