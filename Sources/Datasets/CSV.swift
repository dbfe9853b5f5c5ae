import FileErrors
import Foundation

/// A comma-separated table as RFC 4180 defines it: fields separated by `,`, records by
/// CRLF or LF, fields optionally enclosed in `"` (then holding commas, line breaks and
/// `""` for a quote). The first record is the header. A UTF-8 byte-order mark is skipped.
struct CSVTable {
    var header: [String]
    /// Records after the header, each with the 1-based line on which it starts.
    var records: [(line: Int, fields: [String])]

    init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.malformed(url, "cannot read: \(FileErrorDescription.reason(error))")
        }
        guard var text = String(data: data, encoding: .utf8) else { throw DatasetError.malformed(url, "not UTF-8 text") }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var records = try Self.parse(text, url: url)
        guard !records.isEmpty else { throw DatasetError.malformed(url, "no header line") }
        header = records.removeFirst().fields
        if let duplicate = Dictionary(grouping: header, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw DatasetError.malformed(url, "column \"\(duplicate)\" appears twice in the header")
        }
        for record in records where record.fields.count != header.count {
            throw DatasetError.malformed(url, "line \(record.line): \(record.fields.count) fields, header has \(header.count)")
        }
        self.records = records
    }

    private static func parse(_ text: String, url: URL) throws -> [(line: Int, fields: [String])] {
        var records = [(line: Int, fields: [String])]()
        var fields = [String]()
        var field = ""
        var line = 1
        var recordLine = 1
        var quoted = false       // inside a quoted field
        var wasQuoted = false    // the current field was quoted (only a separator may follow)
        var characters = text.unicodeScalars.makeIterator()
        var pending = characters.next()

        func endField() { fields.append(field); field = ""; wasQuoted = false }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
            fields = []
        }

        while let c = pending {
            pending = characters.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { field.unicodeScalars.append("\""); pending = characters.next() } else { quoted = false; wasQuoted = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",": endField()
            case "\r" where pending == "\n": continue
            case "\n", "\r": endRecord(); line += 1; recordLine = line
            case "\"" where field.isEmpty && !wasQuoted: quoted = true
            default:
                if wasQuoted || c == "\"" {
                    throw DatasetError.malformed(url, "line \(line): stray quote in field \"\(field)\(c)\" (RFC 4180 quoting)")
                }
                field.unicodeScalars.append(c)
            }
        }
        if quoted { throw DatasetError.malformed(url, "line \(recordLine): quoted field not closed before end of file") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        return records
    }
}
