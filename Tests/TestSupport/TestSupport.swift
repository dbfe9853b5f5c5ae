import Foundation
import Tensors

/// Where test fixtures live: `Tests/Fixtures` in this repository.
public let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The repository root.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `../shared` beside the repository, or nil (with a printed reason) when absent.
///
/// Tests that need it call `try XCTSkipIf(sharedDirectory == nil, ...)`.
public let sharedDirectory: URL? = {
    let url = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
    guard FileManager.default.fileExists(atPath: url.appendingPathComponent("README.md").path) else {
        print("note: \(url.path) is absent; tests that need ../shared are skipped")
        return nil
    }
    return url
}()

/// Registry assets fetched by `make setup` (`.assets/` in the repository).
public let assetsDirectory: URL = repositoryRoot.appendingPathComponent(".assets")
