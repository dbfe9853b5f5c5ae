import Foundation

/// Text for HTML: `&`, `<`, `>`, `"` and `'` become character references, so the text is
/// safe both between tags and inside quoted attribute values. Also serves SVG (XML).
public func escapeHTML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.append(character)
        }
    }
    return escaped
}

/// Why a report or gallery could not be made: names the file (or link) and the problem.
public struct ReportError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A link from a page to a file beside it: a relative path with `/` separators, no `..`
/// step and no scheme, percent-encoded for an `href` or `src` attribute (spaces, `#`, `?`,
/// `%` and non-ASCII characters encoded; `/` kept).
public func relativeLink(_ path: String) throws -> String {
    let components = path.split(separator: "/", omittingEmptySubsequences: false)
    guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\\"), !path.contains(":"),
          !components.contains(where: { $0 == ".." || $0.isEmpty }) else {
        throw ReportError("\(path): not a relative path inside the page's folder (links must not be absolute or use ..)")
    }
    return path.addingPercentEncoding(withAllowedCharacters: unreservedOrSlash)!
}

/// RFC 3986's unreserved characters (ASCII letters, digits, `-._~`) and `/`.
private let unreservedOrSlash = CharacterSet(
    charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")

/// A complete HTML5 document: UTF-8, a viewport for phones, `title` (escaped), the `css`
/// rules and `body` (HTML, inserted as is). Pages share the base style: a sans-serif text
/// column at most 1240 px wide.
func htmlDocument(title: String, css: String, body: String) -> String {
    """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>\(escapeHTML(title))</title>
    <style>
    body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px auto; padding: 0 24px; color: #222; max-width: 1240px; line-height: 1.45; }
    \(css)
    </style>
    </head>
    <body>
    \(body)</body>
    </html>

    """
}
