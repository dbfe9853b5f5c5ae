import Foundation
import Tables

/// `report.html` and its SVG figures for one results folder, made from the folder's files
/// alone (a pure function of them): `trawl run` writes it, `trawl report Results/NAME`
/// writes it again. The page needs no JavaScript and no network; its images are the SVGs
/// and PNGs beside it.
public enum Report {
    /// Writes `report.html` and the figures (`roc.svg`, `pr.svg`, `scores.svg`,
    /// `sweep_<param>.svg`, `embedding.svg`) into `folder`, each through a temporary file
    /// and a rename; returns the names written, the page last.
    @discardableResult
    public static func write(in folder: URL) throws -> [String] {
        let results = try ResultsFolder(url: folder)
        var figures = [(file: String, caption: String, svg: String)]()
        if let plot = results.rocPlot {
            figures.append(("roc.svg", "ROC curves (roc.csv).", plot.svg()))
        }
        if let plot = results.precisionRecallPlot {
            figures.append(("pr.svg", "Precision–recall curves (pr.csv).", plot.svg()))
        }
        if let plot = results.scoresPlot {
            figures.append(("scores.svg", "Score distributions of the best grid point, each group normalised to "
                            + "sum 1 (scores.csv); the dashed line is the decision threshold.", plot.svg()))
        }
        for (parameter, plot) in results.sweepPlots {
            figures.append(("sweep_\(fileSafeName(parameter)).svg", "Every metric against \(parameter) (metrics.csv).", plot.svg()))
        }
        let embedding = results.embeddingPlots
        if !embedding.isEmpty {
            figures.append(("embedding.svg", "Image embeddings (embedding.csv), coloured by split and label.",
                            svgFigure(embedding, title: "Image embeddings — \(results.name)")))
        }
        for figure in figures {
            try writeAtomically(Data(figure.svg.utf8), to: folder.appendingPathComponent(figure.file))
        }
        let page = try ReportPage(results: results, figures: figures.map { (file: $0.file, caption: $0.caption) }).html
        try writeAtomically(Data(page.utf8), to: folder.appendingPathComponent("report.html"))
        return figures.map(\.file) + ["report.html"]
    }

    /// Problems with `report.html` in `folder` (see ``problems(ofPage:)``); throws when there
    /// is no report.
    public static func problems(in folder: URL) throws -> [String] {
        let page = folder.appendingPathComponent("report.html")
        guard FileManager.default.fileExists(atPath: page.path) else {
            throw ReportError("\(page.path): no report (run `trawl report \(folder.path)`)")
        }
        return try problems(ofPage: page)
    }

    /// Problems with the HTML page `page` (a report, `trawl score`'s gallery): every `src`
    /// and local `href` must name an existing file inside the page's folder, PNGs must
    /// decode and SVGs must parse as XML. Empty when the page is sound.
    public static func problems(ofPage page: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: page.path) else {
            throw ReportError("\(page.path): no such page")
        }
        let folder = page.deletingLastPathComponent()
        var problems = [String]()
        var seen = Set<String>()
        for link in links(in: String(decoding: data, as: UTF8.self)) where seen.insert(link).inserted {
            guard let path = link.removingPercentEncoding, (try? relativeLink(path)) != nil else {
                problems.append("\(page.path): link \(link) is not a relative path inside the folder")
                continue
            }
            let file = folder.appendingPathComponent(path)
            guard let bytes = FileManager.default.contents(atPath: file.path) else {
                problems.append("\(page.path): \(link) does not exist")
                continue
            }
            if path.hasSuffix(".png"), let reason = ImageCheck.undecodable(bytes, source: file.path) {
                problems.append("\(file.path): \(reason)")
            }
            if path.hasSuffix(".svg"), let reason = ImageCheck.malformedXML(bytes) {
                problems.append("\(file.path): not well-formed SVG (\(reason))")
            }
        }
        return problems
    }

    /// The `src` and `href` values of `html` that point at local files (no scheme, no `#`).
    static func links(in html: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: #"(?:src|href)="([^"]*)""#)
        let range = NSRange(html.startIndex..., in: html)
        return pattern.matches(in: html, range: range).compactMap { match in
            let value = String(html[Range(match.range(at: 1), in: html)!])
            return value.hasPrefix("#") || value.contains("://") || value.hasPrefix("mailto:") ? nil : value
        }
    }
}

/// `name` as one file name: characters other than letters, digits, `-` and `.` (path
/// separators among them) become `_`.
public func fileSafeName(_ name: String) -> String {
    String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
}

/// Writes `data` to a temporary file beside `url` and renames it over `url`, so a reader
/// never sees a half-written file.
func writeAtomically(_ data: Data, to url: URL) throws {
    do {
        try data.write(to: url, options: .atomic)
    } catch {
        throw ReportError("\(url.path): cannot write (\(error.localizedDescription))")
    }
}
