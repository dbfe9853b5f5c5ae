import Foundation
import Tables

/// The HTML of `report.html`: header, dataset, provenance, metrics, figures, galleries.
struct ReportPage {
    var results: ResultsFolder
    /// Figure files beside the page and their captions, in page order.
    var figures: [(file: String, caption: String)]

    var html: String {
        get throws {
            let run = results.run
            var body = "<h1>\(escapeHTML(results.name))</h1>\n"
            if let description = results.description { body += "<p class=\"description\">\(escapeHTML(description))</p>\n" }
            if let headline = run["headline"] as? [String: Any], let metric = headline["metric"] as? String,
               let value = (headline["value"] as? NSNumber)?.doubleValue {
                let point = (headline["point"] as? NSNumber)?.intValue ?? 0
                body += "<p class=\"headline\">\(escapeHTML(ResultsFolder.metricNames[metric] ?? metric)) "
                    + "<strong>\(String(format: "%.4f", value))</strong>"
                    + ((results.metrics?.rows.count ?? 0) > 1 ? " at \(escapeHTML(results.describe(point: point)))" : "") + "</p>\n"
            }
            body += contents
            body += datasetSection
            body += provenanceSection
            body += metricsSection
            body += figuresSection
            body += try gallerySection
            body += filesSection
            return htmlDocument(title: "\(results.name) — Trawl report", css: """
                h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
                .description { color: #444; margin-top: 0; } .headline { font-size: 18px; }
                nav { font-size: 14px; } nav a { margin-right: 12px; }
                table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
                th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
                th { background: #f4f4f4; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
                tr.best td { background: #fff6d5; font-weight: 600; }
                .scroll { overflow-x: auto; max-height: 640px; overflow-y: auto; }
                .figures { display: flex; flex-wrap: wrap; gap: 16px; }
                .figures figure { margin: 0; flex: 0 1 600px; } .figures figure.wide { flex-basis: 100%; }
                .figures img { width: 100%; max-width: 600px; height: auto; border: 1px solid #eee; }
                .figures figure.wide img { max-width: 1120px; }
                figcaption { font-size: 13px; color: #444; }
                .note { color: #555; font-size: 14px; }
                \(Gallery.css)
                """, body: body)
        }
    }

    private var contents: String {
        let links = [("dataset", "Dataset"), ("provenance", "Provenance"), ("metrics", "Metrics"), ("figures", "Figures"),
                     ("galleries", "Galleries"), ("files", "Files")]
        return "<nav>" + links.map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined() + "</nav>\n"
    }

    // MARK: Dataset

    private var datasetSection: String {
        var html = "<h2 id=\"dataset\">Dataset</h2>\n"
        guard let dataset = results.run["dataset"] as? [String: Any],
              let counts = dataset["counts"] as? [String: [String: NSNumber]] else {
            return html + "<p class=\"note\">run.json is absent or has no dataset counts.</p>\n"
        }
        let kinds = dataset["kinds"] as? [String: [String: NSNumber]] ?? [:]
        html += "<table><tr><th>split</th><th>normal</th><th>anomalous</th><th>by label</th></tr>\n"
        for split in ["train", "test"] + counts.keys.sorted().filter({ $0 != "train" && $0 != "test" }) where counts[split] != nil {
            let labels = counts[split]!.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            html += "<tr><td>\(escapeHTML(split))</td><td class=\"number\">\(kinds[split]?["normal"]?.intValue ?? 0)</td>"
                + "<td class=\"number\">\(kinds[split]?["anomalous"]?.intValue ?? 0)</td><td>\(escapeHTML(labels))</td></tr>\n"
        }
        html += "</table>\n"
        let excluded = (dataset["excluded"] as? [[String: Any]] ?? []).compactMap { entry -> String? in
            guard let reason = entry["reason"] as? String, let count = (entry["count"] as? NSNumber)?.intValue else { return nil }
            return "\(escapeHTML(reason)): \(count) excluded"
        }
        html += excluded.isEmpty ? "<p>No samples were excluded.</p>\n"
            : "<p>Excluded:</p><ul>" + excluded.map { "<li>\($0)</li>" }.joined() + "</ul>\n"
        return html
    }

    // MARK: Provenance

