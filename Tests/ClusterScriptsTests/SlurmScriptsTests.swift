@testable import ClusterScripts
import Foundation
import XCTest

final class SlurmScriptsTests: XCTestCase {
    private func scripts(spec: String = "Experiments/mvtec-grid-patchcore.json", folder: String = "/work/slurm/grid",
                         partition: String? = nil) -> SlurmScripts {
        SlurmScripts(name: "grid", spec: spec, shards: 4, trawl: "/opt/trawl/bin/trawl", workingDirectory: "/work",
                     folder: folder, cache: ".cache/embeddings", assets: ".assets", results: "Results",
                     partition: partition, time: "1:00:00", memory: "8G", cpusPerTask: 2)
    }

    /// The lines that are not comments or blank.
    private func commands(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.isEmpty && (!$0.hasPrefix("#") || $0.hasPrefix("#!")
                                                                               || $0.hasPrefix("#SBATCH")) }
    }

    func testExtractIsAnArrayOfOneShardPerTask() {
        XCTAssertEqual(commands(scripts(partition: "gpu").extract), [
            "#!/bin/bash",
            "#SBATCH --job-name=trawl-extract-grid",
            "#SBATCH --array=0-3",
            "#SBATCH --chdir=/work",
            "#SBATCH --output=/work/slurm/grid/extract-%A_%a.out",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=1:00:00",
            "#SBATCH --mem=8G",
            "#SBATCH --cpus-per-task=2",
            "set -euo pipefail",
            "exec /opt/trawl/bin/trawl extract Experiments/mvtec-grid-patchcore.json --shard \"$SLURM_ARRAY_TASK_ID/4\" \\",
            "    --cache .cache/embeddings --assets .assets --quiet",
        ])
    }

    func testFitScoreMergesShardsAndIsKilledOnAFailedDependency() {
        XCTAssertEqual(commands(scripts().fitScore), [
            "#!/bin/bash",
            "#SBATCH --job-name=trawl-fit-score-grid",
            "#SBATCH --kill-on-invalid-dep=yes",
            "#SBATCH --chdir=/work",
            "#SBATCH --output=/work/slurm/grid/fit-score-%j.out",
            "#SBATCH --time=1:00:00",
            "#SBATCH --mem=8G",
            "#SBATCH --cpus-per-task=2",
            "set -euo pipefail",
            "exec /opt/trawl/bin/trawl run Experiments/mvtec-grid-patchcore.json --feature-shards 4 --coreset-shards 4 \\",
            "    --cache .cache/embeddings --assets .assets --results Results --quiet",
        ])
    }

    func testPathsAreQuotedForBash() throws {
        XCTAssertEqual(quoted("Experiments/a-b_c.json"), "Experiments/a-b_c.json")
        XCTAssertEqual(quoted("my specs/it's.json"), "'my specs/it'\\''s.json'")
        XCTAssertEqual(quoted("$HOME"), "'$HOME'")
        XCTAssertEqual(quoted(""), "''")
        // bash reads the written scripts back (syntax) and their words (echo instead of trawl).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trawl-slurm-\(UUID().uuidString)/s p")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        var odd = scripts(spec: "my specs/it's.json", folder: folder.path)
        odd.trawl = "/bin/echo"
        let (extract, fitScore) = try odd.write()
        for url in [extract, fitScore] {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o755)
        }
        XCTAssertEqual(try bash(extract, environment: ["SLURM_ARRAY_TASK_ID": "2"]),
                       "extract my specs/it's.json --shard 2/4 --cache .cache/embeddings --assets .assets --quiet\n")
        XCTAssertEqual(try bash(fitScore, environment: [:]),
                       "run my specs/it's.json --feature-shards 4 --coreset-shards 4 --cache .cache/embeddings "
                       + "--assets .assets --results Results --quiet\n")
    }

    /// What `bash script` prints.
    private func bash(_ script: URL, environment: [String: String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path]
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return output
    }
}
