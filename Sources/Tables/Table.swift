import Foundation

/// A tidy table of text cells, rendered as CSV (RFC 4180) or as a Markdown table.
public struct Table: Equatable, Sendable {
    /// Column names, snake_case.
    public var header: [String]
    public private(set) var rows: [[String]] = []

    public init(header: [String]) {
        self.header = header
    }

    public mutating func append(_ row: [String]) {
        precondition(row.count == header.count, "row of \(row.count) cells for \(header.count) columns")
        rows.append(row)
    }

    /// Comma-separated, `\n` line ends; cells holding `,`, `"`, CR or LF are quoted.
    public var csv: String {
        func quoted(_ cell: String) -> String {
            guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
            return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return ([header] + rows).map { $0.map(quoted).joined(separator: ",") + "\n" }.joined()
    }

    /// A GitHub-flavoured Markdown table (`|` in cells escaped).
    public var markdown: String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        return line(header) + line(header.map { _ in "---" }) + rows.map(line).joined()
    }
}

/// A score or metric as a table cell: Swift's shortest round-trip form, so the text reads
/// back to the same bits (`0.1`, `3.5e-05`); `nan` for NaN.
public func cell(_ value: Double) -> String {
    value.isNaN ? "nan" : "\(value)"
}

public func cell(_ value: Float) -> String {
    value.isNaN ? "nan" : "\(value)"
}