    private var provenanceSection: String {
        let run = results.run
        var html = "<h2 id=\"provenance\">Provenance</h2>\n"
        guard !run.isEmpty else { return html + "<p class=\"note\">run.json is absent.</p>\n" }
        var rows = [(String, String)]()
        if let git = run["git"] as? [String: Any], let sha = git["sha"] as? String {
            rows.append(("git", sha + ((git["dirty"] as? Bool) == true ? " (uncommitted changes)" : "")))
        } else {
            rows.append(("git", "not in a git work tree"))
        }
        if let spec = run["spec"] as? [String: Any] {
            rows.append(("spec", "\(spec["path"] as? String ?? "") (SHA-256 \(spec["sha256"] as? String ?? ""))"))
        }
        if let seed = run["seed"] as? NSNumber { rows.append(("seed", seed.stringValue)) }
        if let rule = run["threshold_rule"] as? String { rows.append(("threshold rule", rule)) }
        if let backbone = run["backbone"] as? [String: Any] {
            let taps = (backbone["taps"] as? [String] ?? []).joined(separator: ", ")
            rows.append(("backbone", "\(backbone["name"] as? String ?? "") (taps \(taps); resize \(backbone["resize"] ?? ""), "
                         + "input \(backbone["input_size"] ?? ""))"))
            rows.append(("weights", "\(backbone["weights"] as? String ?? "") (SHA-256 \(backbone["weights_sha256"] as? String ?? ""))"))
        }
        if let grid = run["grid_points"] as? NSNumber { rows.append(("grid points", grid.stringValue)) }
        if let cache = run["cache"] as? [String: Any] {
            rows.append(("embedding cache", "\(cache["hits"] ?? 0) images from the cache, \(cache["misses"] ?? 0) computed"))
        }
        if let stages = run["stages"] as? [[String: Any]] {
            let text = stages.compactMap { stage -> String? in
                guard let name = stage["name"] as? String, let seconds = (stage["seconds"] as? NSNumber)?.doubleValue else { return nil }
                return "\(name) \(String(format: "%.1f", seconds)) s"
            }.joined(separator: "; ")
            rows.append(("timings", text))
        }
        if let wall = (run["wall_seconds"] as? NSNumber)?.doubleValue { rows.append(("wall time", String(format: "%.1f s", wall))) }
        if let peak = (run["peak_memory_bytes"] as? NSNumber)?.doubleValue {
            rows.append(("peak memory", String(format: "%.0f MiB", peak / 1_048_576)))
        }
        if let started = run["started_at"] as? String { rows.append(("started", started)) }
        let tool = [run["tool_version"] as? String, run["swift_version"] as? String, run["os"] as? String].compactMap { $0 }
        if !tool.isEmpty { rows.append(("software", tool.joined(separator: "; "))) }
        if let libraries = run["libraries"] as? [String: String] {
            rows.append(("libraries", libraries.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        }
        html += "<table>\n" + rows.map { "<tr><th>\(escapeHTML($0.0))</th><td>\(escapeHTML($0.1))</td></tr>\n" }.joined()
        return html + "</table>\n"
    }

    // MARK: Metrics

    private var metricsSection: String {
        var html = "<h2 id=\"metrics\">Metrics</h2>\n"
        guard let metrics = results.metrics else { return html + "<p class=\"note\">metrics.csv is absent.</p>\n" }
        let metricColumns = Set(results.metricColumns)
        let shown = metrics.header.filter { results.sweptParameters.contains($0) || metricColumns.contains($0)
            || ["point", "threshold", "bank_size", "index_recall_at_1", "fit_seconds", "score_seconds",
                "index_build_seconds", "index_search_seconds", "exact_search_seconds"].contains($0) }
        let best = results.bestPoint.map(String.init)
        html += "<div class=\"scroll\"><table>\n<tr>" + shown.map { "<th>\(escapeHTML($0))</th>" }.joined() + "</tr>\n"
        for row in metrics.records() {
            html += "<tr\(row["point"] == best && metrics.rows.count > 1 ? " class=\"best\"" : "")>"
            for name in shown {
                let cell = row[name] ?? ""
                let number = Double(cell)
                let text = metricColumns.contains(name) ? number.map { String(format: "%.4f", $0) } ?? cell
                    : name == "threshold" ? number.map(formatNumber) ?? cell : cell
                html += "<td\(number != nil ? " class=\"number\"" : "")>\(escapeHTML(text))</td>"
            }
            html += "</tr>\n"
        }
        html += "</table></div>\n"
        let fixed = results.parameterColumns.filter { !results.sweptParameters.contains($0) }
        if !fixed.isEmpty, let first = metrics.records().first {
            html += "<p class=\"note\">Fixed parameters: "
                + escapeHTML(fixed.map { "\($0)=\(first[$0] ?? "")" }.joined(separator: ", ")) + ".</p>\n"
        }
        if metrics.rows.count > 1 { html += "<p class=\"note\">The highlighted row is the best grid point by the headline metric; figures and galleries show it.</p>\n" }
        return html
    }

    // MARK: Figures

