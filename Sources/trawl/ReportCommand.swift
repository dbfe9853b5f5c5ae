import ArgumentParser
import Foundation
import Reports

/// `trawl report Results/NAME…`: writes report.html and the SVG figures from a results
/// folder's files, and optionally checks the page.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write Results/NAME/report.html and its SVG figures from the folder's files.",
        discussion: """
            Reads metrics.csv, run.json and, when present, scores.csv, roc.csv, pr.csv, \
            confusion.csv, gallery.csv and embedding.csv; writes roc.svg, pr.svg, scores.svg, \
            sweep_<param>.svg, embedding.svg and report.html beside them. Runs nothing else. \
            With --check, also verifies that every image the page links to exists and decodes \
            (PNGs decode, SVGs parse as XML), and with --screenshot that a rendering of the page \
            is not blank.
            """)

    @Argument(help: "Results folders, e.g. Results/elpv-patchcore-default.")
    var folders: [String]

    @Flag(help: "Check the page's links and images after writing it; fail on any problem.")
    var check = false

    @Option(help: "A PNG rendering of the page (e.g. from headless Chromium) that must not be blank (one folder only).")
    var screenshot: String?

    func validate() throws {
        if screenshot != nil && folders.count != 1 {
            throw ValidationError("--screenshot needs exactly one results folder")
        }
    }

    func run() throws {
        var failed = false
        for folder in folders {
            let url = URL(fileURLWithPath: folder)
            let written = try Report.write(in: url)
            print("\(url.appendingPathComponent("report.html").path): written with \(written.count - 1) figures")
            if check {
                let problems = try Report.problems(in: url)
                problems.forEach { print("problem: \($0)") }
                if problems.isEmpty { print("\(url.path): every linked image exists and decodes") }
                failed = failed || !problems.isEmpty
            }
        }
        if let screenshot { failed = try !ReportCommand.screenshotIsNotBlank(screenshot) || failed }
        if failed { throw ExitCode.failure }
    }

    /// Prints and returns whether the PNG rendering at `path` is not blank.
    static func screenshotIsNotBlank(_ path: String) throws -> Bool {
        let share = try ImageCheck.dominantColourShare(ofImageAt: URL(fileURLWithPath: path))
        let blank = share > blankShare
        print(String(format: "%@: %.1f %% of the pixels have the most common colour: %@", path, share * 100,
                     blank ? "blank" : "not blank"))
        return !blank
    }

    /// A rendering whose most common colour covers more than this share of it is blank.
    static let blankShare = 0.985
}

/// `trawl check-page PAGE [--screenshot PNG]`: the checks of `trawl report --check` on any
/// page Trawl wrote, e.g. `trawl score`'s gallery.html.
struct CheckPageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-page",
        abstract: "Check an HTML page Trawl wrote (e.g. trawl score's gallery.html): links, images and a rendering.",
        discussion: """
            Fails when an image or file the page links to is missing or outside its folder, a PNG \
            does not decode or an SVG does not parse, or the --screenshot rendering is blank.
            """)

    @Argument(help: "The page, e.g. scores/gallery.html.")
    var page: String

    @Option(help: "A PNG rendering of the page (e.g. from headless Chromium) that must not be blank.")
    var screenshot: String?

    func run() throws {
        let problems = try Report.problems(ofPage: URL(fileURLWithPath: page))
        problems.forEach { print("problem: \($0)") }
        if problems.isEmpty { print("\(page): every linked image exists and decodes") }
        var failed = !problems.isEmpty
        if let screenshot { failed = try !ReportCommand.screenshotIsNotBlank(screenshot) || failed }
        if failed { throw ExitCode.failure }
    }
}
