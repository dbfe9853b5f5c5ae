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

/// Where `make test-deps` installs the Python packages the tests' reference checks use
/// (h5py, numpy, scikit-learn): `.assets/pytest-deps`, put on `PYTHONPATH`.
public let pythonTestDependencies: URL = assetsDirectory.appendingPathComponent("pytest-deps")

/// Why `python3` cannot import `modules` (with `pythonTestDependencies` on its path), or
/// nil when it can. Tests skip with this reason.
public func missingPythonModules(_ modules: [String]) -> String? {
    let process = pythonProcess(["-c", "import " + modules.joined(separator: ", ")])
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return "python3 is not available" }
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        return "\(modules.joined(separator: ", ")) not importable; `make test-deps` installs them into "
            + "\(pythonTestDependencies.path) (pip, needs PyPI)"
    }
    return nil
}

/// `python3 arguments…` with `pythonTestDependencies` first on `PYTHONPATH`; the caller runs it.
public func pythonProcess(_ arguments: [String]) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONPATH"] = ([pythonTestDependencies.path] + (environment["PYTHONPATH"].map { [$0] } ?? []))
        .joined(separator: ":")
    process.environment = environment
    return process
}