    private var figuresSection: String {
        var html = "<h2 id=\"figures\">Figures</h2>\n"
        guard !figures.isEmpty else {
            return html + "<p class=\"note\">No curves or scores in this folder (committed baselines keep only metrics.csv, "
                + "metrics.md and run.json); run the experiment to draw them.</p>\n"
        }
        html += "<div class=\"figures\">\n"
        for figure in figures {
            let wide = figure.file == "embedding.svg"
            html += "<figure\(wide ? " class=\"wide\"" : "")><a href=\"\(escapeHTML(figure.file))\"><img src=\"\(escapeHTML(figure.file))\" "
                + "alt=\"\(escapeHTML(figure.file))\"></a><figcaption>\(escapeHTML(figure.caption))</figcaption></figure>\n"
        }
        var missing = [String]()
        if results.embedding == nil { missing.append("embedding.csv is absent, so there is no embedding map") }
        if results.scores == nil { missing.append("scores.csv is absent, so there are no score histograms") }
        html += "</div>\n"
        if !missing.isEmpty { html += "<p class=\"note\">" + escapeHTML(missing.joined(separator: "; ")) + ".</p>\n" }
        return html
    }

    // MARK: Galleries

    /// Section titles and notes for gallery.csv's `section` values, in page order.
    static let gallerySections: [(key: String, title: String, note: String)] = [
        ("most_anomalous", "Most anomalous test images", "Highest scores first."),
        ("least_anomalous", "Least anomalous test images", "Lowest scores first."),
        ("false_positives", "False positives", "Normal test images at or above the threshold, highest score first."),
        ("false_negatives", "False negatives", "Anomalous test images below the threshold, lowest score first."),
    ]

    private var gallerySection: String {
        get throws {
            var html = "<h2 id=\"galleries\">Galleries</h2>\n"
            guard let gallery = results.gallery else {
                return html + "<p class=\"note\">gallery.csv is absent; run the experiment to pick and draw gallery images.</p>\n"
            }
            let scored = Dictionary(results.bestScores.filter { $0.split == "test" }.map { ($0.id, $0) },
                                    uniquingKeysWith: { first, _ in first })
            let picks = gallery.records()
            let scales = Set(picks.compactMap { row -> String? in
                guard let low = row["scale_min"], let high = row["scale_max"], !low.isEmpty else { return nil }
                return "\(low) \(high)"
            })
            if scales.count == 1, let pick = picks.first(where: { !($0["scale_min"] ?? "").isEmpty }),
               let low = Double(pick["scale_min"]!), let high = Double(pick["scale_max"]!) {
                html += "<p>All anomaly maps share one colour scale: \(formatNumber(low)) (dark blue) to \(formatNumber(high)) "
                    + "(dark red), shown by the bar under each map. Images without a map show the network's view of the image.</p>\n"
            } else if scales.count > 1 {
                html += "<p>Anomaly maps do not share one scale: each card states its own range, also shown by the bar under the map.</p>\n"
            } else {
                html += "<p>This scorer gives one score per image and no anomaly map: the cards show the network's view of each image.</p>\n"
            }
            if let threshold = results.threshold {
                html += "<p class=\"note\">Threshold \(formatNumber(threshold.value)) (\(escapeHTML(threshold.rule))).</p>\n"
            }
            var sections = [Gallery.Section]()
            for (key, title, note) in Self.gallerySections {
                let rows = picks.filter { $0["section"] == key }.sorted { (Int($0["rank"] ?? "") ?? 0) < (Int($1["rank"] ?? "") ?? 0) }
                let cards = rows.map { row -> Gallery.Card in
                    let image = scored[row["id"] ?? ""]
                    // Long decimals (0.6666666666666666) shortened to 4 significant digits.
                    var metadata = (image?.metadata ?? []).map { name, value in
                        (name: name, value: value.count > 8 && Double(value) != nil ? formatNumber(Double(value)!) : value)
                    }
                    if scales.count > 1, let low = row["scale_min"].flatMap(Double.init), let high = row["scale_max"].flatMap(Double.init) {
                        metadata.append(("map scale", "\(formatNumber(low)) – \(formatNumber(high))"))
                    }
                    let label = image.map { ($0.anomalous ? "anomalous" : "normal") + ($0.detail.isEmpty ? "" : " (\($0.detail))") }
                    return Gallery.Card(image: row["file"] ?? "", title: row["id"] ?? "", label: label,
                                        isAnomalous: image?.anomalous, score: image?.score, metadata: metadata)
                }
                if key.hasPrefix("false") && cards.isEmpty && results.threshold == nil { continue }
                sections.append(Gallery.Section(title: "\(title) (\(cards.count))", note: note, cards: cards))
            }
            return html + (try Gallery.html(sections))
        }
    }

    // MARK: Files

    private var filesSection: String {
        let files = ["metrics.csv", "metrics.md", "scores.csv", "roc.csv", "pr.csv", "confusion.csv", "run.json",
                     "gallery.csv", "embedding.csv"].filter(results.has)
        return "<h2 id=\"files\">Files</h2>\n<p>" + files.map { "<a href=\"\($0)\">\($0)</a>" }.joined(separator: " · ")
            + "</p>\n<p class=\"note\">Written by Trawl from this folder's files; <code>trawl report "
            + "\(escapeHTML(results.url.lastPathComponent))</code> under the results folder writes it again.</p>\n"
    }
}
