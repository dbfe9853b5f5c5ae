import Foundation

/// Why a CSV file could not be read as a table: names the file and line.
public struct CSVError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension Table {
    /// Reads CSV as `Table.csv` writes it (RFC 4180: a header line, cells quoted with `"`
    /// when they hold `,`, `"` or a line break, `""` for a quote inside quotes). `file`
    /// names the source in errors. Every row must have as many cells as the header.
    public init(csv text: String, file: String) throws {
        var records = [[String]]()
        var record = [String]()
        var cell = ""
        var quoted = false
        var afterQuote = false
        var line = 1
        var characters = text.makeIterator()
        var pending: Character? = nil

        func endRecord() {
            record.append(cell)
            records.append(record)
            record = []
            cell = ""
        }

        while let c = pending ?? characters.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { cell.append("\"") } else { quoted = false; afterQuote = true; pending = next }
                    } else {
                        quoted = false; afterQuote = true
                    }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    cell.append(c)
                }
                continue
            }
            switch c {
            case ",":
                record.append(cell)
                cell = ""
                afterQuote = false
            case "\n", "\r\n", "\r":
                endRecord()
                afterQuote = false
                line += 1
            case "\"" where cell.isEmpty && !afterQuote:
                quoted = true
            default:
                if afterQuote {
                    throw CSVError("\(file): line \(line): text after a closing quote")
                }
                cell.append(c)
            }
        }
        if quoted { throw CSVError("\(file): line \(line): unclosed quote") }
        if !cell.isEmpty || !record.isEmpty || afterQuote { endRecord() }

        guard let header = records.first, !(header.count == 1 && header[0].isEmpty) else {
            throw CSVError("\(file): empty file (expected a header line)")
        }
        self.init(header: header)
        for (index, row) in records.dropFirst().enumerated() {
            guard row.count == header.count else {
                throw CSVError("\(file): line \(index + 2): \(row.count) cells for \(header.count) columns")
            }
            append(row)
        }
    }

    /// Reads the CSV file at `url`; `file` names it in errors (default: its path).
    public init(contentsOf url: URL, file: String? = nil) throws {
        let file = file ?? url.path
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CSVError("\(file): cannot read the file")
        }
        try self.init(csv: String(decoding: data, as: UTF8.self), file: file)
    }
}
